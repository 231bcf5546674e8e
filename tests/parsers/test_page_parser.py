"""Small tests of the page parser, one behaviour each: labels in every shape, strictness, chrome."""

from __future__ import annotations

import datetime as dt

import pytest

from parsers.page import parse_page

URL = "http://127.0.0.1/projektbanken/projekt/x.html"


def parse(body: str):
    return parse_page(f"<html><body>{body}</body></html>".encode(), URL, "text/html; charset=utf-8")


def one(body: str):
    result = parse(body)
    assert len(result.records) == 1, result
    return result.records[0]


FIELDS = [
    ("dl", "<dl><dt>Projektnummer:</dt><dd>2018/00123</dd><dt>Region:</dt><dd>Västsverige</dd></dl>"),
    (
        "table th/td",
        "<table><tr><th>Projektnummer</th><td>2018/00123</td></tr><tr><th>Region</th><td>Västsverige</td></tr></table>",
    ),
    (
        "table td/td",
        "<table><tr><td>Projektnummer:</td><td>2018/00123</td></tr><tr><td>Region:</td><td>Västsverige</td></tr></table>",
    ),
    ("sibling divs", "<div>Projektnummer:</div><div>2018/00123</div><div>Region:</div><div>Västsverige</div>"),
    ("list items", "<ul><li>Projektnummer: 2018/00123</li><li>Region: Västsverige</li></ul>"),
    ("strong in p", "<p><strong>Projektnummer:</strong> 2018/00123</p><p><b>Region</b> Västsverige</p>"),
    ("label element", "<p><label>Projektnummer</label>2018/00123</p><p><label>Region</label>Västsverige</p>"),
    ("br", "<div>Projektnummer:<br>2018/00123<br>Region:<br>Västsverige</div>"),
    ("glued text", "<p>Projektnummer2018/00123</p><p>RegionVästsverige</p>"),
    (
        "spans glued",
        "<div><span>Projektnummer</span><span>2018/00123</span></div><div><span>Region</span><span>Västsverige</span></div>",
    ),
    ("odd spelling", "<p>PROJEKT\u00adNUMMER&nbsp;:</p><p>2018/00123</p><p>region  :</p><p>Västsverige</p>"),
]


@pytest.mark.parametrize("markup", [m for _, m in FIELDS], ids=[n for n, _ in FIELDS])
def test_label_shapes(markup):
    record = one(markup)
    assert record.columns["project_number"] == "2018/00123"
    assert (record.columns["region"], record.columns["region_nuts2"]) == ("Västsverige", "SE23")


def test_empty_value_does_not_swallow_the_next_label():
    record = one(
        "<p>Startdatum:</p><p>Slutdatum:</p><p>Projektperiod:</p><p>2017-12-22 - 2020-06-21</p>"
        "<p>Projektnummer:</p><p>2017/00375</p>"
    )
    assert (record.columns["start_date"], record.columns["end_date"]) == (dt.date(2017, 12, 22), dt.date(2020, 6, 21))
    assert record.columns["project_number"] == "2017/00375"
    assert not record.issues


def test_explicit_dates_win_over_the_period_and_disagreement_is_reported():
    record = one(
        "<p>Projektnummer: 2017/00001</p><p>Startdatum: 2018-01-01</p><p>Slutdatum: 2019-06-30</p>"
        "<p>Projektperiod: 2017-12-22 - 2020-06-21</p>"
    )
    assert (record.columns["start_date"], record.columns["end_date"]) == (dt.date(2018, 1, 1), dt.date(2019, 6, 30))
    assert [i.problem for i in record.issues] == ["conflicting_values"]


def test_unknown_label_is_reported_and_kept():
    record = one("<p>Projektnummer:</p><p>2018/00123</p><p>Kommunkod:</p><p>1780</p><p>Region:</p><p>Stockholm</p>")
    assert record.extra_fields == {"Kommunkod": "1780"}
    [issue] = [i for i in record.issues if i.problem == "unknown_label"]
    assert (issue.field, issue.raw_value) == ("Kommunkod", "1780")
    assert record.columns["region_nuts2"] == "SE11"


