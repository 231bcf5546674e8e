"""project_discrepancies: the official export against the project pages (pipeline/discrepancies.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from parsers.export import read_operations_bytes
from pipeline.discrepancies import COMPARED, PRESENCE, project_discrepancies, sources_agree
from pipeline.schema import DISCREPANCIES
from pipeline.table_writer import to_arrow
from tests.test_organisations import EXPORT, _pages


def _ops(name: str):
    return read_operations_bytes((EXPORT / name).read_bytes(), name)[0]


def test_the_planted_disagreement_and_the_presence_rows():
    rows, summary = project_discrepancies(_pages(), _ops("operations.csv"))
    values = [r for r in rows if r["field"] != PRESENCE]
    assert values == [
        {
            "project_id": "23-042-S02",
            "field": "total_budget_sek",
            "page_value": "2500000.00",
            "export_value": "2600000.00",
            "page_raw": "2 500 000",
            "export_raw": "2 600 000",
            "source_url": "http://127.0.0.1/projekt/23-042-S02.html",
            "export_line": 3,
            "note": None,
        }
    ]
    presence = {(r["project_id"], r["page_value"], r["export_value"]) for r in rows if r["field"] == PRESENCE}
    assert presence == {
        ("24-003-S01", "present", "absent"),
        ("24-110-S03", "absent", "present"),
        ("24-111-S01", "absent", "present"),
        ("24-112-S02", "absent", "present"),
    }
    assert summary.as_dict() == {
        "compared": 2,
        "disagreeing": 1,
        "share": 0.5,
        "only_on_pages": 1,
        "only_in_export": 3,
        "by_field": {"total_budget_sek": 1},
    }
    assert to_arrow(DISCREPANCIES, rows).num_rows == len(rows)


def test_english_only_export_finds_its_planted_end_date():
    rows, summary = project_discrepancies(_pages(), _ops("operations_english.csv"))
    values = [
        (r["project_id"], r["field"], r["page_value"], r["export_value"], r["export_raw"])
        for r in rows
        if r["field"] != PRESENCE
    ]
    # The owner differs in case only on 23-017-S01 (equal); 23-042-S02 ends a year later in the export.
    assert values == [("23-042-S02", "end_date", "2025-12-31", "2026-12-31", "2026-12-31")]
    assert summary.compared == 2 and summary.only_on_pages == 1 and summary.only_in_export == 0


def _project(**values):
    base = {
        "project_id": "23-001-S01",
        "project_number": "23-001-S01",
        "page_family": "esf_plus_2021_2027",
        "programme_period": "2021-2027",
        "source_url": "http://x/p",
        "period_precision": "day",
    }
    return {**base, **values}


def _op(**values):
    return {"project_id": "23-001-S01", "source_line": 2, "programme_period": "2021-2027", **values}


@pytest.mark.parametrize(
    "field, page, export, equal",
    [
        ("total_budget_sek", Decimal("4973906.00"), Decimal("4973906"), True),
        ("total_budget_sek", Decimal("4973906.00"), Decimal("4973906.01"), False),  # one öre
        ("esf_grant_sek", Decimal("100"), Decimal("100.00"), True),
        ("eu_cofinancing_rate", 0.9, Decimal("0.900000"), True),  # the page's double against an exact fraction
        ("eu_cofinancing_rate", 0.4958, Decimal("0.4958"), True),
        ("eu_cofinancing_rate", 0.4958, Decimal("0.4959"), False),
        ("start_date", date(2023, 9, 1), date(2023, 9, 1), True),
        ("start_date", date(2023, 9, 1), date(2023, 9, 2), False),
        ("owner", "Uppsala kommun", "UPPSALA  KOMMUN", True),
        ("owner", "Region Värmland, Regionens kansli", "REGION VÄRMLAND", False),
        ("owner_org_number", "2120009994", "2120009994", True),
        ("owner_org_number", "2120009994", "2120009986", False),
        ("specific_objective", "A2A", "A2A", True),
        ("specific_objective", "A2A", "A1A", False),
    ],
)
def test_equality_field_by_field(field, page, export, equal):
    export_field = dict(COMPARED)[field]
    rows, summary = project_discrepancies([_project(**{field: page})], [_op(**{export_field: export})])
    assert [r["field"] for r in rows] == ([] if equal else [field])
    assert summary.compared == 1 and summary.disagreeing == (0 if equal else 1)


def test_a_value_one_source_leaves_empty_is_no_disagreement():
    rows, _ = project_discrepancies(
        [_project(total_budget_sek=None, esf_grant_sek=Decimal(5))],
        [_op(total_budget_sek=Decimal(7), eu_contribution_sek=None)],
    )
    assert rows == []


def test_a_page_period_printed_to_the_year_or_month_agrees_within_it():
    year = _project(start_date=date(2018, 1, 1), end_date=date(2020, 12, 31), period_precision="year")
    rows, _ = project_discrepancies([year], [_op(start_date=date(2018, 3, 1), end_date=date(2021, 2, 28))])
    assert [(r["field"], r["note"]) for r in rows] == [("end_date", "the page prints the period to the year")]
    month = _project(start_date=date(2018, 3, 1), end_date=date(2019, 6, 30), period_precision="month")
    rows, _ = project_discrepancies([month], [_op(start_date=date(2018, 3, 15), end_date=date(2019, 6, 30))])
    assert rows == []


def test_a_grant_against_an_eu_contribution_says_what_is_compared():
    rows, _ = project_discrepancies([_project(esf_grant_sek=Decimal(200))], [_op(eu_contribution_sek=Decimal(100))])
    assert rows[0]["field"] == "esf_grant_sek" and "co-financing" in rows[0]["note"]


def test_pages_outside_the_export_s_scope_are_not_listed_as_missing():
    others = [
        _project(project_id="tv-x", project_number=None, page_family="tillvaxtverket_theme", programme_period=None),
        _project(
            project_id="2016/00418",
            project_number="2016/00418",
            page_family="esf_2014_2020",
            programme_period="2014-2020",
        ),
        _project(project_id="23-009-S01", project_number="23-009-S01", status="removed"),
    ]
    rows, summary = project_discrepancies(others, [_op()])
    assert [(r["project_id"], r["field"]) for r in rows] == [("23-009-S01", PRESENCE), ("23-001-S01", PRESENCE)]
    assert "removed" in rows[0]["note"] and summary.only_on_pages == 1


def test_the_check_reports_the_share_and_never_blocks():
    _, summary = project_discrepancies(_pages(), _ops("operations.csv"))
    outcome = sources_agree(summary, max_share=0.1)
    assert not outcome.passed and not outcome.blocking and outcome.failures[0]["share"] == 0.5
    assert sources_agree(summary, max_share=0.5).passed
    _, empty = project_discrepancies([], [])
    assert sources_agree(empty).passed and empty.share is None


def test_over_loopback_the_export_leads_to_pages_the_listing_does_not_link():
    # The export and the site served on 127.0.0.1: the listing links no project; the export's Diarienummer and a
    # project URL template reach the pages (what --export and --project-url will do), and the sources are compared.
    import httpx

    from parsers.page import parse_page
    from pipeline.demo import serve_directory
    from pipeline.organisations import build_organisations
    from pipeline.rows import content_rows

    with serve_directory(EXPORT) as base, httpx.Client(timeout=10) as client:
        listing = parse_page(client.get(f"{base}/site/index.html").content, f"{base}/site/index.html", "text/html")
        assert listing.records == [] and not [link for link in listing.links if "/projekt/" in link[0]]
        export = client.get(f"{base}/operations.csv")
        operations, _ = read_operations_bytes(export.content, f"{base}/operations.csv")
        template = base + "/site/projekt/{dnr}.html"
        projects = []
        for op in operations:
            response = client.get(template.format(dnr=op["project_id"]))
            if response.status_code == 200:
                url = str(response.url)
                projects += content_rows(parse_page(response.content, url, "text/html"), url).projects
    assert sorted(p["project_id"] for p in projects) == ["23-017-S01", "23-042-S02"]  # 24-003-S01 is in no export
    rows, summary = project_discrepancies(projects, operations)
    assert [(r["project_id"], r["field"]) for r in rows if r["field"] != PRESENCE] == [
        ("23-042-S02", "total_budget_sek")
    ]
    assert summary.compared == 2 and summary.only_in_export == 3
    organisations, _ = build_organisations(projects, operations)
    assert [o["org_number"] for o in organisations] == ["2120009994", "5566770011"]


def test_the_declared_project_columns_are_all_the_builders_read():
    from pipeline.discrepancies import PROJECT_COLUMNS
    from pipeline.organisations import OPERATION_COLUMNS, build_organisations
    from pipeline.organisations import PROJECT_COLUMNS as ORG_COLUMNS
    from pipeline.schema import OPERATIONS, PROJECTS

    assert set(PROJECT_COLUMNS) | set(ORG_COLUMNS) <= set(PROJECTS.column_names)
    assert set(OPERATION_COLUMNS) <= set(OPERATIONS.column_names)
    pages, operations = _pages(), _ops("operations.csv")
    slim = [{c: p.get(c) for c in PROJECT_COLUMNS} for p in pages]
    assert project_discrepancies(slim, operations)[0] == project_discrepancies(pages, operations)[0]
    slim = [{c: p.get(c) for c in ORG_COLUMNS} for p in pages]
    slim_ops = [{c: o.get(c) for c in OPERATION_COLUMNS} for o in operations]
    assert build_organisations(slim, slim_ops) == build_organisations(pages, operations)
