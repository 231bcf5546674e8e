"""Sites that misbehave: every fault ends in bounded time with a row that names it, the run survives,
and RFC 9309 holds for robots.txt. Deadlines are set low here, as settings."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, run_assets
from tests.sitekit import Response, RouteSite, cut_short, listing, project_page, serve, trickle
from tests.test_trustworthy_runs import tables

FAST = {"request_deadline_seconds": 1.5, "read_timeout": 1.0, "connect_timeout": 1.0, "retries": 0}


def run(site: RouteSite, out: Path, path: str = "/bank/", **options) -> dict[str, pd.DataFrame]:
    started = time.monotonic()
    result = run_assets([f"bank={site.url(path)}"], out, **{**FAST, **options})
    assert result.success
    took = time.monotonic() - started
    frames = tables(out)
    frames["seconds"] = took  # type: ignore[assignment]
    return frames


@pytest.fixture()
def site():
    with serve(RouteSite()) as running:
        running.routes["/bank/"] = Response(200, listing(["/bank/p/1.html", "/bank/p/2.html"]))
        running.routes["/bank/p/1.html"] = Response(200, project_page("2022/00001", "Region Dalarna"))
        running.routes["/bank/p/2.html"] = Response(200, project_page("2022/00002", "Region Gävleborg"))
        yield running


def _page(frames, site, path):
    return frames["pages"].set_index("url").loc[site.url(path)]


def test_a_trickling_page_is_cut_at_the_deadline(site, tmp_path):
    site.routes["/bank/p/2.html"] = trickle(project_page("2022/00002", "Region Gävleborg"), 0.05)
    frames = run(site, tmp_path / "out")
    assert "deadline of 1.5 s" in _page(frames, site, "/bank/p/2.html")["error"]
    assert frames["seconds"] < 12
    assert "2022/00001" in set(frames["projects"]["project_id"])


def test_a_trickling_robots_txt_holds_no_other_host_and_disallows_its_own(site, tmp_path):
    site.routes["/robots.txt"] = trickle(b"User-agent: *\nAllow: /\n" * 20, 0.05)
    other = RouteSite()
    other.routes["/bank/"] = Response(200, listing(["/bank/p/9.html"]))
    other.routes["/bank/p/9.html"] = Response(200, project_page("2022/00009", "Region Kalmar"))
    with serve(other, host="127.0.0.2"):
        started = time.monotonic()
        result = run_assets([f"slow={site.url('/bank/')}", f"fast={other.url('/bank/')}"], tmp_path / "out", **FAST)
        took = time.monotonic() - started
    # The slow origin's robots.txt is unreachable within the deadline: the site counts as disallowed, its
    # crawl is partial; the other source is crawled meanwhile and published.
    assert result.success and took < 15
    assert "/bank/p/9.html" in other.hits
    assert "/bank/" not in site.hits  # nothing of the slow site was fetched
    sources = tables(tmp_path / "out")["sources"].set_index("source")
    assert (
        not sources.loc["slow", "crawl_complete"] and "robots.txt unreachable" in sources.loc["slow", "partial_reason"]
    )
    assert sources.loc["fast", "crawl_complete"]


@pytest.mark.parametrize("status", [500, 503])
def test_a_robots_txt_answering_5xx_disallows_the_site_for_the_run(site, tmp_path, status):
    out = tmp_path / "out"
    run(site, out)
    site.routes["/robots.txt"] = Response(status, b"")
    site.hits.clear()
    frames = run(site, out)
    assert site.hits == ["/robots.txt"]
    start = _page(frames, site, "/bank/")
    assert start["fetch_outcome"] == "disallowed" and f"HTTP {status}" in start["error"]
    assert set(frames["projects"]["status"]) == {"active"}  # a partial crawl removes nothing
    assert not frames["sources"].iloc[0]["crawl_complete"]


def test_robots_txt_behind_a_redirect_is_obeyed_and_a_404_allows_everything(site, tmp_path):
    site.routes["/robots.txt"] = Response(301, b"", {"Location": "/real-robots.txt"})
    site.routes["/real-robots.txt"] = Response(200, b"User-agent: *\nDisallow: /bank/p/2", content_type="text/plain")
    frames = run(site, tmp_path / "out")
    assert _page(frames, site, "/bank/p/2.html")["fetch_outcome"] == "disallowed"
    assert "/bank/p/2.html" not in site.hits
    site.routes["/robots.txt"] = Response(404, b"")
    frames = run(site, tmp_path / "out2")
    assert _page(frames, site, "/bank/p/2.html")["fetch_outcome"] == "fetched"


def test_a_gzip_bomb_as_robots_txt_is_read_up_to_the_cap(site, tmp_path):
    rules = b"User-agent: *\nDisallow: /bank/p/2\n"
    bomb = gzip.compress(rules + b"#" * 200_000_000)
    site.routes["/robots.txt"] = Response(200, bomb, {"Content-Encoding": "gzip"}, content_type="text/plain")
    frames = run(site, tmp_path / "out")
    assert _page(frames, site, "/bank/p/2.html")["fetch_outcome"] == "disallowed"  # the rules read before the cap
    assert _page(frames, site, "/bank/p/1.html")["fetch_outcome"] == "fetched"


def test_a_malformed_link_is_an_issue_row_not_a_failed_run(site, tmp_path):
    site.routes["/bank/"] = Response(
        200, listing(["/bank/p/1.html", "http://[::1", "http://x:99999/", "/bank/p/2.html"])
    )
    frames = run(site, tmp_path / "out")
    issues = frames["parse_issues"].query("problem == 'malformed_link'")
    assert "http://[::1" in set(issues["raw_value"])
    assert {"2022/00001", "2022/00002"} <= set(frames["projects"]["project_id"])


def test_a_body_shorter_than_its_content_length_is_recorded(site, tmp_path):
    site.routes["/bank/p/2.html"] = cut_short(project_page("2022/00002", "Region Gävleborg")[:300], 5000)
    frames = run(site, tmp_path / "out")
    error = _page(frames, site, "/bank/p/2.html")["error"]
    assert "cut short" in error or "incomplete" in error.lower() or "closed" in error.lower(), error
    assert "2022/00002" not in set(frames["projects"]["project_id"])


def test_an_endless_pagination_stops_at_the_depth_limit_and_the_crawl_is_partial(site, tmp_path):
    _paging_on_past_its_end(site, 10**9, lambda n: [])  # a new project on every page, for ever
    frames = run(site, tmp_path / "out", max_depth=8)
    source = frames["sources"].iloc[0]
    assert not source["crawl_complete"] and "depth limit of 8" in source["partial_reason"]
    frames = run(site, tmp_path / "out2", max_pages=10)
    assert "page budget of 10" in frames["sources"].iloc[0]["partial_reason"]
    assert len(frames["pages"]) <= 10


def _paging_on_past_its_end(site, last: int, links_of) -> None:
    """/bank/ and /bank/sida-N.html list one project each up to page ``last``; past it every page still links
    a next one, and lists what ``links_of(n)`` gives."""

    class PastTheEnd(dict):
        def get(self, path, default=None):
            if path in self:  # a page the test set
                return super().get(path, default)
            if path.startswith("/bank/sida-"):
                n = int(path.split("-")[1].split(".")[0])
                items = [f"/bank/p/{n}.html"] if n <= last else links_of(n)
                return Response(200, listing(items, f"/bank/sida-{n + 1}.html"))
            if path.startswith("/bank/p/"):
                return Response(200, project_page(f"2023/{int(path.split('/')[-1][:-5]):05d}", "Region Uppsala"))
            return super().get(path, default)

    site.routes = PastTheEnd(site.routes)
    site.routes["/bank/"] = Response(200, listing(["/bank/p/1.html"], "/bank/sida-2.html"))


@pytest.mark.parametrize(
    ("shape", "links_of", "before_barren"),
    [
        # page 4, the first empty one, differs from page 3 (which lists a project): the streak starts at page 5
        ("empty pages", lambda n: [], 3),
        ("the last page again", lambda n: ["/bank/p/3.html"], 2),
    ],
)
def test_a_pagination_that_pages_on_past_its_end_stops_after_barren_pages(
    site, tmp_path, shape, links_of, before_barren
):
    _paging_on_past_its_end(site, 3, links_of)
    frames = run(site, tmp_path / "out", max_barren_pages=5)
    source = frames["sources"].iloc[0]
    assert not source["crawl_complete"] and "5 pages in a row of a pagination" in source["partial_reason"], shape
    # The fixture's own pages 1 and 2 (2022/...), then page 3 of the pagination; nothing past the end.
    assert set(frames["projects"]["project_id"]) == {"2022/00001", "2022/00002", "2023/00003"}
    listing_pages = frames["pages"][frames["pages"]["url"].str.contains("/sida-")]
    # the pages before the streak, five barren steps, and the sixth barren page, whose next is not followed
    assert len(listing_pages) == before_barren + 5 + 1
    # The next run over the same site does not page on further: the refused page is not among the links kept.
    again = run(site, tmp_path / "out", max_barren_pages=5)
    assert len(again["pages"][again["pages"]["url"].str.contains("/sida-")]) == len(listing_pages)


def test_the_guard_holds_on_a_later_run_when_a_page_past_the_end_changes(site, tmp_path):
    """Pages past the end that answer 304 keep their pager and shape in the state, so when the last of them
    changes (a number printed on it) the streak goes on through them instead of starting again."""
    stamps: dict[int, int] = {}

    class PastTheEnd(dict):
        def get(self, path, default=None):
            if path in self:
                return super().get(path, default)
            if path.startswith("/bank/sida-"):
                n = int(path.split("-")[1].split(".")[0])
                body = listing([f"/bank/p/{n}.html"] if n <= 3 else [], f"/bank/sida-{n + 1}.html")
                return Response(200, body + f"<!-- {stamps.get(n, 0)} -->".encode())
            if path.startswith("/bank/p/"):
                return Response(200, project_page(f"2023/{int(path.split('/')[-1][:-5]):05d}", "Region Uppsala"))
            return super().get(path, default)

    site.routes = PastTheEnd(site.routes)
    site.routes["/bank/"] = Response(200, listing(["/bank/p/1.html"], "/bank/sida-2.html"))
    first = run(site, tmp_path / "out", max_barren_pages=5)
    listing_pages = set(first["pages"][first["pages"]["url"].str.contains("/sida-")]["url"])
    assert len(listing_pages) == 3 + 5 + 1
    stamps[10] = 7  # the last page fetched changes, in a number only
    again = run(site, tmp_path / "out", max_barren_pages=5)
    pages = again["pages"][again["pages"]["url"].str.contains("/sida-")]
    assert set(pages["url"]) == listing_pages
    assert set(pages["fetch_outcome"]) == {"not_modified", "fetched"}
    assert "5 pages in a row of a pagination" in again["sources"].iloc[0]["partial_reason"]


def test_a_pagination_past_its_end_behind_redirects_is_stopped_too(site, tmp_path):
    """?sida=N answers 301 to /bank/s/N.html: the comparison passes through the redirect."""

    class Redirecting(dict):
        def get(self, path, default=None):
            if path.startswith("/bank/?sida="):
                return Response(301, headers={"Location": f"/bank/s/{path.split('=')[1]}.html"})
            if path.startswith("/bank/s/"):
                n = int(path.split("/")[-1][:-5])
                return Response(200, listing([], f"/bank/?sida={n + 1}"))
            return super().get(path, default)

    site.routes = Redirecting(site.routes)
    site.routes["/bank/"] = Response(200, listing(["/bank/p/1.html"], "/bank/?sida=2"))
    frames = run(site, tmp_path / "out", max_barren_pages=3)
    source = frames["sources"].iloc[0]
    assert not source["crawl_complete"] and "3 pages in a row of a pagination" in source["partial_reason"]
    assert len(frames["pages"]) < 30


def test_a_query_listing_whose_projects_are_numbers_on_its_own_path_is_followed_to_its_end(site, tmp_path):
    """/bank/?page=N links its projects as <a href="/bank/?id=N">N</a>: number-only texts on the listing's
    own path, which read as pager links until the query's names were compared (an outside tester's shape)."""
    pages = 8

    class QueryListing(dict):
        def get(self, path, default=None):
            if path.startswith("/bank/?page="):
                n = int(path.split("=")[1])
                more = f'<a href="/bank/?page={n + 1}">Nästa sida</a>' if n < pages else ""
                body = f'<html><body><h1>Projektbanken</h1><a href="/bank/?id={n}">{n}</a>{more}</body></html>'
                return Response(200, body.encode())
            if path.startswith("/bank/?id="):
                return Response(200, project_page(f"2023/{int(path.split('=')[1]):05d}", "Region Uppsala"))
            return super().get(path, default)

    site.routes = QueryListing(site.routes)
    site.routes["/bank/"] = Response(200, listing([], "/bank/?page=1"))
    frames = run(site, tmp_path / "out", max_barren_pages=2)
    source = frames["sources"].iloc[0]
    assert source["crawl_complete"], source["partial_reason"]
    assert len(frames["projects"]) == pages


@pytest.mark.parametrize("kind", ["projects linked by their numbers", "projects shown on the listing itself"])
def test_listings_whose_pages_differ_are_followed_to_their_end(site, tmp_path, kind):
    """Pages that each show other projects are never barren, however their projects are shown: linked by
    a label of digits only (which also reads as a pager), or written out on the listing page."""
    names = ["Alfa", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta", "Theta", "Iota", "Kappa"]

    class Listing(dict):
        def get(self, path, default=None):
            if path.startswith("/bank/sida-"):
                n = int(path.split("-")[1].split(".")[0])
                more = f'<a href="/bank/sida-{n + 1}.html">Nästa sida</a>' if n < len(names) else ""
                item = (
                    f'<a href="/bank/p/{n}.html">{4700 + n}</a>'
                    if kind.startswith("projects linked")
                    else f"<p>Projekt {names[n - 1]} i Region Uppsala</p>"
                )
                return Response(200, f"<html><body><h1>Projektbanken</h1>{item}{more}</body></html>".encode())
            if path.startswith("/bank/p/"):
                return Response(200, project_page(f"2023/{int(path.split('/')[-1][:-5]):05d}", "Region Uppsala"))
            return super().get(path, default)

    site.routes = Listing(site.routes)
    site.routes["/bank/"] = Response(200, listing([], "/bank/sida-1.html"))
    frames = run(site, tmp_path / "out", max_barren_pages=2)
    source = frames["sources"].iloc[0]
    assert source["crawl_complete"], source["partial_reason"]
    assert len(frames["pages"][frames["pages"]["url"].str.contains("/sida-")]) == len(names)


def test_a_listing_whose_projects_a_sitemap_gave_first_is_not_barren(site, tmp_path):
    """Each page of the chain lists a project the sitemap already gave: nothing new to the crawl, but not
    the page before's links, so the pagination is followed to its end and the crawl is complete."""
    pages = 12
    _paging_on_past_its_end(site, pages, lambda n: [])
    site.routes["/bank/sida-13.html"] = Response(200, listing(["/bank/p/12.html"]))  # the chain's end
    site.routes["/robots.txt"] = Response(
        200, f"User-agent: *\nSitemap: {site.url('/bank/sitemap.xml')}\n".encode(), content_type="text/plain"
    )
    entries = "".join(f"<url><loc>{site.url(f'/bank/p/{n}.html')}</loc></url>" for n in range(1, pages + 1))
    site.routes["/bank/sitemap.xml"] = Response(
        200,
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'.encode(),
        content_type="application/xml",
    )
    frames = run(site, tmp_path / "out", max_barren_pages=2)
    source = frames["sources"].iloc[0]
    assert source["crawl_complete"], source["partial_reason"]
    assert len(frames["projects"]) == pages