def test_value_that_cannot_be_normalised_is_null_with_an_issue():
    record = one(
        "<p>Projektnummer: 2018/00123</p><p>Beviljat ESF-stöd: ca 45 miljoner kr</p>"
        "<p>Total projektbudget: 3 976 183 miljoner kronor</p><p>Unionens medfinansieringsgrad: hälften</p>"
    )
    assert record.columns.get("esf_grant_sek") is None and record.columns.get("total_budget_sek") is None
    problems = {(i.field, i.problem, i.raw_value) for i in record.issues}
    assert ("esf_grant_sek", "approximate_amount", "ca 45 miljoner kr") in problems
    assert ("total_budget_sek", "malformed_amount", "3 976 183 miljoner kronor") in problems
    assert ("eu_cofinancing_rate", "unparseable_percentage", "hälften") in problems


def test_every_raw_value_is_kept():
    record = one("<p>Projektnummer: 2018/00123</p><p>Beviljat ESF-stöd: 1\u00a0000 kr</p>")
    assert [(f.field, f.label, f.raw) for f in record.raw_fields] == [
        ("project_number", "Projektnummer", "2018/00123"),
        ("esf_grant_sek", "Beviljat ESF-stöd", "1 000 kr"),
    ]


def test_prose_starting_with_a_label_word_is_not_a_field():
    record = one(
        "<p>Projektnummer: 2018/00123</p><p>Regionen har länge arbetat med frågan.</p>"
        "<p>Region Värmland bildades 2019 och tog över uppdraget.</p>"
    )
    assert "region" not in record.columns
    assert record.sections[0].text.startswith("Regionen har länge")


@pytest.mark.parametrize(
    "heading",
    [
        "<h2>Bakgrund</h2>",
        "<h4>BAKGRUND</h4>",
        "<p><strong>Bakgrund</strong></p>",
        "<p>Bakgrund</p>",
        "<div><b>Bakgrund:</b></div>",
    ],
)
def test_heading_shapes(heading):
    record = one(f"<p>Projektnummer: 2018/00123</p>{heading}<p>Text om bakgrunden.</p><h3>Syfte</h3><p>Syftet.</p>")
    assert [(s.kind, s.text) for s in record.sections] == [
        ("background", "Text om bakgrunden."),
        ("purpose", "Syftet."),
    ]


def test_chrome_is_ignored_and_never_a_section():
    body = """<header><nav><a href="/">Start</a> Projektägare: FEL</nav></header>
    <div class="cookie-banner"><p>Vi använder kakor.</p><p>Bakgrund</p></div>
    <div style="display:none"><p>Projektägare: DOLD</p></div><p hidden>Region: Stockholm</p>
    <script>var Projektägare = "x";</script><style>p{}</style><!-- Projektägare: kommentar -->
    <main><p>Projektnummer: 2018/00123</p><p>Projektägare: Region Gotland</p>
    <p>Logotyp på utskrifter</p><p>Stäng</p><h2>Syfte</h2><p>Att pröva.</p></main>
    <footer><p>Bakgrund</p><p>ESF-rådet, Box 47141</p></footer>"""
    record = one(body)
    assert record.columns["owner"] == "Region Gotland"
    assert "region" not in record.columns
    assert [(s.heading, s.text) for s in record.sections] == [("Syfte", "Att pröva.")]


def test_page_without_labels_is_other():
    result = parse("<h1>Om projektbanken</h1><p>Här finns alla projekt.</p><p><a href='/'>Till start</a></p>")
    assert (result.kind, result.records) == ("other", [])


def test_listing_page():
    result = parse("<ul><li><a href='a.html'>A</a></li><li><a href='b.html'>B</a></li></ul><a href='s2.html'>Nästa</a>")
    assert result.kind == "listing"
    assert [u for u, _ in result.links] == [
        "http://127.0.0.1/projektbanken/projekt/a.html",
        "http://127.0.0.1/projektbanken/projekt/b.html",
        "http://127.0.0.1/projektbanken/projekt/s2.html",
    ]


