"""Parsing, round 2: page shapes of a second outside set, one behaviour per test (fixtures written from the
rules, invented content): values continued over lines, headings versus labels, lists of cards, long values,
and a few held-out pages in a markup no other fixture uses (fixtures/heldout/)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from parsers.lines import line_separator, prose_like
from parsers.page import parse_page
from tests.conftest import FIXTURES

URL = "http://127.0.0.1/projektbanken/projekt/x.html"


def parse(body: str, url: str = URL):
    return parse_page(f"<html><body>{body}</body></html>".encode(), url, "text/html; charset=utf-8")


def one(body: str):
    result = parse(body)
    assert len(result.records) == 1, result
    return result.records[0]


# ---------------------------------------------------------------- a value continued on the next line of its block

CONTINUED = [
    (
        "li strong br",
        "<ul><li><strong>Projektnummer</strong><br>2018/00123</li>"
        "<li><strong>Projektägare</strong><br>Exempelby kommun, Social-<br>och omsorgsförvaltningen</li></ul>",
    ),
    (
        "li strong inline",
        "<ul><li><strong>Projektnummer:</strong> 2018/00123</li>"
        "<li><strong>Projektägare:</strong> Exempelby kommun, Social-<br>och omsorgsförvaltningen</li></ul>",
    ),
    (
        "dd br",
        "<dl><dt>Projektnummer</dt><dd>2018/00123</dd><dt>Projektägare</dt>"
        "<dd>Exempelby kommun, Social-<br>och omsorgsförvaltningen</dd></dl>",
    ),
    (
        "td br",
        "<table><tr><td>Projektnummer</td><td>2018/00123</td></tr><tr><td>Projektägare</td>"
        "<td>Exempelby kommun, Social-<br>och omsorgsförvaltningen</td></tr></table>",
    ),
    ("p br", "<p>Projektnummer: 2018/00123<br>Projektägare: Exempelby kommun, Social-<br>och omsorgsförvaltningen</p>"),
    (
        "span br",
        "<div><span>Projektnummer</span> <span>2018/00123</span></div>"
        "<div><span>Projektägare</span> <span>Exempelby kommun, Social-<br>och omsorgsförvaltningen</span></div>",
    ),
]


@pytest.mark.parametrize("markup", [m for _, m in CONTINUED], ids=[n for n, _ in CONTINUED])
def test_a_value_runs_to_the_end_of_its_block(markup):
    record = one(markup)
    assert record.columns["owner"] == "Exempelby kommun, Social- och omsorgsförvaltningen"
    assert [f.raw for f in record.raw_fields if f.field == "owner"] == [
        "Exempelby kommun, Social- och omsorgsförvaltningen"
    ]
    assert record.sections == [] and record.issues == []


@pytest.mark.parametrize(
    "before, after, joined",
    [
        ("Exempelby kommun, Social-", "och omsorgsförvaltningen", "Exempelby kommun, Social- och omsorgsförvaltningen"),
        ("Hälso-", "eller sjukvård", "Hälso- eller sjukvård"),
        ("Praktik hos ESF-", "rådet", "Praktik hos ESF-rådet"),
        ("2019-09-01 –", "2022-08-31", "2019-09-01 – 2022-08-31"),
        ("2019-09-01", "- 2022-08-31", "2019-09-01 - 2022-08-31"),
        ("Vägen in i", "Arbetslivet", "Vägen in i Arbetslivet"),
        ("Exempelby kommun,", "Social- och omsorgsförvaltningen", "Exempelby kommun, Social- och omsorgsförvaltningen"),
        ("3 412 900", "kr", "3 412 900 kr"),
        ("Region Värmland", "Regionens kansli", "Region Värmland, Regionens kansli"),
        ("Storgatan 7", "123 45 Exempelby", "Storgatan 7, 123 45 Exempelby"),
        ("Exempelby kommun", ", Social", "Exempelby kommun, Social"),
    ],
)
def test_lines_of_one_value_are_joined_as_printed(before, after, joined):
    assert before + line_separator(before, after) + after == joined


def test_prose_in_the_same_block_ends_the_value():
    record = one(
        "<p>Projektnummer: 2018/00123<br>Region: Västsverige<br>"
        "Projektet har pågått sedan 2018 och har gett många unga ett första arbete.</p>"
    )
    assert record.columns["region"] == "Västsverige" and record.columns["region_nuts2"] == "SE23"
    assert [s.text for s in record.sections] == [
        "Projektet har pågått sedan 2018 och har gett många unga ett första arbete."
    ]


def test_the_next_label_ends_the_value_also_without_a_colon():
    record = one("<div>Projektägare<br>Exempelby kommun<br>Region<br>Västsverige<br>Projektnummer<br>2018/00123</div>")
    assert (record.columns["owner"], record.columns["region"], record.columns["project_number"]) == (
        "Exempelby kommun",
        "Västsverige",
        "2018/00123",
    )


@pytest.mark.parametrize(
    "text, prose",
    [
        ("Hudiksvalls kommun, Social- och omsorgsförvaltningen", False),
        ("Länsst. i VG-län", False),
        ("Projektet har gett många unga i kommunen ett första arbete.", True),
        ("Kort. Två meningar", True),
    ],
)
def test_what_reads_as_prose(text, prose):
    assert prose_like(text) is prose


# ---------------------------------------------------------------- headings and labels


@pytest.mark.parametrize("folder", ["heading_region_title", "heading_acronym_title"])
def test_labels_win_over_the_page_heading_and_nothing_conflicts(folder):
    for variant in sorted((FIXTURES / "markup" / folder).glob("*.html")):
        result = parse_page(variant.read_bytes(), URL, "text/html")
        [record] = result.records
        assert record.page_family != "tillvaxtverket_theme", variant.name
        assert [f for f in record.raw_fields if f.label == "(heading)"] == [], variant.name
        assert record.issues == [], (variant.name, record.issues)


def test_acronym_heading_is_not_a_region():
    record = one(
        "<h1>SAGA – Samverkan för arbete</h1><p>Projektägare: Lilleby folkhögskola</p>"
        "<p>Namn: SAGA – Samverkan för arbete</p><p>Region: Västsverige</p>"
    )
    assert (record.columns["name"], record.columns["region"]) == ("SAGA – Samverkan för arbete", "Västsverige")
    assert not any(i.problem in ("unknown_region", "conflicting_values") for i in record.issues)


@pytest.mark.parametrize(
    "heading, name",
    [
        ("Östergötland – Språkstegen", "Språkstegen"),  # a county: the rest is the title
        ("SAGA – Samverkan för arbete", "SAGA – Samverkan för arbete"),  # no region: the whole heading is the title
    ],
)
def test_without_a_name_label_the_heading_gives_the_name_and_never_the_region(heading, name):
    record = one(
        f"<h1>Projekt i regionen</h1><h2>{heading}</h2><p>Projektägare: Exempelby kommun</p>"
        "<p>Region: Östra Mellansverige</p>"
    )
    assert (record.columns["name"], record.columns["region"]) == (name, "Östra Mellansverige")
    assert record.page_family != "tillvaxtverket_theme" and record.issues == []


def test_on_a_theme_page_a_blocks_own_labels_win_and_its_heading_fills_the_rest():
    result = parse_page((FIXTURES / "markup" / "theme_labels_win" / "a.html").read_bytes(), URL, "text/html")
    assert result.family == "tillvaxtverket_theme"
    assert [(r.columns["name"], r.columns["region"]) for r in result.records] == [
        ("Nya spår i vården", "Sydsverige"),
        ("Jobbstigen Värmland", "Värmland"),
    ]
    assert [[f.label for f in r.raw_fields if f.field in ("name", "region")] for r in result.records] == [
        ["Region"],
        ["(heading)", "Namn"],
    ]
    assert not any(i.problem == "conflicting_values" for r in result.records for i in r.issues)


def test_a_theme_page_without_such_labels_still_takes_region_and_title_from_its_headings():
    result = parse(
        "<h2>Örebro - Integration i regional kompetensförsörjning, Örebro län</h2><p>Projektägare: Region Örebro</p>"
        "<p>Projektperiod: 2018-2020</p><h2>Västmanland: Förstärkning integration</h2>"
        "<p>Projektägare: Region Västmanland</p><p>Projektperiod: 2018-2020</p>"
    )
    assert [(r.columns["name"], r.columns["region"], r.columns.get("county_code")) for r in result.records] == [
        ("Integration i regional kompetensförsörjning", "Örebro", "18"),
        ("Förstärkning integration", "Västmanland", "19"),
    ]


# ---------------------------------------------------------------- lists of cards

LISTINGS = sorted((FIXTURES / "listings").glob("*/*.html"))


@pytest.mark.parametrize(
    "folder", sorted(p for p in (FIXTURES / "listings").iterdir() if p.is_dir()), ids=lambda p: p.name
)
def test_listing_fixtures_have_three_markups(folder):
    assert len(list(folder.glob("*.html"))) >= 3


@pytest.mark.parametrize("variant", LISTINGS, ids=[f"{p.parent.name}/{p.name}" for p in LISTINGS])
def test_a_page_of_project_cards_is_a_listing_whatever_its_pagination_position(variant):
    from parsers.lookups import vocabulary

    expected = json.loads((variant.parent / "expected.json").read_text(encoding="utf-8"))
    result = parse_page(variant.read_bytes(), "http://127.0.0.1/lista/sida.html", "text/html")
    assert (result.kind, result.family, result.records) == ("listing", None, [])
    [issue] = result.issues
    assert issue.problem == "labels_on_listing" and issue.field in vocabulary()["listing"]["card_fields"]
    assert set(expected["card_links"]) <= {url for url, _ in result.links}


def test_cards_each_followed_by_a_link_are_a_listing_even_when_they_show_different_labels():
    result = parse(
        "<ul><li><b>Kompetenslyftet</b><br>Projektägare: Lilleby kommun<br>Projektperiod: 2019-2021<br>"
        "<a href='/a'>Läs mer</a></li><li><b>Fjällvägen</b><br>Projektägare: Storå kommun<br>"
        "<a href='/b'>Läs mer</a></li></ul>"
    )
    assert (result.kind, result.records, [i.problem for i in result.issues]) == ("listing", [], ["labels_on_listing"])


def test_a_project_page_with_a_back_link_and_pagination_words_stays_a_project():
    record = one(
        "<p><a href='/lista/'>Tillbaka till listan</a></p><h1>Broar till arbete</h1>"
        "<p>Projektägare: Storå kommun</p><p>Projektperiod: 2019-2021</p>"
        "<p><a href='/p/1'>Föregående</a> <a href='/p/3'>Nästa</a></p>"
    )
    assert (record.columns["name"], record.columns["owner"]) == ("Broar till arbete", "Storå kommun")


def test_a_project_page_whose_title_is_a_permalink_stays_a_project():
    labels = "".join(
        f"<dt>{k}</dt><dd>{v}</dd>"
        for k, v in [
            ("Projektägare", "Storå kommun"),
            ("Namn", "Broar"),
            ("Region", "Västsverige"),
            ("Projektperiod", "2019-2021"),
            ("Beviljat ESF-stöd", "1 000 000 kr"),
            ("Total projektbudget", "2 000 000 kr"),
            ("Kontaktperson", "Lina Ek"),
        ]
    )
    record = one(f"<h1><a href='/projekt/broar/'>Broar</a></h1><dl>{labels}</dl><p><a href='?s=2'>Nästa</a></p>")
    assert record.columns["owner"] == "Storå kommun" and record.contacts[0]["name"] == "Lina Ek"


def test_two_contacts_between_mail_links_are_one_project():
    record = one(
        "<dl><dt>Projektnummer</dt><dd>2018/00123</dd><dt>Projektägare</dt><dd>Storå kommun</dd>"
        "<dt>Kontaktperson</dt><dd>Lina Ek</dd><dt>E-post</dt><dd><a href='mailto:lina.ek@stora.se'>lina.ek@stora.se</a></dd>"
        "<dt>Kontaktperson</dt><dd>Olof Lind</dd><dt>E-post</dt><dd><a href='mailto:olof.lind@stora.se'>olof.lind@stora.se</a></dd>"
        "</dl><p><a href='/projekt/'>Alla projekt</a></p>"
    )
    assert [c["name"] for c in record.contacts] == ["Lina Ek", "Olof Lind"]


# ---------------------------------------------------------------- values longer than a field line

LONG_OWNER = ", ".join(f"Exempelby kommun avdelning {n}" for n in range(1, 12))


@pytest.mark.parametrize(
    "markup",
    [
        "<p>Projektnummer: 2018/00123</p><p>Projektägare: {owner}</p>",
        "<dl><dt>Projektnummer</dt><dd>2018/00123</dd><dt>Projektägare</dt><dd>{owner}</dd></dl>",
        "<p><b>Projektnummer</b> 2018/00123</p><p><b>Projektägare</b> {owner}</p>",
        "<ul><li><strong>Projektnummer</strong><br>2018/00123</li><li><strong>Projektägare</strong><br>{owner}</li></ul>",
    ],
    ids=["inline", "dl", "bold run", "li br"],
)
def test_a_long_value_is_kept_whole(markup):
    assert len(LONG_OWNER) > 250
    record = one(markup.format(owner=LONG_OWNER))
    assert record.columns["owner"] == LONG_OWNER and record.sections == [] and record.issues == []


def test_prose_on_a_label_line_is_prose_and_reported():
    prose = "Hör av dig till oss om du vill veta mer om projektet. " * 6
    record = one(f"<p>Projektnummer: 2018/00123</p><p>Kontakt: {prose.strip()}</p>")
    assert record.contacts == [] and "contact_name" not in record.columns
    assert [s.text for s in record.sections] == [f"Kontakt: {prose.strip()}"]
    [issue] = record.issues
    assert (issue.field, issue.problem, issue.raw_value) == ("contact_name", "prose_value", f"Kontakt: {prose.strip()}")


def test_prose_after_a_label_without_value_is_prose_and_reported():
    prose = "Projektet samlar kommunerna i länet kring en gemensam modell för arbetsmarknadsinsatser. " * 4
    for variant in sorted((FIXTURES / "markup" / "long_values").glob("*.html")):
        [record] = parse_page(variant.read_bytes(), URL, "text/html").records
        assert [(i.field, i.problem) for i in record.issues] == [("beneficiary_address", "prose_after_label")], (
            variant.name
        )
        assert record.issues[0].raw_value == record.sections[0].text, variant.name
    record = one(f"<p>Projektnummer: 2018/00123</p><p>Interventionstyp:</p><p>{prose.strip()}</p>")
    assert [s.text for s in record.sections] == [prose.strip()]
    assert [(i.field, i.problem, i.raw_value) for i in record.issues] == [
        ("intervention_code", "prose_after_label", prose.strip())
    ]


def test_a_long_value_that_is_no_valid_amount_is_an_issue_with_its_raw_text():
    raw = "1 000 000 kr " + "och ytterligare medel från regionen enligt beslut " * 6
    record = one(f"<p>Projektnummer: 2018/00123</p><p>Beviljat ESF-stöd: {raw.strip()}</p>")
    assert "esf_grant_sek" not in record.columns
    assert [(i.field, i.problem, i.raw_value) for i in record.issues] == [
        ("esf_grant_sek", "unparseable_amount", raw.strip())
    ]


# ---------------------------------------------------------------- held-out pages, in a markup no other fixture uses

HELDOUT = FIXTURES / "heldout"


def _plain(value):
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value.isoformat() if isinstance(value, dt.date) else value


@pytest.mark.parametrize("name", sorted(json.loads((HELDOUT / "expected.json").read_text(encoding="utf-8"))))
def test_heldout_pages_parse_exactly(name):
    want = json.loads((HELDOUT / "expected.json").read_text(encoding="utf-8"))[name]
    result = parse_page((HELDOUT / name).read_bytes(), "http://127.0.0.1/heldout/page.html", "text/html")
    assert result.kind == want["kind"]
    assert len(result.records) == len(want["records"])
    for record, expected in zip(result.records, want["records"]):
        for key, value in expected.items():
            if key == "sections":
                assert [[s.heading, s.text] for s in record.sections] == value
            elif key == "issues":
                assert [[i.field, i.problem] for i in record.issues] == value
            else:
                assert _plain(record.columns.get(key)) == value, key
    assert [{k: _plain(v) for k, v in a.items()} for a in result.announcements] == want["announcements"]
    assert [[i.field, i.problem] for i in result.issues] == want["issues"]
    assert set(want.get("links", [])) <= {url for url, _ in result.links}
