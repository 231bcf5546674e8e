"""Nightly runs against a fault-injecting server on loopback: every fault is recorded with its cause,
healthy pages are all in the output, previous values survive failures, removals are dated, an
unchanged site is answered with 304s and nothing is parsed again, and a killed run loses nothing."""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, run_assets


def project_page(
    number: str, owner: str, grant: str = "1 000 000", end: str = "2031-12-31", start: str = "2009-01-01"
) -> bytes:
    return f"""<html><head><meta charset="utf-8"><title>{number} - Projekt {number}</title></head><body>
    <h1>{number} - Projekt {number}</h1>
    <dl><dt>Projektnummer:</dt><dd>{number}</dd><dt>Projektägare:</dt><dd>{owner}</dd>
    <dt>Projektperiod:</dt><dd>{start} - {end}</dd><dt>Beviljat ESF-stöd:</dt><dd>{grant}</dd>
    <dt>Total projektbudget:</dt><dd>2 000 000</dd></dl>
    <h2>Syfte</h2><p>Att pröva något nytt i {owner}.</p></body></html>""".encode()


MAINTENANCE = (
    "<html><body><h1>Sidan är tillfälligt stängd för underhåll</h1><p>Välkommen åter.</p></body></html>".encode()
)


class FaultSite:
    """Routes -> behaviour; ``phase`` switches what some pages do between runs."""

    def __init__(self) -> None:
        self.phase = 1
        self.hits: dict[str, int] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            hit = self.hits[path]
            self.requests.append((path, dict(handler.headers.items())))
        if path == "/robots.txt":
            return self.send(handler, 200, b"User-agent: *\nDisallow: /site/private/\n", "text/plain")
        if path == "/site/":
            names = [
                "p1",
                "p2",
                "flaky",
                "throttled",
                "slow",
                "reset",
                "gone",
                "big",
                "bomb",
                "redirect-out",
                "loop-a",
                "private/secret",
                "maint",
            ]
            links = "".join(f'<li><a href="{n}.html">{n}</a></li>' for n in names)
            return self.send(handler, 200, f"<html><body><ul>{links}</ul></body></html>".encode())
        if path == "/stable/":
            listing = b'<a href="a.html">a</a> <a href="b.html">b</a> <a href="/elsewhere/">menu</a>'
            return self.send(
                handler,
                200,
                listing + (b' <a href="c.html">c</a>' if self.phase >= 3 else b""),
                extra={"Set-Cookie": "session=abc123; Path=/"},
            )
        if path in ("/stable/a.html", "/stable/b.html", "/stable/c.html"):
            return self.send(handler, 200, project_page("2021/0000" + path[-6], "Region " + path[-6]))
        if path == "/site/p1.html":
            return self.send(handler, 200, project_page("2020/00001", "Region Dalarna"))
        if path == "/site/p2.html":
            grant = "1 000 000" if self.phase == 1 else "1 250 000"
            return self.send(handler, 200, project_page("2020/00002", "Region Gävleborg", grant))
        if path == "/site/flaky.html":
            if hit % 2 == 1:
                return self.send(handler, 500, b"<h1>Internal Server Error</h1>")
            return self.send(handler, 200, project_page("2020/00003", "Region Jämtland"))
        if path == "/site/throttled.html":
            if hit % 2 == 1:
                return self.send(handler, 429, b"slow down", extra={"Retry-After": "1"})
            return self.send(handler, 200, project_page("2020/00004", "Region Uppsala"))
        if path == "/site/slow.html":
            time.sleep(2.5)
            return self.send(handler, 200, project_page("2020/00005", "Region Kalmar"))
        if path == "/site/reset.html":
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()
            handler.close_connection = True
            return None
        if path == "/site/gone.html":
            if self.phase == 1:
                return self.send(handler, 200, project_page("2020/00006", "Region Norrbotten"))
            return self.send(handler, 404, b"<h1>Sidan finns inte</h1>")
        if path == "/site/big.html":
            return self.send(handler, 200, b"<p>" + b"x" * 300_000 + b"</p>")
        if path == "/site/bomb.html":
            bomb = gzip.compress(b"<p>" + b"0" * 5_000_000 + b"</p>")
            return self.send(handler, 200, bomb, extra={"Content-Encoding": "gzip"})
        if path == "/site/redirect-out.html":
            return self.send(handler, 302, b"", extra={"Location": "http://example.invalid/elsewhere"})
        if path == "/site/loop-a.html":
            return self.send(handler, 302, b"", extra={"Location": "/site/loop-b.html"})
        if path == "/site/loop-b.html":
            return self.send(handler, 302, b"", extra={"Location": "/site/loop-a.html"})
        if path == "/site/maint.html":
            if self.phase == 1:
                return self.send(handler, 200, project_page("2020/00007", "Region Halland"))
            return self.send(handler, 200, MAINTENANCE)
        return self.send(handler, 404, b"not found")

    @staticmethod
    def send(
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        ctype: str = "text/html; charset=utf-8",
        extra: dict[str, str] | None = None,
    ) -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if status == 200 and handler.headers.get("If-None-Match") == etag:
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.end_headers()
            return
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        if status == 200:
            handler.send_header("ETag", etag)
        for key, value in (extra or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture()
def fault_site():
    site = FaultSite()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802 - the stdlib's name
            site.handle(self)

        def log_message(self, *args):
            pass

        def finish(self):
            try:
                super().finish()
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


CRAWLER = {"read_timeout": 1.0, "connect_timeout": 1.0, "retries": 2, "max_bytes": 200_000}


def _tables(out):
    return {
        n: pq.read_table(out / f"{n}.parquet").to_pandas()
        for n in ("projects", "pages", "parse_issues", "project_changes")
    }


def test_faults_are_recorded_and_previous_values_survive(fault_site, tmp_path):
    site, base = fault_site
    out = tmp_path / "out"
    assert run_assets([base + "/site/"], out, **CRAWLER).success
    first = _tables(out)
    pages = first["pages"].set_index("url")
    errors = pages["error"].fillna("")
    # Healthy pages, including those that recovered after a 500 or a 429, are all in the output.
    assert {"2020/00001", "2020/00002", "2020/00003", "2020/00004", "2020/00006", "2020/00007"} <= set(
        first["projects"]["project_id"]
    )
    assert site.hits["/site/flaky.html"] == 2 and site.hits["/site/throttled.html"] == 2
    assert "Timeout" in errors[base + "/site/slow.html"]
    assert errors[base + "/site/reset.html"] != ""
    assert "larger than" in errors[base + "/site/big.html"]
    assert "larger than" in errors[base + "/site/bomb.html"]
    assert "out of scope" in errors[base + "/site/redirect-out.html"]
    assert "redirect loop" in errors[base + "/site/loop-a.html"]
    assert pages.loc[base + "/site/private/secret.html", "fetch_outcome"] == "disallowed"
    assert "/site/private/secret.html" not in site.hits  # never fetched
    assert not any("example.invalid" in path for path, _ in site.requests)
    failed_urls = set(first["parse_issues"].query("problem == 'fetch_failed'")["url"])
    assert {base + "/site/slow.html", base + "/site/reset.html", base + "/site/big.html"} <= failed_urls

    site.phase = 2
    assert run_assets([base + "/site/"], out, **CRAWLER).success
    second = _tables(out)
    projects = second["projects"].set_index("project_id")
    # A 404 for a page that existed: removed with a date, last known data kept.
    assert projects.loc["2020/00006", "status"] == "removed"
    assert projects.loc["2020/00006", "removed_at"] is not None
    assert projects.loc["2020/00006", "owner"] == "Region Norrbotten"
    # A maintenance page with status 200 is a failure, not a removal: previous values kept.
    assert projects.loc["2020/00007", "status"] == "active"
    assert projects.loc["2020/00007", "owner"] == "Region Halland"
    lost = second["parse_issues"].query("problem == 'page_lost_labels'")
    assert lost["url"].tolist() == [base + "/site/maint.html"]
    # A changed value is history.
    changes = second["project_changes"]
    grant = changes.query("project_id == '2020/00002' and field == 'esf_grant_sek'").iloc[0]
    assert (grant["old_value"], grant["new_value"]) == ("1000000", "1250000")  # as written, not 1E+6
    status = changes.query("project_id == '2020/00006' and field == 'status'").iloc[0]
    assert (status["old_value"], status["new_value"]) == ("active", "removed")
    assert projects.loc["2020/00002", "last_changed_at"] > projects.loc["2020/00001", "last_changed_at"]


def test_unchanged_site_sends_conditional_requests_and_parses_nothing(fault_site, tmp_path):
    site, base = fault_site
    out = tmp_path / "out"
    assert run_assets([base + "/stable/"], out).success
    # The listing sets a session cookie; the crawler keeps none, so no page depends on what came before.
    assert [path for path, headers in site.requests if "cookie" in {k.lower() for k in headers}] == []
    site.requests.clear()
    assert run_assets([base + "/stable/"], out).success
    pages = pq.read_table(out / "pages.parquet").to_pandas().set_index("url")
    for name in ("a", "b"):
        page = pages.loc[f"{base}/stable/{name}.html"]
        assert page["status"] == 304 and page["fetch_outcome"] == "not_modified"
    assert not pages["parsed_in_run"].any()
    conditional = [path for path, headers in site.requests if "If-None-Match" in headers]
    assert sorted(conditional) == ["/stable/", "/stable/a.html", "/stable/b.html"]
    # The listing answered 304 too: the links it led to last time are followed again.
    assert pages.loc[base + "/stable/", "status"] == 304
    projects = pq.read_table(out / "projects.parquet").to_pandas()
    assert set(projects["status"]) == {"active"} and len(projects) == 2
    site.requests.clear()
    assert run_assets([base + "/stable/"], out).success  # the links survive a run of 304s
    # (the usual places of a sitemap are asked too: none is there)
    assert sorted(path for path, _ in site.requests if not path.endswith("sitemap.xml")) == [
        "/robots.txt",
        "/stable/",
        "/stable/a.html",
        "/stable/b.html",
    ]
    site.phase = 3  # a new project on the listing: the listing changes, and its new link is followed
    assert run_assets([base + "/stable/"], out).success
    projects = pq.read_table(out / "projects.parquet").to_pandas()
    assert len(projects) == 3 and set(projects["status"]) == {"active"}
    assert projects["source_url"].str.endswith("/stable/c.html").sum() == 1


def test_revisit_policy_leaves_long_ended_projects_alone(tmp_path):
    from pipeline.demo import serve_directory

    site = tmp_path / "site" / "bank"
    site.mkdir(parents=True)
    (site / "index.html").write_text('<a href="old.html">old</a> <a href="new.html">new</a>')
    (site / "old.html").write_bytes(project_page("2009/00001", "Gamla kommunen", end="2010-06-30"))
    (site / "new.html").write_bytes(project_page("2024/00001", "Nya kommunen", end="2031-06-30"))
    with serve_directory(tmp_path / "site") as base:
        assert run_assets([base + "/bank/"], tmp_path / "out").success
        assert run_assets([base + "/bank/"], tmp_path / "out").success
    pages = pq.read_table(tmp_path / "out" / "pages.parquet").to_pandas().set_index("url")
    assert pages.loc[base + "/bank/old.html", "fetch_outcome"] == "revisit_skipped"
    assert pages.loc[base + "/bank/new.html", "fetch_outcome"] in ("fetched", "not_modified")
    projects = pq.read_table(tmp_path / "out" / "projects.parquet").to_pandas().set_index("project_id")
    assert projects.loc["2009/00001", "status"] == "active"


def test_failed_write_leaves_previous_table_intact(tmp_path, monkeypatch):
    import pyarrow.parquet as pq_module

    from pipeline.schema import PROJECTS
    from pipeline.storage import OutputDir

    out = OutputDir(tmp_path)
    out.ensure()
    out.write_table(PROJECTS, [{"project_id": "a", "page_family": "x", "source_url": "u", "status": "active"}])
    before = (tmp_path / "projects.parquet").read_bytes()

    def broken(self, table, *args, **kwargs):  # the disk fills up after the new file was started
        raise OSError("disk full")

    monkeypatch.setattr(pq_module.ParquetWriter, "write_table", broken)
    with pytest.raises(OSError):
        out.write_table(PROJECTS, [{"project_id": "b", "page_family": "x", "source_url": "u", "status": "active"}])
    assert (tmp_path / "projects.parquet").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_sigkill_mid_run_leaves_previous_tables_and_next_run_completes(tmp_path):
    from pipeline.demo import serve_directory

    site = tmp_path / "site" / "bank"
    site.mkdir(parents=True)
    links = []
    for n in range(1, 121):
        (site / f"p{n}.html").write_bytes(project_page(f"2024/{n:05d}", f"Kommun {n}"))
        links.append(f'<a href="p{n}.html">{n}</a>')
    (site / "index.html").write_text(" ".join(links))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with serve_directory(tmp_path / "site") as base:
        first = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                "run",
                "--start-url",
                base + "/bank/",
                "--output",
                str(out),
                "--delay",
                "0",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert first.returncode == 0, first.stderr
        before = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
        for kill_after in (0.5, 2.0, 3.5):
            (site / "p1.html").write_bytes(project_page("2024/00001", f"Ändrad {kill_after}"))
            run = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pipeline",
                    "run",
                    "--start-url",
                    base + "/bank/",
                    "--output",
                    str(out),
                    "--delay",
                    "0.03",
                    "--concurrency",
                    "1",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            time.sleep(kill_after)
            if run.poll() is None:
                os.kill(run.pid, signal.SIGKILL)
            run.wait()
            for name in before:
                table = pq.read_table(out / name)  # every table stays readable
                assert table.num_rows >= 0
            if run.returncode == -signal.SIGKILL:
                assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == before
        final = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                "run",
                "--start-url",
                base + "/bank/",
                "--output",
                str(out),
                "--delay",
                "0",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    assert final.returncode == 0, final.stderr
    projects = pd.read_parquet(out / "projects.parquet").set_index("project_id")
    assert len(projects) == 120
    assert projects.loc["2024/00001", "owner"] == "Ändrad 3.5"


def test_host_gate_slows_down_and_recovers():
    from pipeline.crawl.gate import HostGate

    async def scenario():
        gate = HostGate(2, 0.0)
        gate.slow_down(5.0)
        slowed = gate.delay
        for _ in range(40):
            gate.recover()
        return slowed, gate.delay

    import asyncio

    slowed, recovered = asyncio.run(scenario())
    assert slowed == 5.0 and recovered == 0.0


def test_temporary_files_of_a_killed_run_are_removed_later(tmp_path):
    from pipeline.demo import serve_directory

    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text('<a href="p.html">p</a>')
    (site / "p.html").write_bytes(project_page("2020/00001", "Region Dalarna"))
    out = tmp_path / "out"
    (out / "_state").mkdir(parents=True)
    old_table = out / ".projects.parquet.123-abcd1234.tmp"
    old_state = out / "_state" / ".pages_state.pickle.x1y2.tmp"
    recent = out / ".pages.parquet.456-ef567890.tmp"  # another run may be writing it right now
    for leftover in (old_table, old_state, recent):
        leftover.write_bytes(b"PAR1 half a table")
    for old in (old_table, old_state):
        os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    with serve_directory(site) as base:
        assert run_assets([base + "/"], out).success
    assert not old_table.exists() and not old_state.exists()
    assert recent.exists()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<dt>Projektägare:</dt>", True),
        ("<dt>beviljat ESF-stöd</dt>", True),
        ("<b>PROJEKTPERIOD</b>", True),
        ("<b>DiarieNummer</b>", True),
        ('<a href="?page=2">Nästa sida</a>', False),
        # A listing whose cards each name the owner is followed (its pagination too).
        ("".join(f"<li><a href='p{n}.html'>P{n}</a> Projektägare: Region {n}</li>" for n in range(6)), False),
        ("".join(f"<li>PROJEKTPERIOD: 2020-202{n}</li>" for n in range(6)), False),
        ("".join(f"<li>Projektägare: Region {n}</li>" for n in range(3)), False),  # three cards: as the parser says
        ("<title>Projektägare</title><dt>Projektägare:</dt><dd>Region Kalmar</dd>", True),
    ],
)
def test_pages_with_project_labels_are_read_not_followed(text, expected):
    from parsers.links import looks_like_project_page

    assert looks_like_project_page(f"<html><body>{text}</body></html>") is expected


