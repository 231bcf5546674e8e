"""Dagster-native operation: checks pass on good data and fail on bad, a blocking failure keeps the
previous tables, the re-parse job makes no HTTP request, and source selection leaves other sources alone."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal

import dagster as dg
import pyarrow.parquet as pq
import pytest

from pipeline.checks import project_checks
from tests.conftest import run_assets

GOOD = {
    "project_id": "2020/00001",
    "page_family": "esf_2014_2020",
    "source_url": "http://x/1",
    "start_date": dt.date(2020, 1, 1),
    "end_date": dt.date(2021, 1, 1),
    "esf_grant_sek": Decimal(1),
    "total_budget_sek": Decimal(2),
    "eu_cofinancing_rate": 0.5,
    "planned_participants": 3,
    "region_nuts2": "SE31",
    "status": "active",
}


def _outcomes(projects, issues=(), previous=None):
    return {o.name: o for o in project_checks(list(projects), list(issues), previous)}


def test_checks_pass_on_good_data():
    outcomes = _outcomes([GOOD, {**GOOD, "project_id": "2020/00002"}], previous=2)
    assert all(o.passed for o in outcomes.values()), [o for o in outcomes.values() if not o.passed]


@pytest.mark.parametrize(
    "bad, check",
    [
        ({"project_id": "2020/00001"}, "project_id_unique"),
        ({"project_id": "2020/00002", "source_url": None}, "required_columns_present"),
        ({"project_id": "2020/00002", "start_date": dt.date(2022, 1, 1)}, "start_not_after_end"),
        ({"project_id": "2020/00002", "esf_grant_sek": Decimal(3)}, "grant_within_budget"),
        ({"project_id": "2020/00002", "eu_cofinancing_rate": 1.5}, "rate_is_fraction"),
        ({"project_id": "2020/00002", "planned_participants": -1}, "participants_not_negative"),
        ({"project_id": "2020/00002", "region_nuts2": "SE99"}, "nuts2_known"),
    ],
)
def test_each_check_fails_on_crafted_bad_data(bad, check):
    outcomes = _outcomes([GOOD, {**GOOD, **bad}])
    assert not outcomes[check].passed
    assert [name for name, o in outcomes.items() if not o.passed] == [check]
    # The same outcome from rows holding only the columns the checks declare they read.
    from pipeline.checks import ProjectChecks

    columns = ProjectChecks().columns
    narrow = _outcomes([{c: row.get(c) for c in columns} for row in (GOOD, {**GOOD, **bad})])
    assert {n: o.passed for n, o in narrow.items()} == {n: o.passed for n, o in outcomes.items()}


def test_projects_check_specs_are_made_from_the_registry():
    """The Dagster check specs on projects: the registry's constraints' checks (with their blocking flags
    and descriptions), then the run-level checks, on the output asset."""
    from assets.tables import output_tables
    from pipeline.checks import RUN_CHECKS
    from pipeline.schema import PROJECTS

    specs = list(output_tables.check_specs)
    assert {s.asset_key.to_user_string() for s in specs} == {"projects"}
    made = [*PROJECTS.check_specs, *RUN_CHECKS]
    assert [(s.name, s.blocking, s.description) for s in specs] == [(s.name, s.blocking, s.description) for s in made]


def test_unknown_label_share_and_collapse_checks():
    issues = [{"problem": "unknown_label"}] * 3
    assert not _outcomes([GOOD], issues)["unknown_label_share"].passed
    assert not _outcomes([GOOD], previous=10)["project_count_not_collapsed"].passed


def test_blocking_check_keeps_previous_tables(tmp_path, demo_output, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(demo_output, out)
    before = (out / "projects.parquet").read_bytes()

    import pipeline.rows as rows_module

    original = rows_module._record_rows

    def corrupt(record, rows):  # an impossible co-financing rate: rate_is_fraction must block
        original(record, rows)
        rows.projects[-1]["eu_cofinancing_rate"] = 1.5

    monkeypatch.setattr(rows_module, "_record_rows", corrupt)
    result = _reparse_job(out).execute_in_process(raise_on_error=False, instance=dg.DagsterInstance.ephemeral())
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert "rate_is_fraction" in failure.message + str(failure.cause and failure.cause.message)
    assert (out / "projects.parquet").read_bytes() == before
    assert not list(out.glob(".*.tmp"))  # the unpublished tables are removed


def _reparse_job(output):
    """The project's own re-parse job, from the project's Definitions factory, writing to ``output``."""
    from pipeline.definitions import defs, make_definitions

    assert defs.resolve_job_def("reparse_from_raw") is not None
    return make_definitions({}, output={"path": str(output)}).resolve_job_def("reparse_from_raw")


def test_reparse_job_reads_raw_pages_and_makes_no_http_request(tmp_path, demo_output, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(demo_output, out)
    import httpx

    def no_network(*args, **kwargs):
        raise AssertionError("the re-parse job must not make HTTP requests")

    monkeypatch.setattr(httpx.AsyncClient, "send", no_network)
    monkeypatch.setattr(httpx.Client, "send", no_network)
    (out / "projects.parquet").unlink()
    result = _reparse_job(out).execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    rebuilt = pq.read_table(out / "projects.parquet").to_pandas()
    assert len(rebuilt) == len(pq.read_table(demo_output / "projects.parquet"))
    pages = pq.read_table(out / "pages.parquet").to_pandas()
    assert pages.query("page_kind == 'project'")["parsed_in_run"].all()  # really parsed again
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "crawled_pages" not in materialized and "projects" in materialized


def test_table_assets_report_row_counts_and_schemas(demo_site_url, tmp_path):
    result = run_assets([demo_site_url], tmp_path / "out")
    by_key = {
        e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    assert by_key["projects"]["dagster/row_count"].value == 14
    schema = by_key["projects"]["dagster/column_schema"].value
    assert schema.columns[0].name == "project_id" and schema.columns[0].description
    assert by_key["crawled_pages"]["pages_fetched"].value == 8
    assert by_key["parsed_records"]["projects_by_family"].value["tillvaxtverket_theme"] == 8
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)


def test_source_selection_leaves_other_sources_alone(tmp_path):
    from pipeline.demo import serve_directory
    from tests.test_nightly import project_page

    for name, number in (("a", "2021/00001"), ("b", "2021/00002")):
        folder = tmp_path / "site" / name
        folder.mkdir(parents=True)
        (folder / "index.html").write_text('<a href="p.html">p</a>')
        (folder / "p.html").write_bytes(project_page(number, f"Källa {name}"))
    out = tmp_path / "out"
    with serve_directory(tmp_path / "site") as base:
        urls = [f"a={base}/a/", f"b={base}/b/"]
        assert run_assets(urls, out).success
        (tmp_path / "site" / "b" / "p.html").unlink()  # b's project would look removed if b were crawled
        result = run_assets(urls, out, only_sources=["a"])
    assert result.success
    projects = pq.read_table(out / "projects.parquet").to_pandas().set_index("project_id")
    assert projects.loc["2021/00002", "status"] == "active"
    assert projects.loc["2021/00001", "status"] == "active"


def test_a_page_linked_from_another_source_first_is_still_crawled_by_its_own(tmp_path):
    from pipeline.demo import serve_directory
    from tests.test_nightly import project_page

    site = tmp_path / "site"
    for name in ("a", "b"):
        (site / name).mkdir(parents=True)
    # a links to b's project page (out of a's scope) before b's own listing, one page deeper, does.
    (site / "a" / "index.html").write_text('<a href="p.html">p</a> <a href="../b/q.html">b</a>')
    (site / "a" / "p.html").write_bytes(project_page("2021/00001", "Källa a"))
    (site / "b" / "index.html").write_text('<a href="list2.html">next</a>')
    (site / "b" / "list2.html").write_text('<a href="q.html">q</a>')
    (site / "b" / "q.html").write_bytes(project_page("2021/00002", "Källa b"))
    with serve_directory(site) as base:
        assert run_assets([base + "/a/", base + "/b/"], tmp_path / "out").success
    projects = pq.read_table(tmp_path / "out" / "projects.parquet").to_pandas()
    assert sorted(projects["project_id"]) == ["2021/00001", "2021/00002"]


def test_without_personal_data_contact_values_are_nowhere(tmp_path):
    from pipeline.demo import serve_directory
    from tests.test_nightly import project_page

    site = tmp_path / "site"
    site.mkdir()
    page = project_page("2021/00003", "Region Skåne").replace(
        b"</dl>",
        (
            "<dt>Kontaktperson:</dt><dd>Anna Andersson</dd><dt>E-post:</dt><dd>anna vid kommunen</dd>"
            # Labels the vocabulary does not know: the values still name a person.
            "<dt>Mobil 2:</dt><dd>070-765 43 21</dd><dt>Reservkontakt:</dt><dd>anna.annan@kommun.se</dd>"
            "<dt>Målgrupp:</dt><dd>Unga vuxna</dd></dl>"
        ).encode(),
    )
    (site / "p.html").write_bytes(page)
    (site / "index.html").write_text('<a href="p.html">p</a>')
    tables = {}
    with serve_directory(site) as base:
        for personal in (True, False):
            out = tmp_path / f"out-{personal}"
            assert run_assets([base + "/"], out, output_options={"personal_data": personal}).success
            tables[personal] = {
                name: pq.read_table(out / f"{name}.parquet").to_pandas()
                for name in ("project_fields", "parse_issues", "projects", "project_sections")
            }
    with_contacts, without = tables[True], tables[False]
    assert "Anna Andersson" in set(with_contacts["project_fields"]["raw_value"])
    bad_email = with_contacts["parse_issues"].query("field == 'contact_email'")
    assert bad_email["raw_value"].tolist() == ["anna vid kommunen"]  # reported, with the raw text
    assert not {"contact_name", "contact_email"} & set(without["project_fields"]["field"])
    redacted = without["parse_issues"].query("field == 'contact_email'")
    assert len(redacted) == 1 and redacted["raw_value"].isna().all() and "personal data" in redacted["note"].iloc[0]
    extra = json.loads(with_contacts["projects"]["extra_fields"].iloc[0])
    assert extra["Mobil 2"] == "070-765 43 21" and extra["Reservkontakt"] == "anna.annan@kommun.se"
    kept = json.loads(without["projects"]["extra_fields"].iloc[0])
    assert kept == {**extra, "Mobil 2": None, "Reservkontakt": None}  # labels kept, values left out
    for frame in without.values():
        assert not frame.astype(str).apply(lambda column: column.str.contains("Anna|anna|070-765")).any().any()