def test_esf_plus_project_number_and_cci_give_the_programme_period():
    record = one(
        "<p>Diarienummer: 22-025-S02</p><p>Program CCI: 2021SE05SFPR</p><p>Projektägare: ÖREBRO KOMMUN</p>"
        "<p>NUTS-2 kod: SE12</p><p>Projektägare organisationsnummer: 2120001967</p><p>Antal deltagare: 120</p>"
        "<p>Stödmottagarens postnummer: 702 11</p><p>Programområde: A</p><p>Specifikt mål: A2A</p>"
    )
    cols = record.columns
    assert record.page_family == "esf_plus_2021_2027"
    assert (cols["programme_period"], cols["region_nuts2"], cols["planned_participants"]) == ("2021-2027", "SE12", 120)
    assert (cols["owner"], cols["owner_readable"]) == ("ÖREBRO KOMMUN", "Örebro kommun")
    assert (cols["postal_code"], cols["postal_municipality_code"]) == ("70211", "1880")
    assert (cols["programme_area"], cols["specific_objective"]) == ("A", "A2A")
    assert cols["owner_org_number"] == "2120001967"


def test_old_layout_programme_area_gives_the_objective_and_call_number():
    record = one(
        "<p>Programområde</p><p>1.1 Kompetensförsörjning</p><p>Utlysning</p><p>2015/00123</p>"
        "<p>Projektnummer</p><p>2015/00999</p>"
    )
    assert (record.columns["programme_area"], record.columns["specific_objective"]) == ("1", "1.1")
    assert record.columns["call_number"] == "2015/00123"
    assert record.page_family == "esf_2014_2020_old"


def test_english_summary_and_municipality_list():
    record = one(
        "<p>ProjektfasGenomförande</p><p>Projektperiod2010-01-01 till 2011-12-31</p><p><a href='#en'>In English</a></p>"
        "<p>The project helps young people in Värmland find work and education.</p>"
        "<h2>Sammanfattning</h2><p>Projektet hjälper unga.</p><h2>Kommun</h2>"
        "<ul><li>Karlstad</li><li>UpplandsVäsby</li><li>Atlantis</li></ul>"
    )
    assert [(s.kind, s.language) for s in record.sections] == [("english_summary", "en"), ("summary", "sv")]
    assert [(m["municipality_name"], m["municipality_code"]) for m in record.municipalities] == [
        ("Karlstad", "1780"),
        ("UpplandsVäsby", "0114"),
        ("Atlantis", None),
    ]
    assert [i.raw_value for i in record.issues if i.problem == "unknown_municipality"] == ["Atlantis"]


# ---------------------------------------------------------------- shapes found by an outside review


def test_share_box_above_the_facts_does_not_end_the_page():
    record = one(
        "<main><div><p>Dela sidan</p><p>Skriv ut</p></div><h1>2017/00222 - Jobbstart</h1><dl>"
        "<dt>Projektägare:</dt><dd>Borås Stad</dd><dt>Region:</dt><dd>Västsverige</dd></dl></main>"
    )
    assert (record.columns["owner"], record.columns["region_nuts2"]) == ("Borås Stad", "SE23")


def test_sidebar_of_related_projects_is_chrome():
    record = one(
        "<aside class='related'><p>Region: Stockholm</p><p>Projektperiod: 2016-01-01 - 2017-12-31</p></aside>"
        "<main><dl><dt>Projektnummer:</dt><dd>2019/00777</dd><dt>Region:</dt><dd>Övre Norrland</dd>"
        "<dt>Projektperiod:</dt><dd>2019-05-01 - 2021-04-30</dd></dl></main>"
    )
    assert record.columns["region_nuts2"] == "SE33" and record.columns["start_date"] == dt.date(2019, 5, 1)
    assert not record.issues


def test_contact_box_heading_ends_the_content_and_keeps_the_family():
    record = one(
        "<dl><dt>Projektnummer:</dt><dd>2019/00901</dd><dt>Projektägare:</dt><dd>Kils kommun</dd></dl>"
        "<h2>Syfte</h2><p>Fler i arbete.</p><div class='infobox'><h3>Kontakt</h3><p>ESF-rådets växel</p>"
        "<p>Telefon: 08-579 171 00</p></div>"
    )
    assert record.page_family == "esf_2014_2020" and record.columns["programme_period"] == "2014-2020"
    assert record.contacts == [] and [s.text for s in record.sections] == ["Fler i arbete."]