def test_a_listing_answering_304_is_read_again_when_the_scope_widened(tmp_path):
    from pipeline.demo import serve_directory

    site = tmp_path / "site"
    for folder in ("esf", "arkiv"):
        (site / folder).mkdir(parents=True)
    (site / "index.html").write_text('<a href="esf/lista.html">lista</a>')
    (site / "esf" / "index.html").write_text('<a href="lista.html">lista</a>')
    (site / "esf" / "lista.html").write_text('<a href="p1.html">1</a> <a href="/arkiv/p2.html">2</a>')
    (site / "esf" / "p1.html").write_bytes(project_page("2020/00001", "Region Dalarna"))
    (site / "arkiv" / "p2.html").write_bytes(project_page("2020/00002", "Region Gävleborg"))
    out = tmp_path / "out"
    with serve_directory(site) as base:
        assert run_assets([base + "/esf/index.html"], out).success  # /arkiv/ is out of scope here
        assert run_assets([base + "/index.html"], out).success  # the same source, now the whole site
    projects = pq.read_table(out / "projects.parquet").to_pandas()
    assert sorted(projects["project_id"]) == ["2020/00001", "2020/00002"]


def test_a_listing_whose_cards_name_project_labels_is_followed_page_by_page(tmp_path):
    from pipeline.demo import serve_directory

    site = tmp_path / "site"
    site.mkdir()
    for page, numbers in ((1, range(1, 7)), (2, range(7, 13))):
        cards = "".join(
            f'<li><h3><a href="p{n}.html">Projekt {n}</a></h3><p>Projektägare: Kommun {n}</p></li>' for n in numbers
        )
        pager = '<a href="sida-2.html">Nästa</a>' if page == 1 else '<a href="index.html">Föregående</a>'
        (site / ("index.html" if page == 1 else "sida-2.html")).write_text(f"<ul>{cards}</ul>{pager}", encoding="utf-8")
        for n in numbers:
            (site / f"p{n}.html").write_bytes(project_page(f"2020/{n:05d}", f"Kommun {n}"))
    with serve_directory(site) as base:
        assert run_assets([base + "/"], tmp_path / "out").success
    pages = pq.read_table(tmp_path / "out" / "pages.parquet").to_pandas()
    assert {f"{base}/p{n}.html" for n in range(1, 13)} <= set(pages["url"])  # page 2's projects too
    projects = pq.read_table(tmp_path / "out" / "projects.parquet").to_pandas()
    assert {f"2020/{n:05d}" for n in range(1, 13)} <= set(projects["project_id"])