def test_address_variants_are_fetched_once_and_give_one_project(site, tmp_path):
    body = project_page("2022/00003", "Region Jämtland")
    variants = [
        "/bank/p/3.html?b=2&a=1",
        "/bank/p/3.html?a=1&b=2",
        "/bank/p/3.html?a=1&b=2&utm_source=nyhetsbrev",
        "/bank/x/../p/3.html?a=1&b=2",
        "/bank/p/3.html?a=1&b=2#topp",
    ]
    site.routes["/bank/"] = Response(200, listing(["/bank/p/1.html"] + variants + ["/BANK/P/3.html", "/bank/p/3.HTML"]))
    site.routes["/bank/p/3.html?a=1&b=2"] = Response(200, body)
    site.routes["/bank/p/3.HTML"] = Response(200, body)  # a case-insensitive server
    frames = run(site, tmp_path / "out")
    assert site.hits.count("/bank/p/3.html?a=1&b=2") == 1
    projects = frames["projects"]
    assert (projects["project_id"] == "2022/00003").sum() == 1
    assert not (frames["parse_issues"]["problem"] == "duplicate_project").any()
    # The same content at two addresses: the shorter keeps it, the other is its duplicate.
    assert _page(frames, site, "/bank/p/3.html?a=1&b=2")["fetch_outcome"] == "duplicate"
    assert projects.set_index("project_id").loc["2022/00003", "source_url"] == site.url("/bank/p/3.HTML")


