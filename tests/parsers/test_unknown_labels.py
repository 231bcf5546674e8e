"""A label the vocabulary does not know, amid known ones, in any markup: kept in extra_fields with an
unknown_label issue, never glued to the value before it nor read as a description (found from outside)."""

from __future__ import annotations

import pytest

from parsers.page import parse_page

ROWS = [
    ("Projektnummer", "2016/00422"),
    ("Samverkanspartner", "Samordningsförbundet Östra Södertörn"),
    ("Beviljat ESF-stöd", "1 049 380 kr"),
    ("Projektperiod", "2017-02-15 - 2020-03-31"),
]


def _br(rows):
    return "<p>" + "<br>".join(f"<strong>{label}:</strong> {value}" for label, value in rows) + "</p>"


def _table(rows):
    return "<table>" + "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows) + "</table>"


def _cards(rows):
    return "<div>" + "".join(f"<div><span>{label}</span><span>{value}</span></div>" for label, value in rows) + "</div>"


def _dl(rows):
    return "<dl>" + "".join(f"<dt>{label}:</dt><dd>{value}</dd>" for label, value in rows) + "</dl>"


@pytest.mark.parametrize("markup", [_br, _table, _cards, _dl])
def test_an_unknown_label_is_kept_apart_in_every_markup(markup):
    page = (
        f"<html><body><h1>Språkbro</h1>{markup(ROWS)}<h2>Syfte</h2><p>Projektet ska stärka individers "
        "ställning på arbetsmarknaden.</p></body></html>"
    ).encode()
    [record] = parse_page(page, "http://x/p.html").records
    assert record.project_id == "2016/00422"
    assert record.extra_fields == {"Samverkanspartner": "Samordningsförbundet Östra Södertörn"}
    assert [i.problem for i in record.issues] == ["unknown_label"]
    assert str(record.columns["esf_grant_sek"]) == "1049380.00"
    assert [s.kind for s in record.sections] == ["purpose"]


def test_a_control_character_in_place_of_a_space_leaves_the_label_known():
    page = (
        "<html><body><table><tr><th>Projektnummer</th><td>2016/00419</td></tr>"
        "<tr><th>Beviljat\x00ESF-stöd</th><td>1 012 345 kr</td></tr></table></body></html>"
    ).encode()
    result = parse_page(page, "http://x/p.html")
    [record] = result.records
    assert str(record.columns["esf_grant_sek"]) == "1012345.00" and not record.extra_fields
    assert "control_characters_removed" in [i.problem for i in result.issues]
