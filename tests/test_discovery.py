"""Every way of finding projects, each on a loopback site of its own: a listing drawn by JavaScript with
a sitemap index and a gzipped sitemap, a retired address behind a 301, query-string pagination, a list of
addresses, the official export through a project URL template; a sample run; a source that yields none."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import FIXTURES, ROOT, run_assets
from tests.sitekit import Response, RouteSite, listing, project_page, serve
from tests.test_trustworthy_runs import tables

NUMBERS = [f"23-0{n:02d}-S01" for n in range(10, 16)]
SEARCH_FORM = (
    b"<html><body><h1>Projektbanken</h1><form action='/resultat/projektbanken/'><input name='q'>"
    b"<button>S\xc3\xb6k</button></form><div id='results'></div><script src='/app.js'></script></body></html>"
)


def _sitemap(urls: list[str]) -> bytes:
    entries = "".join(f"<url><loc>{u}</loc><lastmod>2024-05-01</lastmod></url>" for u in urls)
    return (
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'.encode()
    )


def _index(urls: list[str]) -> bytes:
    entries = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls)
    return f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'.encode()


def _projects(site: RouteSite, base: str = "/resultat/projektbanken/projekt/") -> list[str]:
    paths = []
    for number in NUMBERS:
        path = f"{base}?dnr={number}"
        site.routes[path] = Response(200, project_page(number, f"Kommun {number[-5:]}"))
        paths.append(path)
    return paths


def _found(out: Path) -> list[str]:
    return sorted(pd.read_parquet(out / "projects.parquet")["project_id"])


def test_a_javascript_listing_is_crawled_through_its_sitemap_index_and_gzipped_sitemap(tmp_path):
    with serve(RouteSite()) as site:
        paths = _projects(site)
        site.routes["/resultat/projektbanken/"] = Response(200, SEARCH_FORM)
        site.routes["/robots.txt"] = Response(
            200, f"User-agent: *\nSitemap: {site.url('/wp-sitemap.xml')}\n".encode(), content_type="text/plain"
        )
        site.routes["/wp-sitemap.xml"] = Response(
            200,
            _index([site.url("/wp-sitemap-projekt-1.xml.gz"), site.url("/wp-sitemap-sidor.xml")]),
            content_type="application/xml",
        )
        site.routes["/wp-sitemap-projekt-1.xml.gz"] = Response(
            200,
            gzip.compress(_sitemap([site.url(p) for p in paths] + ["http://elsewhere.invalid/x"])),
            content_type="application/gzip",
        )
        site.routes["/wp-sitemap-sidor.xml"] = Response(
            200, _sitemap([site.url("/om-oss/")]), content_type="application/xml"
        )
        assert run_assets([f"esf={site.url('/resultat/projektbanken/')}"], tmp_path / "out").success
    assert _found(tmp_path / "out") == NUMBERS
    frames = tables(tmp_path / "out")
    sitemaps = frames["pages"].query("page_kind == 'sitemap'")
    assert len(sitemaps) == 3 and "/om-oss/" not in " ".join(frames["pages"]["url"])  # out of scope: not fetched
    assert set(frames["pages"].query("page_kind == 'project'")["via"]) == {"sitemap"}
    assert frames["sources"].iloc[0]["crawl_complete"]


def test_a_retired_address_behind_a_permanent_redirect_moves_the_source(tmp_path):
    with serve(RouteSite()) as site:
        paths = _projects(site)
        site.routes["/sv/Resultat/Projektbanken-2014-2020/Alla-Projekt/"] = Response(
            301, b"", {"Location": "/resultat/projektbanken/"}
        )
        site.routes["/resultat/projektbanken/"] = Response(200, listing(paths))
        instance_out = tmp_path / "out"
        for _ in range(2):
            assert run_assets(
                [f"esf={site.url('/sv/Resultat/Projektbanken-2014-2020/Alla-Projekt/')}"], instance_out
            ).success
    assert _found(instance_out) == NUMBERS
    frames = tables(instance_out)
    start = frames["pages"].query("fetch_outcome == 'moved'")
    assert start["redirect_to"].tolist() == [site.url("/resultat/projektbanken/")]
    source = frames["sources"].iloc[0]
    assert source["crawl_complete"] and source["start_url"] == site.url("/resultat/projektbanken/")


def test_query_string_pagination_is_followed(tmp_path):
    with serve(RouteSite()) as site:
        paths = _projects(site)
        for page in range(1, 4):
            chunk = paths[(page - 1) * 2 : page * 2]
            following = f"/resultat/projektbanken/?page={page + 1}" if page < 3 else None
            site.routes["/resultat/projektbanken/" + (f"?page={page}" if page > 1 else "")] = Response(
                200, listing(chunk, following)
            )
        assert run_assets([f"esf={site.url('/resultat/projektbanken/')}"], tmp_path / "out").success
    assert _found(tmp_path / "out") == NUMBERS


def test_a_list_of_addresses_is_crawled(tmp_path):
    with serve(RouteSite()) as site:
        paths = _projects(site)
        site.routes["/resultat/projektbanken/"] = Response(200, SEARCH_FORM)
        url_list = tmp_path / "adresser.txt"
        url_list.write_text(
            "# projects to fetch\n" + "\n".join(site.url(p) for p in paths) + "\nhttp://elsewhere.invalid/\n"
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                "run",
                "--start-url",
                f"esf={site.url('/resultat/projektbanken/')}",
                "--urls-from",
                str(url_list),
                "--output",
                str(tmp_path / "out"),
                "--delay",
                "0",
            ],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert _found(tmp_path / "out") == NUMBERS
    assert "out of the source's scope: not fetched" in done.stderr


def test_the_official_export_leads_to_every_project_through_the_url_template(tmp_path):
    site = RouteSite()
    site.routes["/resultat/projektbanken/"] = Response(200, (FIXTURES / "export" / "site" / "index.html").read_bytes())
    for page in (FIXTURES / "export" / "site" / "projekt").glob("*.html"):
        site.routes[f"/resultat/projektbanken/projekt/{page.name}"] = Response(200, page.read_bytes())
    with serve(site):
        result = run_assets([f"esf={site.url('/resultat/projektbanken/')}"], tmp_path / "out")
        assert result.success  # without the export: nothing is found, and the source says so
        frames = tables(tmp_path / "out")
        assert frames["projects"].empty and frames["sources"].iloc[0]["note"]
        export = FIXTURES / "export" / "operations.csv"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                "run",
                "--start-url",
                f"esf={site.url('/resultat/projektbanken/')}",
                "--export",
                str(export),
                "--project-url",
                site.url("/resultat/projektbanken/projekt/{dnr}.html"),
                "--output",
                str(tmp_path / "out"),
                "--delay",
                "0",
            ],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "out"
    pages = pd.read_parquet(out / "pages.parquet")
    assert {"23-017-S01", "23-042-S02"} <= set(_found(out))
    assert set(pages.query("via == 'export'")["url"].str.rsplit("/", n=1).str[-1]) >= {
        "23-017-S01.html",
        "23-042-S02.html",
    }
    operations = pd.read_parquet(out / "operations.parquet")
    assert "23-017-S01" in set(operations["project_id"])
    discrepancies = pd.read_parquet(out / "project_discrepancies.parquet")
    budget = discrepancies.query("project_id == '23-042-S02' and field == 'total_budget_sek'")
    assert len(budget) == 1
    organisations = pd.read_parquet(out / "organisations.parquet")
    assert "2120009994" in set(organisations["org_number"])
    everything = " ".join(pd.read_parquet(p).astype(str).to_string() for p in out.glob("*.parquet"))
    assert "8112289874" not in everything and "811228-9874" not in everything  # a personal identity number
    import duckdb

    catalog = duckdb.connect(str(out / "esf.duckdb"), read_only=True)
    described = catalog.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'projects' AND comment IS NOT NULL"
    ).fetchone()[0]
    assert described == len(pd.read_parquet(out / "projects.parquet").columns)


def test_a_sample_run_keeps_at_most_the_limit(tmp_path):
    with serve(RouteSite()) as site:
        paths = _projects(site)
        site.routes["/resultat/projektbanken/"] = Response(200, listing(paths))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                "run",
                "--start-url",
                f"esf={site.url('/resultat/projektbanken/')}",
                "--limit",
                "5",
                "--output",
                str(tmp_path / "out"),
                "--delay",
                "0",
                "--concurrency",
                "4",
            ],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(_found(tmp_path / "out")) <= 5 and len(_found(tmp_path / "out")) >= 1
    assert "a sample of 5 project pages" in done.stdout


def test_the_configured_sources_are_valid_and_named():
    from pipeline.sources import configured_sources

    sources = configured_sources()
    names = [source.name for source in sources]
    assert names[0] == "esf_projektbanken" and len(set(names)) == len(names)
    assert all(source.start_url.startswith("https://") for source in sources)
    assert "{dnr}" in sources[0].project_url