def test_dot_segments_are_resolved_before_the_scope_check(site, tmp_path):
    site.routes["/admin/secret.html"] = Response(200, project_page("2022/00666", "Hemligt"))
    site.routes["/bank/"] = Response(
        200,
        listing(
            [
                "/bank/p/1.html",
                "/bank/%2e%2e/admin/secret.html",
                "/bank/../admin/secret.html",
                # a server that decodes an encoded slash would climb out of /bank/ with these
                "./%2e%2e%2fadmin%2fsecret.html",
                "/bank/..%2Fadmin%2Fsecret.html",
                "/bank/..%5Cadmin%5Csecret.html",
            ]
        ),
    )
    run(site, tmp_path / "out")
    assert not any("admin" in hit.lower() for hit in site.hits)


def test_rel_canonical_within_scope_is_honoured(site, tmp_path):
    clean = project_page("2022/00004", "Region Västernorrland")
    tagged = clean.replace(b"<head>", b'<head><link rel="canonical" href="/bank/p/4.html">')
    site.routes["/bank/"] = Response(200, listing(["/bank/p/4.html?session=abc"]))
    site.routes["/bank/p/4.html?session=abc"] = Response(200, tagged)
    site.routes["/bank/p/4.html"] = Response(200, tagged)
    frames = run(site, tmp_path / "out")
    project = frames["projects"].set_index("project_id").loc["2022/00004"]
    assert project["source_url"] == site.url("/bank/p/4.html")
    assert _page(frames, site, "/bank/p/4.html?session=abc")["fetch_outcome"] == "canonical"


