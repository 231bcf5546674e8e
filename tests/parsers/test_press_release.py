"""ESF-rådet's press releases on granted projects: announcements with rounded amounts, issues for what does
not fit, and their link to projects (fixtures/markup/esf_press_release/, invented content). Their rows in
the grant_announcements table: tests/test_parsed_rows.py."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from parsers.page import parse_page
from parsers.press_release import link_announcements, match_key, owner_keys
from parsers.values import parse_rounded_sek
from tests.conftest import FIXTURES

RELEASES = FIXTURES / "markup" / "esf_press_release"
URL = "http://127.0.0.1/pressmeddelanden/socialfonden-beviljar/"
VARIANTS = sorted(RELEASES.glob("*.html"))


def parse(path_or_html: Path | str):
    body = (
        path_or_html.read_bytes()
        if isinstance(path_or_html, Path)
        else f"<html><body>{path_or_html}</body></html>".encode()
    )
    return parse_page(body, URL, "text/html; charset=utf-8")


def _plain(value):
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@pytest.mark.parametrize("folder", [RELEASES], ids=lambda p: p.name)
def test_at_least_three_markups(folder):
    assert len(list(folder.glob("*.html"))) >= 3


@pytest.mark.parametrize("variant", VARIANTS, ids=[f"{p.parent.name}/{p.name}" for p in VARIANTS])
def test_release_gives_the_expected_announcements_and_issues(variant):
    expected = json.loads((variant.parent / "expected.json").read_text(encoding="utf-8"))
    result = parse(variant)
    assert (result.kind, result.family, result.records) == (expected["kind"], "esf_press_release", [])
    assert [{k: _plain(v) for k, v in a.items()} for a in result.announcements] == expected["announcements"]
    assert [[i.field, i.raw_value, i.problem] for i in result.issues] == expected["issues"]


@pytest.mark.parametrize(
    "printed, value, step",
    [
        ("4,2 miljoner kronor", "4200000", "100000"),
        ("40 miljoner kronor", "40000000", "1000000"),
        ("10,25 miljoner kronor", "10250000", "10000"),
        ("850 000 kronor", "850000", "1"),
        ("1,2 miljarder kronor", "1200000000", "100000000"),
        ("5,5 mnkr", "5500000", "100000"),
    ],
)
def test_rounded_amounts_keep_the_precision_they_are_printed_to(printed, value, step):
    rounded = parse_rounded_sek(printed).value
    assert (rounded.value, rounded.step) == (Decimal(value), Decimal(step))


def test_rounded_amounts_are_read_as_strictly_as_exact_ones():
    # The same strictness as exact amounts: no unit guessed, no approximation, no other currency.
    assert parse_rounded_sek("4,2 miljnoer kronor").problem == "unparseable_amount"
    assert parse_rounded_sek("drygt 4 miljoner kronor").problem == "approximate_amount"
    assert parse_rounded_sek("3 miljoner euro").problem == "wrong_currency"


def test_a_misspelled_unit_is_an_issue_and_the_announcement_keeps_no_amount():
    result = parse(
        "<p>2024-05-14</p><h2>Utlysningen “Vägar till arbete”</h2><p>Beviljade projekt</p>"
        "<p>Lilleby folkhögskola får 3,8 miljoner kroner till projektet Steg för steg.</p>"
    )
    [announcement] = result.announcements
    assert (announcement["owner"], announcement["project_name"], announcement["grant_raw"]) == (
        "Lilleby folkhögskola",
        "Steg för steg",
        "3,8 miljoner kroner",
    )
    assert announcement["grant_sek"] is None and announcement["grant_precision"] is None
    [issue] = result.issues
    assert (issue.field, issue.raw_value, issue.problem) == ("grant_sek", "3,8 miljoner kroner", "unparseable_amount")


@pytest.mark.parametrize(
    "sentence",
    [
        "Norrvik kommun får pengar till ett projekt om omställning.",  # no amount, no project
        "Storå kommun får 2 miljoner kronor till projektet Ny start, som vänder sig till unga.",  # a clause after the name
        "Storå kommun får 2 miljoner kronor till projekten Ny start och Nya steg.",  # two projects, one amount
        "Dessutom får Storå kommun 2 miljoner kronor till projektet Ny start.",  # owner not first
        "Projekten startar i augusti.",
    ],
)
def test_a_sentence_that_does_not_fit_is_an_issue_with_its_raw_text(sentence):
    result = parse(
        "<p>Publicerad: 14 maj 2024</p><h2>Utlysningen “Vägar till arbete”</h2><p>Utlyst belopp: 40 miljoner kronor</p>"
        f"<h3>Beviljade projekt</h3><ul><li>Exempelby kommun får 4,2 miljoner kronor till projektet Vägen vidare.</li>"
        f"<li>{sentence}</li></ul>"
    )
    assert [a["project_name"] for a in result.announcements] == ["Vägen vidare"]
    assert [(i.raw_value, i.problem, i.severity) for i in result.issues] == [
        (sentence, "unparseable_announcement", "error")
    ]


def test_a_word_before_the_amount_that_says_nothing_about_it_is_left_out_of_the_amount():
    result = parse(
        "<p>2024-05-14</p><h2>Utlysningen “Vägar till arbete”</h2><p>Beviljade projekt</p>"
        "<p>Exempelby kommun får totalt 4,2 miljoner kronor till projektet Vägen vidare.</p>"
    )
    [announcement] = result.announcements
    assert (announcement["grant_raw"], announcement["grant_sek"]) == ("4,2 miljoner kronor", Decimal("4200000.00"))
    assert announcement["sentence"] == "Exempelby kommun får totalt 4,2 miljoner kronor till projektet Vägen vidare."


def test_two_announcements_in_one_sentence_are_not_read_as_one():
    sentence = "Exempelby kommun får 4,2 miljoner kronor till projektet A och Lilleby kommun får 3 miljoner kronor till projektet B."
    result = parse(
        f"<p>2024-05-14</p><h2>Utlysningen “Vägar till arbete”</h2><p>Beviljade projekt</p><p>{sentence}</p>"
    )
    assert result.announcements == []
    assert [(i.raw_value, i.problem) for i in result.issues] == [(sentence, "unparseable_announcement")]


def test_the_publicerad_label_dates_the_release_wherever_it_stands():
    result = parse(
        "<h2>Utlysningen “Vägar till arbete”</h2><p>Beviljade projekt</p>"
        "<p>Exempelby kommun får 4,2 miljoner kronor till projektet Vägen vidare.</p><p>Publicerad: 3 juni 2024</p>"
    )
    assert [a["announced_on"] for a in result.announcements] == [dt.date(2024, 6, 3)] and result.issues == []


def test_a_release_without_a_date_is_reported_and_its_announcements_kept():
    result = parse(
        "<h2>Utlysningen “Vägar till arbete”</h2><p>Beviljade projekt</p>"
        "<p>Exempelby kommun får 4,2 miljoner kronor till projektet Vägen vidare.</p>"
    )
    assert [a["announced_on"] for a in result.announcements] == [None]
    assert [(i.field, i.problem) for i in result.issues] == [("announced_on", "missing_announcement_date")]


def test_sentences_before_the_list_and_after_the_release_text_are_not_announcements():
    result = parse(
        "<p>12 mars 2024</p><p>Bland annat får Exempelby kommun 4,2 miljoner kronor till projektet Vägen vidare.</p>"
        "<h2>Utlysningen “Vägar till arbete”</h2><p>Utlysningen riktade sig till kommuner och regioner.</p>"
        "<p>Utlyst belopp: 40 miljoner kronor</p><p><b>Beviljade projekt</b></p>"
        "<p>Exempelby kommun får 4,2 miljoner kronor till projektet Vägen vidare.</p>"
        "<h2>Om Svenska ESF-rådet</h2><p>Myndigheten får 10 miljoner kronor till projektet Administration.</p>"
    )
    assert [(a["owner"], a["announced_on"]) for a in result.announcements] == [
        ("Exempelby kommun", dt.date(2024, 3, 12))
    ]
    assert result.issues == []


def test_a_theme_page_listing_granted_projects_is_no_press_release():
    result = parse(
        "<h2>Beviljade projekt</h2><h3>Örebro - Integration i regional kompetensförsörjning, Örebro län</h3>"
        "<p>Projektägare: Region Örebro</p><p>Projektperiod: 2018-2020</p>"
    )
    assert result.kind == "project" and result.family == "tillvaxtverket_theme" and result.announcements == []


def test_a_call_page_announcing_its_amount_is_no_press_release():
    result = parse(
        "<h1>Utlysningen “Vägar till arbete”</h1><p>Utlyst belopp: 40 miljoner kronor</p>"
        "<p>Sista ansökningsdag är den 1 oktober 2024. Kommuner får söka.</p>"
    )
    assert result.kind != "press_release" and result.announcements == []


# ---------------------------------------------------------------- linking to projects


def test_names_and_owners_are_compared_without_case_space_quotes_or_dashes():
    assert match_key("“Vägen  vidare”.") == match_key("vägen vidare") == "vägen vidare"
    assert match_key("SAGA – Samverkan") == match_key("SAGA - samverkan")
    assert owner_keys("HOFORS KOMMUN") & owner_keys("Hofors kommun")
    assert owner_keys("Exempelbys kommun") & owner_keys("Exempelby Kommun")
    assert owner_keys("Hudiksvalls kommun, Social- och omsorgsförvaltningen") & owner_keys("Hudiksvalls kommun")
    assert "municipality:1480" in owner_keys("Göteborgs Stad") and "municipality:1480" in owner_keys("GÖTEBORGS KOMMUN")
    assert not owner_keys("Lilleby kommun") & owner_keys("Lilleby folkhögskola")


def test_link_announcements_to_projects():
    projects = [
        {"project_id": "22-101-S01", "name": "Vägen Vidare", "owner": "EXEMPELBY KOMMUN"},
        {"project_id": "22-102-S01", "name": "Steg för steg", "owner": "Lilleby folkhögskola, Utbildningsenheten"},
        {"project_id": "22-103-S01", "name": "Brobyggarna", "owner": "Föreningen Bro"},
        {"project_id": "22-104-S01", "name": "Brobyggarna", "owner": "Föreningen Bro Syd"},
        {"project_id": "22-105-S01", "name": "Omställning i länet", "owner": "Region Exempellän"},
        {"project_id": "22-106-S01", "name": "Omställning i länet", "owner": "Region Exempellän"},
    ]
    announcements = [
        {"owner": "Exempelby kommun", "project_name": "“Vägen vidare”"},  # case, quotes
        {"owner": "Lilleby folkhögskola", "project_name": "Steg  för steg"},  # owner's unit, spaces
        {"owner": "Föreningen Bro", "project_name": "Brobyggarna"},  # two projects of that name, one owner matches
        {"owner": "Region Exempellän", "project_name": "Omställning i länet"},  # two projects match: no guess
        {"owner": "Storå kommun", "project_name": "Ny start i Storå"},  # not in the project bank yet
        {"owner": "Lilleby kommun", "project_name": "Steg för steg"},  # same name, another owner
    ]
    assert link_announcements(announcements, projects) == ["22-101-S01", "22-102-S01", "22-103-S01", None, None, None]
    assert link_announcements([], projects) == [] and link_announcements(announcements[:1], []) == [None]
