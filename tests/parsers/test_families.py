"""The registry of page families (parsers/families/): every family is one module, one vocabulary block and
one fixture folder, all named as the family, and every markup of its folder parses to what its
expected.json says (project records, or a press release's announcements and issues)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil
import re
from decimal import Decimal

import pytest

import parsers.families
from parsers.families import BY_NAME, FAMILIES, REGISTRY
from parsers.families.base import Family
from parsers.families.one_project import LAYOUT_MARKERS, FieldSets
from parsers.listing import Listing
from parsers.lookups import FAMILY_DATA_DIR, vocabulary
from parsers.page import parse_page
from tests.conftest import FIXTURES

MARKUP = FIXTURES / "markup"
NAMES = [family.name for family in FAMILIES]


# ---------------------------------------------------------------- the registry


def test_every_family_is_registered_once_under_its_own_name():
    assert len(NAMES) == len(set(NAMES)) == len(BY_NAME)
    assert all(BY_NAME[name].name == name for name in NAMES)
    assert all(isinstance(entry, (Family, Listing, FieldSets)) for entry in REGISTRY)


def test_every_family_module_is_registered_and_named_as_its_family():
    declared = {}
    for module in pkgutil.iter_modules(parsers.families.__path__):
        found = getattr(importlib.import_module(f"parsers.families.{module.name}"), "FAMILY", None)
        if found is not None:
            declared[module.name] = found
    # A module that declares a family it does not register is a family parse_page never asks.
    assert sorted(declared) == sorted(NAMES)
    assert all(declared[name] is BY_NAME[name] for name in NAMES)


def test_every_vocabulary_block_belongs_to_a_family():
    blocks = sorted(path.stem for path in FAMILY_DATA_DIR.glob("*.toml"))
    assert blocks == sorted(NAMES)
    assert sorted(vocabulary()["families"]) == sorted(NAMES)
    assert all(isinstance(family.vocabulary, dict) for family in FAMILIES)


def test_detection_is_declared_once_per_family():
    for entry in REGISTRY:
        if isinstance(entry, FieldSets):
            # Told apart by the markers of their blocks, not by a detection of their own.
            assert all(member.detect is None for member in entry.members)
            assert entry.fallback in entry.members
        else:
            assert callable(entry.detect), entry.name


def test_markers_are_known_fields_or_layout_traits():
    fields = set(vocabulary()["fields"])
    for entry in REGISTRY:
        if isinstance(entry, FieldSets):
            for member in entry.members:
                markers = member.vocabulary["markers"]
                assert markers and set(markers) <= fields | set(LAYOUT_MARKERS), member.name


def test_families_of_projects_have_an_id_prefix():
    for family in FAMILIES:
        if family.kind == "project":
            # The prefix is how pipeline/run_state.py tells a derived id: letters and digits only.
            assert family.id_prefix and re.fullmatch(r"[a-z0-9]+", family.id_prefix), family.name
        else:
            assert family.id_prefix is None, family.name


def test_programme_periods_are_periods():
    for family in FAMILIES:
        assert family.programme_period is None or re.fullmatch(r"\d{4}-\d{4}", family.programme_period)


# ---------------------------------------------------------------- each family's fixture folder


def _plain(value):
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _expected_value(record, key):
    """A record's value as fixtures/markup/*/expected.json writes it (as tests/parsers/test_markup.py reads it)."""
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


@pytest.mark.parametrize("family", FAMILIES, ids=NAMES)
def test_family_has_a_fixture_folder_of_three_markups_and_what_they_give(family):
    folder = MARKUP / family.name
    assert folder.is_dir(), f"add {folder.relative_to(FIXTURES.parent)}/ with a.html, b.html, c.html and expected.json"
    missing = [name for name in ("a.html", "b.html", "c.html", "expected.json") if not (folder / name).is_file()]
    assert not missing, f"{folder.relative_to(FIXTURES.parent)}: missing {', '.join(missing)}"


@pytest.mark.parametrize("family", FAMILIES, ids=NAMES)
def test_each_markup_parses_to_the_expected_records(family):
    folder = MARKUP / family.name
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    url = f"http://127.0.0.1/markup/{family.name}/page.html"
    for variant in sorted(folder.glob("*.html")):
        result = parse_page(variant.read_bytes(), url, "text/html")
        assert (result.family, result.kind) == (family.name, family.kind), variant.name
        if isinstance(expected, dict):
            # A press release: its announcements and page issues, no records.
            assert result.records == [] and result.kind == expected["kind"], variant.name
            assert [{k: _plain(v) for k, v in a.items()} for a in result.announcements] == expected["announcements"]
            assert [[i.field, i.raw_value, i.problem] for i in result.issues] == expected["issues"], variant.name
            continue
        assert len(result.records) == len(expected), variant.name
        for record, want in zip(result.records, expected):
            assert record.page_family == family.name
            for key, value in want.items():
                assert _expected_value(record, key) == value, (variant.name, record.project_id, key)
