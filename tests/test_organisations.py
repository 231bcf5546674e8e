"""Organisation numbers (validation, personal identity numbers, legal-form groups) and the organisations table."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from parsers import values as v
from parsers.export import read_operations_bytes
from parsers.page import parse_page
from pipeline.organisations import build_organisations, export_org_numbers
from pipeline.rows import content_rows
from pipeline.schema import ORGANISATIONS
from pipeline.table_writer import to_arrow
from tests.conftest import FIXTURES

EXPORT = FIXTURES / "export"
PERSONAL = ("8112289874", "811228-9874", "811228")


@pytest.mark.parametrize(
    "raw", ["811228-9874", "8112289874", "19811228-9874", "198112289874", "811228+9874", "811288-9870"]
)  # the last: a coordination number (day + 60)
def test_a_personal_identity_number_is_withheld(raw):
    parsed = v.parse_org_number(raw)
    assert parsed.value is None and parsed.problem == v.PERSONAL_IDENTITY_NUMBER
    assert "8112" not in (parsed.note or "")


@pytest.mark.parametrize("raw", ["8100001234", "811328-9874", "81122898", "811228-98741"])
def test_numbers_that_are_neither_are_withheld_too(raw):
    # Digits 3-4 below 20 and not a month, or a date of birth cut short or run on: no value, no text.
    parsed = v.parse_org_number(raw)
    assert parsed.value is None and parsed.problem == "not_an_org_number"


def test_organisation_numbers_still_read_as_before():
    assert v.parse_org_number("212000-9994") == v.Parsed("2120009994")
    assert v.parse_org_number("16212000-9994") == v.Parsed("2120009994")
    assert v.parse_org_number("802400-1236").problem == "org_number_checksum"
    assert v.parse_org_number("21200-1234").problem == "unparseable_org_number"


def test_every_ten_digit_number_with_a_month_in_digits_3_4_is_personal():
    # The rule, exhaustively over the month position: 01-12 personal, 20-99 organisation, the rest neither.
    for month in range(100):
        digits = f"81{month:02d}281234"
        assert v.is_personal_identity_number(digits) == (1 <= month <= 12)
        if month >= 20:
            assert v.parse_org_number(digits).problem in (None, "org_number_checksum")
        else:
            assert v.parse_org_number(digits).value is None


@pytest.mark.parametrize(
    "number, code, group",
    [
        ("1000000000", "1", "estate"),
        ("2120009994", "2", "state, region, municipality or parish"),
        ("3000000000", "3", "foreign company"),
        ("5566770011", "5", "limited company"),
        ("6000000000", "6", "simple partnership"),
        ("7164003217", "7", "economic association"),
        ("8024001235", "8", "non-profit association or foundation"),
        ("9000000000", "9", "trading or limited partnership"),
        ("0000000000", "0", None),
        ("4123456784", "4", None),
    ],
)
def test_legal_form_group_from_the_first_digit(number, code, group):
    assert v.legal_form_group(number) == (code, group)


def test_valid_org_number():
    assert v.valid_org_number("2120009994") and v.valid_org_number("5566770011")
    assert not v.valid_org_number("2120009995")  # check digit
    assert not v.valid_org_number("8112289874")  # personal identity number (Luhn-valid)
    assert not v.valid_org_number("212000999") and not v.valid_org_number(None)


PAGE = """<html><body><main><h1>24-200-S01 - Enskild firma</h1><dl>
<dt>Diarienummer:</dt><dd>24-200-S01</dd><dt>Namn:</dt><dd>Enskild firma</dd>
<dt>Projektägare:</dt><dd>Anna Exempelsson Konsult</dd>
<dt>Projektägare organisationsnummer:</dt><dd>811228-9874</dd>
<dt>Startdatum:</dt><dd>2024-01-01</dd><dt>Slutdatum:</dt><dd>2024-12-31</dd>
<dt>Program CCI:</dt><dd>2021SE05SFPR</dd><dt>Berörd fond:</dt><dd>ESF+</dd>
</dl></main></body></html>"""


def test_a_page_never_publishes_a_personal_identity_number():
    url = "http://127.0.0.1/projekt/24-200-S01.html"
    rows = content_rows(parse_page(PAGE, url, "text/html"), url)
    project = rows.projects[0]
    assert project["project_id"] == "24-200-S01" and project["owner_org_number"] is None
    issue = [i for i in rows.parse_issues if i["field"] == "owner_org_number"]
    assert [(i["problem"], i["raw_value"]) for i in issue] == [("personal_identity_number", None)]
    assert "owner_org_number" not in {f["field"] for f in rows.project_fields}
    dump = json.dumps([vars(rows)], default=str, ensure_ascii=False)
    assert not any(p in dump for p in PERSONAL)


def _pages():
    projects = []
    for path in sorted((EXPORT / "site" / "projekt").glob("*.html")):
        url = f"http://127.0.0.1/projekt/{path.name}"
        projects += content_rows(parse_page(path.read_bytes(), url, "text/html"), url).projects
    return projects


def _operations(name="operations.csv"):
    return read_operations_bytes((EXPORT / name).read_bytes(), name)[0]


def test_organisations_from_pages_and_the_export():
    rows, issues = build_organisations(_pages(), _operations())
    orgs = {r["org_number"]: r for r in rows}
    assert list(orgs) == ["2120009994", "5566770011", "7164003217"]  # sorted; no invalid or personal number
    town = orgs["2120009994"]
    assert town["names"] == ["EXEMPELBY KOMMUN", "Exempelby kommun"]  # every spelling, pages first
    assert town["name"] == "EXEMPELBY KOMMUN"  # printed twice, the other once
    assert (town["legal_form_code"], town["legal_form_group"]) == ("2", "state, region, municipality or parish")
    assert town["project_count"] == 2 and town["project_ids"] == ["23-017-S01", "24-112-S02"]
    assert town["esf_grant_sek"] == Decimal("4476515.00") and town["esf_grant_projects"] == 1
    assert town["eu_contribution_sek"] == Decimal("6276515.00") and town["eu_contribution_projects"] == 2
    company = orgs["5566770011"]
    assert company["legal_form_group"] == "limited company" and company["project_count"] == 1
    assert (
        company["eu_contribution_sek"] is None and company["eu_contribution_projects"] == 0
    )  # the export left it empty
    assert company["esf_grant_sek"] == Decimal("1000000.00")
    association = orgs["7164003217"]
    assert association["legal_form_group"] == "economic association" and association["esf_grant_sek"] is None
    assert [(i["problem"], i["raw_value"], i["project_id"]) for i in issues] == [
        ("org_number_invalid", "8024001236", "24-111-S01")
    ]
    assert not any(p in json.dumps([rows, issues], default=str) for p in PERSONAL)
    table = to_arrow(ORGANISATIONS, rows)
    assert table.column("names").to_pylist()[0] == ["EXEMPELBY KOMMUN", "Exempelby kommun"]


def test_organisations_never_take_a_personal_number_from_older_rows():
    # A projects table published before the rule may still hold one: no row, an issue without the value.
    projects = [
        {
            "project_id": "P1",
            "project_number": "P1",
            "owner": "Anna Exempelsson",
            "owner_org_number": "8112289874",
            "source_url": "http://x/p1",
            "esf_grant_sek": Decimal(5),
        },
        {
            "project_id": "P2",
            "project_number": "P2",
            "owner": "Fyra AB",
            "owner_org_number": "4123456784",
            "source_url": "http://x/p2",
            "esf_grant_sek": None,
        },
    ]
    rows, issues = build_organisations(projects)
    assert [r["org_number"] for r in rows] == ["4123456784"] and rows[0]["legal_form_group"] is None
    assert [(i["problem"], i["raw_value"]) for i in issues] == [
        ("personal_identity_number", None),
        ("unassigned_legal_form", "4123456784"),
    ]


def test_a_project_is_counted_once_across_sources():
    projects = [
        {
            "project_id": "23-001-S01",
            "project_number": "23-001-S01",
            "owner": "X AB",
            "owner_org_number": "5566770011",
            "esf_grant_sek": Decimal("100.50"),
            "source_url": "u",
        }
    ]
    operations = [
        {
            "project_id": "23-001-S01",
            "owner": "X AB",
            "owner_org_number": "5566770011",
            "eu_contribution_sek": Decimal("80"),
            "export_source": "e",
        }
    ]
    rows, _ = build_organisations(projects, operations)
    assert rows[0]["project_count"] == 1 and rows[0]["names"] == ["X AB"]
    assert rows[0]["esf_grant_sek"] == Decimal("100.50") and rows[0]["eu_contribution_sek"] == Decimal("80.00")


def test_export_org_numbers_fill_only_projects_without_one():
    filled = export_org_numbers(
        _pages() + [{"project_id": "24-112-S02", "project_number": "24-112-S02", "owner_org_number": None}],
        _operations(),
    )
    assert filled == {"24-112-S02": "2120009994"}  # the pages' own numbers are never replaced