def test_a_full_raw_archive_fails_the_run_and_publishes_nothing(site, tmp_path, monkeypatch):
    import errno

    from pipeline.cli import _failure_message
    from pipeline.storage import OutputDir

    out = tmp_path / "out"
    run(site, out)
    before = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    site.routes["/bank/p/1.html"] = Response(200, project_page("2022/00001", "Region Dalarna, ny"))

    def full(self, body):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(OutputDir, "put_raw", full)
    result = run_assets([f"bank={site.url('/bank/')}"], out, **FAST)
    assert not result.success
    assert "cannot write the raw archive: No space left on device" in _failure_message(result)
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == before


def _children(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def test_workers_end_when_their_parent_is_killed(tmp_path):
    site = RouteSite()
    site.routes["/bank/"] = Response(200, listing([f"/bank/p/{n}.html" for n in range(300)]))

    def slow(n: int):
        def answer() -> Response:
            time.sleep(0.02)
            return Response(200, project_page(f"2024/{n:05d}", "Region Uppsala"))

        return answer

    for n in range(300):
        site.routes[f"/bank/p/{n}.html"] = slow(n)
    with serve(site):
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline",
                "run",
                "--start-url",
                f"bank={site.url('/bank/')}",
                "--output",
                str(tmp_path / "out"),
                "--delay",
                "0",
                "--concurrency",
                "2",
            ],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 3:  # resource tracker, forkserver, a worker
            time.sleep(0.1)
            workers = _children(process.pid)
        assert len(workers) >= 3
        process.kill()
        process.wait(10)
        time.sleep(2)
    alive = [
        pid
        for pid in workers
        if Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    ]
    assert not alive


def test_retention_deletes_what_no_state_refers_to(site, tmp_path):
    out = tmp_path / "out"
    run(site, out)
    site.routes["/bank/p/1.html"] = Response(200, project_page("2022/00001", "Region Dalarna, ny ägare"))
    run(site, out)  # the old body of p/1 is no longer referred to
    raw_before = set(out.glob("raw/*/*.html"))
    for path in raw_before | set(out.glob("_parsed/*/*.json")):
        os.utime(path, (time.time() - 40 * 86400,) * 2)  # older than the 30 days kept
    frames = run(site, out)
    raw_after = set(out.glob("raw/*/*.html"))
    assert len(raw_after) == len(raw_before) - 1
    assert set(frames["pages"]["content_sha256"].dropna()) <= {p.stem for p in raw_after}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "gc", "--output", str(out), "--keep-days", "0"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "MB freed" in done.stdout, done.stderr