@pytest.mark.parametrize("owner", ["TELGE TILLVÄXT AB", "FASTIGHETSBRANSCHENS UTBILDNINGSNÄMND", "REGIONENS HUS"])
def test_uppercase_values_are_not_glued_labels(owner):
    record = one(f"<p>Diarienummer:</p><p>23-200-S01</p><div>Projektägare</div><div>{owner}</div>")
    assert record.columns["owner"] == owner
    assert not record.issues


def test_allcaps_subheading_stays_in_its_section():
    record = one(
        "<p>ProjektfasGenomförande</p><p>ProjektägareKarlstads kommun</p><h2>Bakgrund</h2><p>Text.</p>"
        "<p>KONTAKTER MED NÄRINGSLIVET</p><p>Mer text.</p>"
    )
    assert [(s.kind, s.text) for s in record.sections] == [
        ("background", "Text.\n\nKONTAKTER MED NÄRINGSLIVET\n\nMer text.")
    ]
    assert record.contacts == []


def test_2007_2013_page_without_phase_is_recognised_by_its_layout():
    record = one(
        "<p>ProgramområdeProgramområde 2 Ökat arbetskraftsutbud</p><p>ProjektägareGnosjö kommun</p>"
        "<p>Projektperiod2008-09-01 till 2010-08-31</p><h2>Kommun</h2><ul><li>Gnosjö</li></ul>"
    )
    assert record.page_family == "esf_2007_2013" and record.columns["programme_period"] == "2007-2013"
    assert record.columns["programme_area_name"] == "Ökat arbetskraftsutbud"


def test_bold_values():
    record = one(
        "<table><tr><th>Projektnummer</th><td><strong>2016/00600</strong></td></tr>"
        "<tr><th>Beviljat ESF-stöd</th><td><b>4 627 244</b></td></tr></table>"
    )
    assert record.columns["project_number"] == "2016/00600" and record.columns["esf_grant_sek"] == 4627244
    assert record.sections == []


def test_value_over_several_lines_of_its_own_block():
    record = one(
        "<dl><dt>Projektnummer:</dt><dd>2018/00301</dd><dt>Projektägare:</dt>"
        "<dd>Region Värmland<br>Regionens kansli</dd></dl>"
    )
    assert record.columns["owner"] == "Region Värmland, Regionens kansli"


def test_inline_municipality_list():
    record = one("<p>ProjektfasGenomförande</p><p><b>Kommun:</b> Arvika, Eda, Kil</p>")
    assert [m["municipality_code"] for m in record.municipalities] == ["1784", "1730", "1715"]


def test_page_furniture_lines_are_not_content():
    record = one(
        "<p>Projektnummer: 2018/00123</p><h2>Mål</h2><p>Fler i arbete.</p><p>Facebook Twitter</p>"
        "<p>Senast uppdaterad: 2021-03-04</p><h2>Kommun</h2><ul><li>Kil</li></ul><p>Skriv ut sidan</p>"
    )
    assert [s.text for s in record.sections] == ["Fler i arbete."]
    assert [m["municipality_name"] for m in record.municipalities] == ["Kil"]


def test_screen_reader_text_does_not_corrupt_values():
    record = one(
        "<p>Projektnummer: 2018/00123</p><p>Kontaktperson: Anna Berg</p><p>E-post: <a href='mailto:a@b.se'>"
        "anna.berg@region.se<span class='sr-only'> (öppnar e-postprogram)</span></a></p>"
    )
    assert record.contacts[0]["email"] == "anna.berg@region.se"


