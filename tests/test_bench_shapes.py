"""The bench's chained site shape, its Python server's limits and the Scrapy spider's label reader
(which needs BeautifulSoup, a dev dependency, but not Scrapy). Small sites only: a second or two."""

from __future__ import annotations

import re
import threading
import urllib.request
from pathlib import Path

import pytest

bs4 = pytest.importorskip("bs4")

from bench import pyserver, sitegen  # noqa: E402
from bench.scrapy_spider import MIN_PAIRS, in_scope, read_page, scope_of  # noqa: E402


def _links(page: str) -> list[str]:
    return re.findall(r'href="(/projektbanken/[^"]*)"', page)


def test_chained_shape_links_ten_projects_and_only_the_next_page(tmp_path: Path) -> None:
    summary = sitegen.generate(tmp_path / "site", 25, seed=3, shape="chained")
    assert (summary["shape"], summary["listing_pages"], summary["projects_per_listing"]) == ("chained", 3, 10)
    listings = tmp_path / "site" / "projektbanken"
    first = (listings / "index.html").read_text(encoding="utf-8")
    assert [link for link in _links(first) if "/projekt/" in link] == [
        f"/projektbanken/projekt/{n}.html" for n in range(1, 11)
    ]
    assert [link for link in _links(first) if "/projekt/" not in link and link != "/projektbanken/"] == [
        "/projektbanken/sida-2.html"
    ]
    assert ">Nästa sida</a>" in first
    last = (listings / "sida-3.html").read_text(encoding="utf-8")
    assert [link for link in _links(last) if "/projekt/" in link] == [
        f"/projektbanken/projekt/{n}.html" for n in range(21, 26)
    ]
    assert "Nästa sida" not in last and "sida-4" not in last
    # The project pages are those of the paged shape (same generator, same seed), about 30-60 KB each.
    assert (listings / "projekt" / "7.html").read_text(encoding="utf-8") == sitegen.project_page(7, 3).html
    assert 25_000 < summary["bytes_median"] < 65_000


def test_paged_shape_is_unchanged(tmp_path: Path) -> None:
    summary = sitegen.generate(tmp_path / "site", 60, seed=1)
    assert (summary["shape"], summary["listing_pages"]) == ("paged", 2)
    page = (tmp_path / "site" / "projektbanken" / "index.html").read_text(encoding="utf-8")
    assert len([link for link in _links(page) if "/projekt/" in link]) == 50 and ">Nästa</a>" in page
    with pytest.raises(ValueError):
        sitegen.generate(tmp_path / "other", 10, shape="spiral")


@pytest.mark.parametrize("family,variant", [(f, v) for f, v, _ in sitegen.FAMILIES])
def test_spider_reads_the_label_block_of_every_markup(family: str, variant: str) -> None:
    n = next(n for n in range(1, 400) if (p := sitegen.project_page(n, 1)).family == family and p.variant == variant)
    title, pairs, hrefs = read_page(sitegen.project_page(n, 1).html)
    assert title
    assert len(pairs) >= 8, pairs
    owner = pairs.get("Projektägare") or pairs.get("Projektägare organisationsnummer")
    assert owner, pairs
    assert "Projektperiod" in pairs or "Startdatum" in pairs
    assert any(h.startswith("/") for h in hrefs)


def test_spider_follows_listing_pages_and_keeps_to_the_scope() -> None:
    page = sitegen.chained_listing_page(1, 2, [(1, "Ett projekt", "esf"), (2, "Ett annat", "esf")], seed=1)
    _, pairs, hrefs = read_page(page)
    assert len(pairs) < MIN_PAIRS  # a listing page is followed, not read as a project
    scope = scope_of("http://127.0.0.1:8000/projektbanken/")
    assert in_scope("http://127.0.0.1:8000/projektbanken/sida-2.html", scope)
    assert not in_scope("http://127.0.0.1:8000/resultat/", scope)
    assert not in_scope("http://127.0.0.1:8001/projektbanken/", scope)
    assert "/projektbanken/sida-2.html" in hrefs


def test_python_server_is_http_1_0_with_a_backlog_of_five(tmp_path: Path) -> None:
    assert pyserver.Server.request_queue_size == 5 and pyserver.Handler.protocol_version == "HTTP/1.0"
    (tmp_path / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    quiet = type("QuietHandler", (pyserver.Handler,), {"log_message": lambda self, *a: None})
    server = pyserver.Server(("127.0.0.1", 0), lambda *a: quiet(*a, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/robots.txt", timeout=5) as response:
            assert response.status == 200 and response.read().startswith(b"User-agent")
            assert response.headers.get("Connection", "close").lower() == "close"
            assert response.version == 10  # HTTP/1.0
    finally:
        server.shutdown()
        server.server_close()


def test_a_run_short_of_the_sites_projects_is_incomplete_not_ok() -> None:
    """A crawl cut short (a depth limit, a page budget) exits 0; the bench must not time it as the same job."""
    from bench.run import _status

    assert _status({"exit_code": 0, "projects": 10000, "expected_projects": 10000}) == "ok"
    assert _status({"exit_code": 0, "items": 10000, "expected_projects": 10000}) == "ok"
    assert _status({"exit_code": 0, "projects": 5000, "expected_projects": 10000}) == (
        "INCOMPLETE (5000 of 10000 projects)"
    )
    assert _status({"exit_code": 1, "projects": 5000, "expected_projects": 10000}).startswith("FAILED")
