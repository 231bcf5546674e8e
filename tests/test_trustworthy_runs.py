"""Removals need proof, identities do not move with the server, and a run that saw less changes less.
Each test crawls a loopback site over real HTTP with real Dagster materialisations, changes the site
between runs, and reads back the published Parquet files."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.cli import _failure_message
from tests.conftest import run_assets
from tests.sitekit import Response, RouteSite, listing, project_page, serve

NUMBERS = [f"2022/{n:05d}" for n in range(1, 7)]


def bank(site: RouteSite, numbers: list[str] = NUMBERS, per_page: int = 3) -> None:
    """A listing of project pages in pages of ``per_page``, each project at /bank/p/<n>.html."""
    pages = [numbers[i : i + per_page] for i in range(0, len(numbers), per_page)]
    for n, chunk in enumerate(pages):
        path = "/bank/" if n == 0 else f"/bank/sida-{n + 1}.html"
        following = f"/bank/sida-{n + 2}.html" if n + 1 < len(pages) else None
        site.routes[path] = Response(200, listing([f"/bank/p/{number[-1]}.html" for number in chunk], following))
    for number in numbers:
        site.routes[f"/bank/p/{number[-1]}.html"] = Response(200, project_page(number, f"Ägare {number[-1]}"))


def tables(out) -> dict[str, pd.DataFrame]:
    return {
        name: pq.read_table(out / f"{name}.parquet").to_pandas()
        for name in ("projects", "project_changes", "pages", "parse_issues", "sources")
    }


def statuses(out) -> dict[str, str]:
    projects = tables(out)["projects"]
    return dict(zip(projects["project_id"], projects["status"]))


def crawl(site: RouteSite, out, name: str = "bank", path: str = "/bank/", **options):
    result = run_assets([f"{name}={site.url(path)}"], out, **options)
    assert result.success, [e.message for e in result.all_events if e.is_failure][:2]
    return tables(out)


@pytest.fixture()
def site():
    with serve(RouteSite()) as running:
        bank(running)
        yield running


def test_the_same_crawl_twice_changes_nothing(site, tmp_path):
    out = tmp_path / "out"
    first = crawl(site, out)
    second = crawl(site, out)
    assert set(second["projects"]["status"]) == {"active"} and len(second["projects"]) == 6
    assert second["project_changes"].empty
    assert not (second["parse_issues"]["problem"] == "duplicate_project").any()
    run_time = ["first_seen_at", "last_seen_at", "last_changed_at"]
    pd.testing.assert_frame_equal(
        first["projects"].drop(columns=["last_seen_at"]), second["projects"].drop(columns=["last_seen_at"])
    )
    assert (second["projects"][run_time[0]] == first["projects"][run_time[0]]).all()


def test_a_site_that_moves_host_port_and_root_keeps_its_projects(site, tmp_path):
    """The same pages served elsewhere: no project is removed or duplicated; derived ids stay; every
    address change is one history row."""
    out = tmp_path / "out"
    site.routes["/bank/p/7.html"] = Response(200, project_page(None, "Region Dalarna", "Utan nummer"))
    site.routes["/bank/"] = Response(200, listing(["/bank/p/1.html", "/bank/p/7.html"], "/bank/sida-2.html"))
    first = crawl(site, out)
    moved = RouteSite()
    moved.routes = {
        path.replace("/bank/", "/nya-banken/"): Response(r.status, r.body.replace(b"/bank/", b"/nya-banken/"))
        for path, r in site.routes.items()
        if isinstance(r, Response)
    }
    with serve(moved):
        second = crawl(moved, out, path="/nya-banken/")
    assert sorted(second["projects"]["project_id"]) == sorted(first["projects"]["project_id"])
    assert set(second["projects"]["status"]) == {"active"}
    changes = second["project_changes"]
    assert set(changes["field"]) == {"source_url"} and len(changes) == len(first["projects"])
    assert second["projects"]["source_url"].str.contains("/nya-banken/").all()


def test_a_typo_in_the_start_url_removes_nothing(site, tmp_path):
    out = tmp_path / "out"
    crawl(site, out)
    for _ in range(3):  # three runs: more than the two complete runs a removal by absence needs
        after = crawl(site, out, path="/bank/typo/")
    assert set(after["projects"]["status"]) == {"active"} and after["project_changes"].empty
    source = after["sources"].set_index("source").loc["bank"]
    assert not source["crawl_complete"] and "start page failed" in source["partial_reason"]
    assert "crawl_partial" in set(after["parse_issues"]["problem"])


def test_a_run_of_one_project_page_removes_nothing(site, tmp_path):
    out = tmp_path / "out"
    crawl(site, out)
    for _ in range(3):
        after = crawl(site, out, path="/bank/p/1.html")
    assert set(after["projects"]["status"]) == {"active"} and len(after["projects"]) == 6
    assert after["project_changes"].empty
    assert not after["sources"].set_index("source").loc["bank", "crawl_complete"]


def test_sources_are_named_not_numbered(site, tmp_path):
    """Giving the second source alone keeps the first one's projects: names, not positions."""
    other = RouteSite()
    bank(other, ["2023/00001", "2023/00002"])
    out = tmp_path / "out"
    with serve(other):
        assert run_assets([f"first={site.url('/bank/')}", f"second={other.url('/bank/')}"], out).success
        for _ in range(3):
            assert run_assets([f"second={other.url('/bank/')}"], out).success
    assert set(statuses(out).values()) == {"active"} and len(statuses(out)) == 8


