"""The same content in different markup gives identical records, and the values a reader of the page
expects (fixtures/markup/<folder>/expected.json, written by hand from the page text): one folder per page
family (see also test_families.py) and one per page shape met later."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from parsers.page import parse_page
from tests.conftest import FIXTURES

# Folders whose expected.json lists project records (a press release's lists announcements: see
# tests/parsers/test_press_release.py and test_families.py).
SETS = sorted(
    p
    for p in (FIXTURES / "markup").iterdir()
    if p.is_dir() and isinstance(json.loads((p / "expected.json").read_text(encoding="utf-8")), list)
)


def _records(path: Path):
    result = parse_page(path.read_bytes(), "http://127.0.0.1/markup/" + path.parent.name + "/page.html", "text/html")
    return result


def _comparable(result):
    """Everything a record holds except the markup-dependent nothing: columns, sections, lists."""
    return [
        {
            "project_id": r.project_id,
            "family": r.page_family,
            "columns": r.columns,
            "fields": [(f.field, f.label.casefold().replace("\u00ad", ""), f.raw) for f in r.raw_fields if f.field],
            "extra": r.extra_fields,
            "sections": [(s.heading, s.kind, s.text) for s in r.sections],
            "municipalities": r.municipalities,
            "contacts": r.contacts,
            "issues": sorted((i.field or "", i.problem) for i in r.issues),
        }
        for r in result.records
    ]


@pytest.mark.parametrize("folder", SETS, ids=[p.name for p in SETS])
def test_at_least_three_markups(folder):
    assert len(list(folder.glob("*.html"))) >= 3


@pytest.mark.parametrize("folder", SETS, ids=[p.name for p in SETS])
def test_markups_give_identical_records(folder):
    variants = sorted(folder.glob("*.html"))
    reference = _comparable(_records(variants[0]))
    assert reference, f"{variants[0].name} gave no records"
    for variant in variants[1:]:
        got = _comparable(_records(variant))
        for want_record, got_record in zip(reference, got):
            for key in want_record:
                if key == "fields":
                    # Labels may differ in case and spelling between markups; the fields and values may not.
                    assert [(f, v) for f, _, v in got_record[key]] == [(f, v) for f, _, v in want_record[key]], (
                        variant.name
                    )
                else:
                    assert got_record[key] == want_record[key], (variant.name, key)
        assert len(got) == len(reference), variant.name


def _expected_value(record, key):
    cols = record.columns
    if key == "section_headings":
        return [s.heading for s in record.sections]
    if key == "municipalities":
        return [m["municipality_name"] for m in record.municipalities]
    if key == "contacts":
        return [{"name": c["name"], "email": c["email"]} for c in record.contacts]
    value = cols.get(key)
    if isinstance(value, Decimal):
        return f"{value:.2f}" if key.endswith("_sek") else float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@pytest.mark.parametrize("folder", SETS, ids=[p.name for p in SETS])
def test_records_match_expected_values(folder):
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    for variant in sorted(folder.glob("*.html")):
        records = _records(variant).records
        assert len(records) == len(expected), variant.name
        for record, want in zip(records, expected):
            for key, value in want.items():
                got = _expected_value(record, key)
                if key == "section_headings" and value is not None:
                    value = [h for h in value]
                assert got == value, (variant.name, record.project_id, key)


def test_deeply_nested_markup_loses_nothing():
    # libxml2 stops building the tree at 256 levels unless told otherwise; the labels sit below that.
    import re

    variant = sorted((FIXTURES / "markup" / "esf_2014_2020").glob("*.html"))[0]
    html = variant.read_text(encoding="utf-8")
    nested = re.sub(r"(<body[^>]*>)", r"\1" + "<div>" * 300, html, count=1).replace(
        "</body>", "</div>" * 300 + "</body>"
    )
    assert nested != html
    url = "http://127.0.0.1/markup/esf_2014_2020/page.html"
    want = _comparable(parse_page(html.encode(), url, "text/html"))
    got = _comparable(parse_page(nested.encode(), url, "text/html"))
    assert want and got == want