def test_theme_page_project_with_an_ingress_and_a_bold_initiative_intro():
    result = parse(
        "<h2>Örebro: Integration i regional kompetensförsörjning</h2><p>Projektägare: Region Örebro</p>"
        "<p>Projektperiod: 2018-2020</p><h2>Västmanland - Förstärkning integration</h2>"
        "<p>Ett samverkansprojekt i länet.</p><p>Projektägare: Region Västmanland</p><p>Projektperiod: 2019-2021</p>"
    )
    assert [r.columns["name"] for r in result.records] == [
        "Integration i regional kompetensförsörjning",
        "Förstärkning integration",
    ]
    assert result.records[1].sections[0].text == "Ett samverkansprojekt i länet."
    skr = parse(
        "<p>Publicerad: 14 mars 2019</p><p><strong>För 2019 har SKL beviljats medel för följande insatser:"
        "</strong></p><h2>Introduktion i äldreomsorgen</h2><p>Ett material tas fram.</p>"
        "<h2>Snabbspår för socionomer</h2><p>Ett snabbspår utvecklas.</p>"
    )
    assert skr.family == "skr_initiatives" and len(skr.records) == 2


def test_pagination_inside_nav_is_followed_by_the_crawler_but_menus_are_not_content():
    from parsers.html import links, parse_document

    html = (
        "<nav class='menu'><nav><a href='/a'>A</a></nav><a href='/b'>Bakgrund</a></nav>"
        "<p>Projektnummer: 2018/00123</p><nav class='pager'><a href='sida-2.html'>Nästa</a></nav>"
    )
    assert [u for u, _ in links(parse_document(html), URL)][-1].endswith("/sida-2.html")
    record = one(html)
    assert record.sections == [] and record.columns["project_number"] == "2018/00123"


def test_several_contacts_in_page_order():
    record = one(
        "<p>Projektnummer: 2018/00123</p><p>Kontaktperson: Anna Berg</p><p>E-post: Anna.Berg@Kil.se</p>"
        "<p>Kontaktperson: Olof Lind</p><p>Telefon: 054-614310</p><p>E-post: olof.lind@kil.se</p>"
    )
    assert record.contacts == [
        {"name": "Anna Berg", "email": "anna.berg@kil.se", "phone": None},
        {"name": "Olof Lind", "email": "olof.lind@kil.se", "phone": "+4654614310"},
    ]
    assert not record.issues


def test_links_resolve_like_urljoin_whatever_the_shape_of_href():
    from urllib.parse import urldefrag, urljoin

    from parsers.html import hrefs as page_hrefs
    from parsers.html import links, parse_document

    hrefs = [
        "/a/b.html",
        "http://x.se/q?x=1#f",
        "https://other/p",
        "rel/c.html",
        "../up.html",
        "/a/./b/../c",
        "//cdn/x",
        "?page=2",
        "sida-2.html#x",
        "HTTP://Example.se/A",
        "/p?q=a b",
    ]
    base = "http://127.0.0.1:8000/projektbanken/lista/index.html"
    html = "".join(f'<a href="{h}">{n}</a>' for n, h in enumerate(hrefs)) + '<a href="#top">top</a>'
    expected = [urldefrag(urljoin(base, h))[0] for h in hrefs]
    assert [u for u, _ in links(parse_document(html), base)] == expected
    assert page_hrefs(parse_document(html), base) == expected  # the crawler's variant, without link texts
    assert [t for _, t in links(parse_document(html), base)] == [str(n) for n in range(len(hrefs))]


@pytest.mark.parametrize(
    "card",
    [
        '<li><h3><a href="p{n}.html">Projekt {n}</a></h3><p>Projektägare: Kommun {n}</p></li>',
        '<dl><dt><a href="p{n}.html">Projekt {n}</a></dt><dt>Beviljat ESF-stöd:</dt><dd>{n}00 000 kr</dd></dl>',
    ],
)
def test_a_list_of_project_cards_is_a_listing_not_one_project(card):
    from parsers.page import parse_page

    html = (
        "<html><body><ul>"
        + "".join(card.format(n=n) for n in range(1, 7))
        + '</ul><a href="?sida=2">Nästa</a></body></html>'
    )
    result = parse_page(html.encode(), "http://127.0.0.1/lista/", "text/html; charset=utf-8")
    assert result.kind == "listing" and not result.records
    assert [i.problem for i in result.issues] == ["labels_on_listing"]
    assert {u for u, _ in result.links} >= {f"http://127.0.0.1/lista/p{n}.html" for n in range(1, 7)}
