"""What the pipeline takes from the parser: its records and announcements as table rows (pipeline/rows.py,
pipeline/schema.py), and every parser file in the parse cache's key (pipeline/parse_step.py). The
parser's own tests are in tests/parsers/."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from parsers.page import parse_page
from parsers.press_release import link_announcements
from tests.conftest import FIXTURES

PROJECT_URL = "http://127.0.0.1/projektbanken/projekt/x.html"
RELEASES = FIXTURES / "markup" / "esf_press_release"
RELEASE_URL = "http://127.0.0.1/pressmeddelanden/socialfonden-beviljar/"


def parse_project(body: str):
    return parse_page(f"<html><body>{body}</body></html>".encode(), PROJECT_URL, "text/html; charset=utf-8")


def parse_release(path: Path):
    return parse_page(path.read_bytes(), RELEASE_URL, "text/html; charset=utf-8")


# ---------------------------------------------------------------- projects (from tests/parsers/test_page_parser.py)


def test_extra_fields_survive_into_the_projects_row():
    from pipeline.rows import content_rows

    result = parse_project("<p>Projektnummer: 2018/00123</p><p>Nytt fält: värde</p>")
    rows = content_rows(result, PROJECT_URL)
    assert json.loads(rows.projects[0]["extra_fields"]) == {"Nytt fält": "värde"}
    assert ("Nytt fält", "unknown_label") in {(i["field"], i["problem"]) for i in rows.parse_issues}


# ---------------------------------------------------------------- grant announcements (from tests/parsers/test_press_release.py)


def test_rows_of_the_grant_announcements_table():
    from pipeline.rows import content_rows
    from pipeline.schema import GRANT_ANNOUNCEMENTS
    from pipeline.table_writer import to_arrow

    result = parse_release(RELEASES / "a.html")
    rows = content_rows(result, RELEASE_URL)
    assert rows.projects == []
    assert [r["project_name"] for r in rows.grant_announcements] == [
        "Vägen vidare",
        "Steg för steg",
        "Ny start i Storå",
        "Brobyggarna",
        "Omställning i länet",
    ]
    assert all(r["source_url"] == RELEASE_URL and r["project_id"] is None for r in rows.grant_announcements)
    assert {(i["problem"], i["url"]) for i in rows.parse_issues} == {
        ("unparseable_amount", RELEASE_URL),
        ("unparseable_announcement", RELEASE_URL),
    }
    table = to_arrow(GRANT_ANNOUNCEMENTS, rows.grant_announcements)
    assert table.schema == GRANT_ANNOUNCEMENTS.schema
    first = table.slice(0, 1).to_pylist()[0]
    assert (first["grant_sek"], first["grant_precision"]) == (Decimal("4200000.00"), Decimal("100000.00"))


def test_rounded_amounts_never_reach_the_exact_money_columns_of_projects():
    from pipeline.schema import GRANT_ANNOUNCEMENTS, PROJECTS

    columns = set(GRANT_ANNOUNCEMENTS.column_names)
    assert {
        "grant_sek",
        "grant_precision",
        "grant_raw",
        "call_amount_sek",
        "call_amount_precision",
        "call_amount_raw",
    } <= columns
    for name in ("grant_sek", "call_amount_sek"):
        description = next(f.description for f in GRANT_ANNOUNCEMENTS.fields if f.name == name)
        assert "ROUNDED" in description and "Not exact" in description
    assert not columns & {"esf_grant_sek", "total_budget_sek"} and "grant_sek" not in PROJECTS.column_names


def test_announcements_join_the_projects_parsed_from_the_project_bank():
    from pipeline.rows import content_rows

    project_page = (
        "<html><body><h1>22-101-S01 - Vägen vidare</h1><dl><dt>Diarienummer:</dt><dd>22-101-S01</dd>"
        "<dt>Projektägare:</dt><dd>EXEMPELBY KOMMUN</dd><dt>Namn:</dt><dd>Vägen vidare</dd>"
        "<dt>Beviljat ESF-stöd:</dt><dd>4 187 500 kr</dd></dl></body></html>"
    )
    project_rows = content_rows(
        parse_page(project_page.encode(), "http://127.0.0.1/p/?dnr=22-101-S01"), "http://127.0.0.1/p/"
    )
    release_rows = content_rows(parse_release(RELEASES / "b.html"), RELEASE_URL)
    linked = link_announcements(release_rows.grant_announcements, project_rows.projects)
    assert linked == ["22-101-S01", None, None, None, None]
    announcement, project = release_rows.grant_announcements[0], project_rows.projects[0]
    # The rounded announcement and the exact grant agree within the printed precision; neither replaces the other.
    assert abs(project["esf_grant_sek"] - announcement["grant_sek"]) <= announcement["grant_precision"] / 2
    assert project["esf_grant_sek"] == Decimal("4187500") and announcement["grant_sek"] == Decimal("4200000")


# ---------------------------------------------------------------- the parse cache


def test_every_parser_file_counts_in_the_parse_cache_key():
    # A change to any parser module or vocabulary (a family's too: parsers/families/, parsers/data/families/)
    # makes every page parse again.
    from pipeline.parse_step import _PARSER_CODE, _PROJECT_ROOT

    counted = {path for pattern in _PARSER_CODE for path in _PROJECT_ROOT.glob(pattern)}
    parser_files = {
        path
        for path in (_PROJECT_ROOT / "parsers").rglob("*")
        if path.is_file() and path.suffix in (".py", ".toml", ".csv")
    }
    assert parser_files and parser_files <= counted
    assert all(path.is_file() for path in counted)