FAULTS = {
    "503": Response(503, b"<h1>Service Unavailable</h1>"),
    "500": Response(500, b"<h1>Internal Server Error</h1>"),
    "empty 200": Response(200, b""),
    "maintenance": Response(
        200, "<html><body><h1>Sidan är tillfälligt stängd för underhåll</h1></body></html>".encode()
    ),
    "login redirect out of scope": Response(302, b"", {"Location": "/login"}),
    "login redirect in scope": Response(302, b"", {"Location": "/bank/login"}),
}


@pytest.mark.parametrize("page", ["/bank/", "/bank/sida-2.html"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failing_listing_removes_nothing(site, tmp_path, fault, page):
    out = tmp_path / "out"
    crawl(site, out)
    site.routes[page] = FAULTS[fault]
    site.routes["/bank/login"] = Response(200, b"<html><body><form><input name=user></form></body></html>")
    for _ in range(2):
        after = crawl(site, out, retries=0)
    assert set(after["projects"]["status"]) == {"active"}, fault
    assert after["project_changes"].empty
    assert not after["sources"].set_index("source").loc["bank", "crawl_complete"]


def test_a_page_budget_reached_removes_nothing(site, tmp_path):
    out = tmp_path / "out"
    crawl(site, out)
    for _ in range(2):
        after = crawl(site, out, max_pages=3)
    assert set(after["projects"]["status"]) == {"active"} and after["project_changes"].empty
    assert "page budget of 3" in after["sources"].set_index("source").loc["bank", "partial_reason"]


def test_a_page_that_answers_404_removes_its_project_at_once(site, tmp_path):
    out = tmp_path / "out"
    crawl(site, out)
    site.routes["/bank/p/2.html"] = Response(404, b"<h1>Sidan finns inte</h1>")
    after = crawl(site, out)
    projects = after["projects"].set_index("project_id")
    assert projects.loc["2022/00002", "status"] == "removed"
    assert projects.loc["2022/00002", "removed_at"] is not None
    assert projects.loc["2022/00002", "owner"] == "Ägare 2"  # last known data kept
    assert (projects.drop("2022/00002")["status"] == "active").all()
    change = after["project_changes"].query("field == 'status'")
    assert change[["project_id", "old_value", "new_value"]].values.tolist() == [["2022/00002", "active", "removed"]]


def test_a_project_no_longer_listed_is_removed_after_two_complete_runs(site, tmp_path):
    out = tmp_path / "out"
    crawl(site, out)
    site.routes["/bank/"] = Response(200, listing(["/bank/p/1.html", "/bank/p/3.html"], "/bank/sida-2.html"))
    assert crawl(site, out)["projects"].set_index("project_id").loc["2022/00002", "status"] == "active"
    assert statuses(out)["2022/00002"] == "active"
    after = crawl(site, out)
    assert statuses(out)["2022/00002"] == "removed"
    assert after["sources"].set_index("source").loc["bank", "removed_in_run"] == 1
    # It comes back: active again, removed_at cleared, one history row each way.
    bank(site)
    back = crawl(site, out)
    project = back["projects"].set_index("project_id").loc["2022/00002"]
    assert project["status"] == "active" and pd.isna(project["removed_at"])
    rows = back["project_changes"].query("project_id == '2022/00002'")
    assert rows[["field", "old_value", "new_value"]].values.tolist() == [
        ["status", "active", "removed"],
        ["status", "removed", "active"],
    ]


def test_full_refresh_checks_pages_no_longer_listed_and_a_404_removes(site, tmp_path):
    out = tmp_path / "out"
    crawl(site, out)
    site.routes["/bank/"] = Response(200, listing(["/bank/p/1.html", "/bank/p/3.html"], "/bank/sida-2.html"))
    site.routes["/bank/p/2.html"] = Response(404, b"")
    crawl(site, out)
    assert statuses(out)["2022/00002"] == "active"  # one complete run without it: not yet
    site.hits.clear()
    crawl(site, out, full_refresh=True)
    assert "/bank/p/2.html" in site.hits and statuses(out)["2022/00002"] == "removed"


def test_a_page_that_moved_keeps_its_project_active_with_the_new_address(site, tmp_path):
    out = tmp_path / "out"
    crawl(site, out)
    site.routes["/bank/p/2.html"] = Response(301, b"", {"Location": "/bank/projekt/2.html"})
    site.routes["/bank/projekt/2.html"] = Response(200, project_page("2022/00002", "Ägare 2"))
    for _ in range(3):
        after = crawl(site, out)
    project = after["projects"].set_index("project_id").loc["2022/00002"]
    assert project["status"] == "active" and project["source_url"] == site.url("/bank/projekt/2.html")
    changes = after["project_changes"]
    assert changes[["project_id", "field"]].values.tolist() == [["2022/00002", "source_url"]]
    pages = after["pages"].set_index("url")
    assert pages.loc[site.url("/bank/p/2.html"), "fetch_outcome"] == "redirected"


def test_the_removal_guard_stops_a_mass_removal_unless_allowed(site, tmp_path):
    out = tmp_path / "out"
    crawl(site, out)
    before = (out / "projects.parquet").read_bytes()
    for n in "1234":
        site.routes[f"/bank/p/{n}.html"] = Response(410, b"")
    result = run_assets([f"bank={site.url('/bank/')}"], out)
    assert not result.success
    message = _failure_message(result)
    assert "would remove bank: 4 of 6 active projects" in message and "--allow-removals" in message
    assert (out / "projects.parquet").read_bytes() == before
    crawl(site, out, allow_removals=True)
    assert sorted(k for k, v in statuses(out).items() if v == "removed") == NUMBERS[:4]


def test_the_count_collapse_check_counts_active_projects(tmp_path):
    from pipeline.checks import project_checks

    rows = [
        {"project_id": f"p{n}", "page_family": "esf_2014_2020", "source_url": "u", "status": "removed"}
        for n in range(10)
    ]
    outcome = {o.name: o for o in project_checks(rows, [], previous_active=10)}["project_count_not_collapsed"]
    assert not outcome.passed and outcome.failures == [0]


# ---------------------------------------------------------------- found from outside (round 1)


def _unnumbered_bank(site: RouteSite, prefix: str = "/bank/") -> None:
    """A bank whose projects have no number: their ids are derived from the source, page and name."""
    site.routes[prefix] = Response(200, listing([f"{prefix}p/{n}.html" for n in range(3)]))
    for n in range(3):
        site.routes[f"{prefix}p/{n}.html"] = Response(200, project_page(None, f"Region {n}", f"Utan nummer {n}"))


def test_a_site_moved_under_a_deeper_root_keeps_its_unnumbered_projects(tmp_path):
    out = tmp_path / "out"
    with serve(RouteSite()) as old:
        _unnumbered_bank(old, "/")
        crawl(old, out, path="/")
        before = set(tables(out)["projects"]["project_id"])
    with serve(RouteSite()) as new:
        _unnumbered_bank(new, "/esf/projektbanken/")
        for _ in range(3):
            after = crawl(new, out, path="/esf/projektbanken/")
    projects = after["projects"]
    assert set(projects["project_id"]) == before and set(projects["status"]) == {"active"}
    assert projects["source_url"].str.contains("/esf/projektbanken/").all()


def test_an_unnumbered_project_whose_page_moves_keeps_its_id(tmp_path):
    out = tmp_path / "out"
    with serve(RouteSite()) as site:
        _unnumbered_bank(site)
        first = crawl(site, out)
        site.routes["/bank/p/1.html"] = Response(301, b"", {"Location": "/bank/p/1-ny.html"})
        site.routes["/bank/p/1-ny.html"] = Response(200, project_page(None, "Region 1", "Utan nummer 1"))
        for _ in range(3):
            after = crawl(site, out)
    assert set(after["projects"]["project_id"]) == set(first["projects"]["project_id"])
    assert set(after["projects"]["status"]) == {"active"}
    assert after["project_changes"]["field"].tolist() == ["source_url"]


def test_a_one_card_last_page_of_a_card_listing_is_followed(tmp_path):
    out = tmp_path / "out"

    def card(n: int) -> str:
        return (
            f'<div class="kort"><h3><a href="/bank/p/{n}.html">Projekt {n}</a></h3>'
            f"<p>Projektägare: Kommun {n}</p><p>Beviljat ESF-stöd: {n} 000 kr</p></div>"
        )

    with serve(RouteSite()) as site:
        site.routes["/bank/"] = Response(
            200,
            (
                f'<html><body>{"".join(card(n) for n in range(5))}<a href="/bank/?sida=2">Nästa sida</a></body></html>'
            ).encode(),
        )
        site.routes["/bank/?sida=2"] = Response(
            200, (f"<html><body>{card(5)}<a href='/bank/'>Föregående</a></body></html>").encode()
        )
        for n in range(6):
            site.routes[f"/bank/p/{n}.html"] = Response(200, project_page(f"2016/0042{n}", f"Kommun {n}"))
        frames = crawl(site, out)
    assert sorted(frames["projects"]["project_id"]) == [f"2016/0042{n}" for n in range(6)]
    assert frames["sources"].iloc[0]["crawl_complete"]


def test_a_lost_state_keeps_the_child_rows_of_removed_projects(tmp_path):
    out = tmp_path / "out"
    with serve(RouteSite()) as site:
        bank(site)
        crawl(site, out)
        site.routes["/bank/p/2.html"] = Response(404, b"")
        crawl(site, out)
        sections = pd.read_parquet(out / "project_sections.parquet")
        assert "2022/00002" in set(sections["project_id"])
        state = out / "_state" / "sources" / "bank.json"
        state.write_bytes(state.read_bytes()[:50])
        crawl(site, out)
    after = pd.read_parquet(out / "project_sections.parquet")
    assert len(after) == len(sections) and statuses(out)["2022/00002"] == "removed"


def test_a_lost_raw_archive_is_fetched_again(tmp_path):
    import shutil

    out = tmp_path / "out"
    with serve(RouteSite()) as site:
        bank(site)
        first = crawl(site, out)
        shutil.rmtree(out / "raw")
        shutil.rmtree(out / "_parsed")
        second = crawl(site, out)
        third = crawl(site, out)
    assert set(second["pages"]["fetch_outcome"]) == {"fetched"}  # no 304: the bodies are fetched again
    assert {p.stem for p in out.glob("raw/*/*.html")} >= set(third["pages"]["content_sha256"].dropna())
    assert third["projects"][["project_id", "status", "owner"]].equals(
        first["projects"][["project_id", "status", "owner"]]
    )


def test_one_unreachable_source_among_others_is_partial_and_the_rest_is_published(tmp_path):
    out = tmp_path / "out"
    with serve(RouteSite()) as site:
        bank(site)
        result = run_assets([f"bank={site.url('/bank/')}", "gone=http://127.0.0.1:9/bank/"], out)
    assert result.success
    sources = tables(out)["sources"].set_index("source")
    assert sources.loc["bank", "crawl_complete"] and not sources.loc["gone", "crawl_complete"]
    assert len(statuses(out)) == 6


def test_a_listing_that_really_became_empty_is_believed_after_some_runs(tmp_path):
    out = tmp_path / "out"
    with serve(RouteSite()) as site:
        bank(site)
        crawl(site, out)
        site.routes["/bank/sida-2.html"] = Response(200, listing([]))  # its projects are gone from the listing
        complete = [crawl(site, out, allow_removals=True)["sources"].iloc[0]["crawl_complete"] for _ in range(5)]
    assert complete == [False, False, True, True, True]
    assert sorted(k for k, v in statuses(out).items() if v == "removed") == NUMBERS[3:]


def test_full_refresh_does_not_bring_back_an_unlisted_project(tmp_path):
    out = tmp_path / "out"
    with serve(RouteSite()) as site:
        bank(site)
        crawl(site, out)
        site.routes["/bank/"] = Response(200, listing(["/bank/p/1.html", "/bank/p/3.html"], "/bank/sida-2.html"))
        crawl(site, out)
        crawl(site, out)
        assert statuses(out)["2022/00002"] == "removed"
        for refresh in (True, False, False, True):
            crawl(site, out, full_refresh=refresh)
            assert statuses(out)["2022/00002"] == "removed"
    assert len(tables(out)["project_changes"].query("project_id == '2022/00002'")) == 1


def test_a_corrected_start_url_after_a_typo_gives_a_complete_crawl(site, tmp_path):
    out = tmp_path / "out"
    crawl(site, out)
    crawl(site, out, path="/bank/typo/")
    assert crawl(site, out)["sources"].iloc[0]["crawl_complete"]
