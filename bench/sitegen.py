"""Generate a synthetic ESF project bank: N project pages (30-60 KB of HTML each, with realistic page
chrome) spread over the esf.se page families of docs/domain.md, in one of two shapes:

- "paged" (the default, served by nginx in the bench): listing pages of 50 projects each, with a pager
  of neighbouring pages, `Föregående` and `Nästa`, so a crawler finds several listing pages at once;
- "chained": listing pages of 10 projects each whose only way on is a `Nästa sida` link to the next
  one, so the listing pages can only be found one after the other (N/10 of them in a chain).

    python -m bench.sitegen --pages 5000 --out bench/site/5000
    python -m bench.sitegen --shape chained --pages 3200 --out bench/site/chained-3200

Layout (everything under one directory, so it is one crawl scope):
    /projektbanken/index.html, /projektbanken/sida-2.html, ...   listing pages
    /projektbanken/projekt/<n>.html                             project pages (the same in both shapes)
    /robots.txt                                                  allows everything

Deterministic: the same N and seed give byte-identical files, so a second crawl sees an unchanged site.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import random
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "parsers" / "data"
LISTING_SIZE = 50
CHAINED_LISTING_SIZE = 10
SHAPES = ("paged", "chained")
SITE_DIR = "projektbanken"

# Share of each family (and markup variant) among the project pages.
FAMILIES = [
    ("esf_2014_2020", "dl", 0.22),  # <dl><dt>Projektnummer:</dt><dd>2016/00418</dd>
    ("esf_2014_2020", "p", 0.18),  # <p>Projektnummer:</p><p>2016/00418</p>
    ("esf_2007_2013", "table", 0.20),  # <tr><th>Projektfas</th><td>Genomförande</td>
    ("esf_2007_2013", "glued", 0.15),  # <p><b>Beviljat ESF-stöd</b>299 614 kr</p>
    ("esf_plus_2021_2027", "setb", 0.17),  # set B labels, dl markup
    ("esf_plus_2021_2027", "seta", 0.08),  # set A labels, p/p markup
]

REGIONS = [
    ("Stockholm", "SE11"),
    ("Östra Mellansverige", "SE12"),
    ("Småland och öarna", "SE21"),
    ("Sydsverige", "SE22"),
    ("Västsverige", "SE23"),
    ("Norra Mellansverige", "SE31"),
    ("Mellersta Norrland", "SE32"),
    ("Övre Norrland", "SE33"),
]
REGION_SPELLINGS = {"Småland och öarna": ["Småland och öarna", "Småland & Öarna", "Småland med öarna"]}
FIRST = [
    "Anna",
    "Erik",
    "Maria",
    "Lars",
    "Karin",
    "Anders",
    "Eva",
    "Johan",
    "Sara",
    "Per",
    "Lena",
    "Mikael",
    "Kerstin",
    "Fredrik",
    "Ingrid",
    "Björn",
    "Åsa",
    "Magnus",
    "Elin",
    "Jonas",
    "Sofia",
    "Mats",
    "Linnéa",
    "Göran",
    "Helena",
    "Oskar",
    "Malin",
    "Nils",
    "Ebba",
    "Ali",
    "Fatima",
    "Mohammed",
    "Zeynep",
    "Tomas",
]
LAST = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Jönsson",
    "Lindberg",
    "Lindqvist",
    "Åberg",
    "Öberg",
    "Sjöberg",
    "Wallin",
    "Engström",
    "Hussein",
    "Yilmaz",
    "Lundgren",
    "Berg",
    "Holm",
]
OWNER_KINDS = [
    "{m} kommun",
    "Region {c}",
    "Länsstyrelsen i {c} län",
    "Arbetsförmedlingen",
    "Samordningsförbundet {m}",
    "Folkuniversitetet, {m}",
    "Företagarna {m}",
    "{m} Näringslivs AB",
    "Studieförbundet Vuxenskolan {c}",
    "Högskolan i {m}",
    "Coompanion {c}",
    "Försäkringskassan",
    "Kommunförbundet {c}",
]
TITLE_WORDS = [
    "Vägen",
    "Steget",
    "Kompetenslyft",
    "Framtid",
    "Nya jobb",
    "Växa",
    "Bron",
    "Inkludering",
    "Kraft",
    "Spåret",
    "Lyftet",
    "Nätverket",
    "Startpunkten",
    "Mötesplats",
    "Navigator",
    "Jobbsprånget",
    "Digitalt lärande",
    "Grön omställning",
    "Vård och omsorg",
    "Unga vuxna",
    "Ny start",
    "Språkbron",
]
PHASES = ["Förprojektering", "Genomförande"]
INTERVENTIONS_1420 = ["102", "103", "104", "106", "109", "111", "115", "117", "118"]
OBJECTIVES_1420 = [("1.1", "102"), ("2.1", "102"), ("2.2", "103"), ("2.3", "109"), ("1.1", "117")]
AREAS_1420 = {"1": "Kompetensförsörjning", "2": "Öka övergångarna till arbete"}
ESFPLUS_OBJECTIVES = ["A1A", "A1B", "A2A", "A2B", "B1A", "C1A", "D1A", "E1A"]

WORDS = (
    "arbete arbetsmarknaden deltagare kompetens utbildning insatser kommuner regionen samverkan företag "
    "arbetsgivare unga nyanlända långtidsarbetslösa metoder stöd vägledning praktik handledning språk "
    "digitalisering omställning branscher kartläggning jämställdhet tillgänglighet hållbar utveckling "
    "organisationer verksamheter målgruppen projektet aktiviteter resultat lärande validering "
    "studier anställning coachning sysselsättning näringslivet offentliga sektorn civilsamhället"
).split()
OPENERS = [
    "Projektet syftar till att",
    "Målet är att",
    "Genom projektet ska",
    "Insatserna ska",
    "Vi vill",
    "Under projekttiden kommer",
    "Erfarenheter visar att",
    "Behovet av",
    "I regionen finns",
    "Deltagarna får",
]


@dataclass
class Project:
    n: int
    family: str
    variant: str
    html: str


def _load_places() -> tuple[list[str], list[str], list[str]]:
    with open(DATA / "municipalities.csv", encoding="utf-8") as handle:
        municipalities = [row["municipality_name_short"] for row in csv.DictReader(handle)]
    with open(DATA / "counties.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    counties = [r["county_name_short"] for r in rows]
    with open(DATA / "postal_to_municipality.csv", encoding="utf-8") as handle:
        postcodes = [row["postal_code"] for _, row in zip(range(20000), csv.DictReader(handle))]
    return municipalities, counties, postcodes


MUNICIPALITIES, COUNTIES, POSTCODES = _load_places()


def kr(amount: int, rnd: random.Random, unit: bool = True) -> str:
    sep = "\u00a0" if rnd.random() < 0.4 else " "
    text = f"{amount:,}".replace(",", sep)
    return text + (" kr" if unit else "")


def sentence(rnd: random.Random) -> str:
    words = rnd.sample(WORDS, rnd.randint(8, 18))
    return f"{rnd.choice(OPENERS)} {' '.join(words)}."


def paragraph(rnd: random.Random, sentences: tuple[int, int] = (3, 7)) -> str:
    return " ".join(sentence(rnd) for _ in range(rnd.randint(*sentences)))


def person(rnd: random.Random) -> tuple[str, str, str]:
    """(full name, first name, last name)."""
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    return f"{first} {last}", first, last


def ascii_fold(text: str) -> str:
    return (
        text.lower()
        .replace("å", "a")
        .replace("ä", "a")
        .replace("ö", "o")
        .replace("é", "e")
        .replace(" ", "")
        .replace(",", "")
    )


def phone(rnd: random.Random) -> str:
    shapes = ["0{a}-{b} {c} {d}", "+4670{e}", "0{a} {b} {c} {d}", "010-{f} {c} {d}", "0{a}-{g}"]
    return rnd.choice(shapes).format(
        a=rnd.randint(10, 99),
        b=rnd.randint(100, 999),
        c=rnd.randint(10, 99),
        d=rnd.randint(10, 99),
        e=rnd.randint(1000000, 9999999),
        f=rnd.randint(100, 999),
        g=rnd.randint(100000, 999999),
    )


def org_number(rnd: random.Random) -> str:
    """A ten-digit Swedish organisation number with a valid Luhn check digit."""
    stem = rnd.choice(["212000", "202100", "556", "802"])
    stem = (stem + "".join(str(rnd.randint(0, 9)) for _ in range(9 - len(stem))))[:9]
    total = 0
    for i, ch in enumerate(stem):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return stem + str((10 - total % 10) % 10)


# ---------------------------------------------------------------- page chrome

NAV_SECTIONS = {
    "Om ESF-rådet": ["Uppdrag", "Organisation", "Lediga jobb", "Press", "Kontakt", "Styrdokument", "Öppna data"],
    "Söka stöd": [
        "Aktuella utlysningar",
        "Så ansöker du",
        "Regler och villkor",
        "Blanketter",
        "Handbok",
        "Stödmottagare",
        "Seminarier",
        "Vanliga frågor",
    ],
    "Resultat": ["Statistik", "Utvärderingar", "Goda exempel", "Rapporter", "Temaanalyser", "Nyhetsbrev"],
    "Program": [
        "Socialfondsprogrammet",
        "Regionala planer",
        "Övervakningskommittén",
        "Strukturfondspartnerskap",
        "Horisontella principer",
        "Programdokument",
    ],
}


def nav_html(rnd: random.Random, links: int) -> str:
    """A mega-menu of ``links`` links to pages outside /projektbanken/ (so the crawl does not follow them)."""
    parts = [
        '<header class="site-header" role="banner"><a class="skip-link" href="#main">Till innehållet</a>',
        '<div class="logo"><a href="/"><img src="/static/logo.svg" alt="Svenska ESF-rådet" width="180" height="48"></a></div>',
        '<nav class="main-nav" aria-label="Huvudmeny"><ul class="menu">',
    ]
    sections = list(NAV_SECTIONS.items())
    k = 0
    while k < links:
        title, items = sections[(k // 40) % len(sections)]
        slug_title = ascii_fold(title)
        parts.append(f'<li class="menu-item has-children"><a href="/{slug_title}/">{title}</a><ul class="sub-menu">')
        for i in range(min(40, links - k)):
            item = items[i % len(items)]
            suffix = "" if i < len(items) else f" {2015 + i % 9}"
            parts.append(
                f'<li class="menu-item"><a class="menu-link" href="/{slug_title}/{ascii_fold(item)}'
                f'{("-" + str(i)) if suffix else ""}/" data-track="nav-{k + i}">{item}{suffix}</a></li>'
            )
        parts.append("</ul></li>")
        k += 40
    parts.append(
        '</ul></nav><form class="search" action="/sok/" role="search"><label for="q">Sök</label>'
        '<input id="q" name="q" type="search"><button type="submit">Sök</button></form></header>'
    )
    return "".join(parts)


def cookie_banner() -> str:
    return (
        '<div id="cookie-consent" class="cookie-banner" role="dialog" aria-label="Kakor">'
        "<h2>Vi använder kakor</h2><p>Den här webbplatsen använder kakor (cookies) för att förbättra "
        "din upplevelse och för att samla statistik. Du kan själv välja vilka kakor du godkänner.</p>"
        '<button class="accept">Godkänn alla</button><button class="decline">Endast nödvändiga</button>'
        '<a href="/om-webbplatsen/kakor/">Läs mer om kakor</a></div>'
    )


def inline_style(rnd: random.Random, rules: int) -> str:
    out = ["<style>"]
    for i in range(rules):
        out.append(
            f".c{i}-{rnd.randint(100, 999)}{{margin:{rnd.randint(0, 24)}px {rnd.randint(0, 24)}px;"
            f"padding:{rnd.randint(0, 16)}px;color:#{rnd.randint(0, 0xFFFFFF):06x};"
            f"font-size:{rnd.choice(['1rem', '.875rem', '1.25rem'])};display:flex}}"
        )
    out.append("</style>")
    return "".join(out)


def inline_script(rnd: random.Random, entries: int) -> str:
    data = [
        {
            "id": rnd.randint(10000, 99999),
            "event": rnd.choice(["view", "click", "scroll"]),
            "path": f"/sida/{rnd.randint(1, 9999)}",
            "w": rnd.random(),
        }
        for _ in range(entries)
    ]
    return (
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
        "gtag('js',new Date());gtag('config','G-XXXXXXX',{anonymize_ip:true});"
        f"window.__SITE_STATE__={json.dumps(data, separators=(',', ':'))};</script>"
    )


def footer_html(rnd: random.Random) -> str:
    cols = []
    for title, items in NAV_SECTIONS.items():
        lis = "".join(f'<li><a href="/{ascii_fold(title)}/{ascii_fold(i)}/">{i}</a></li>' for i in items)
        cols.append(f'<div class="footer-col"><h2>{title}</h2><ul>{lis}</ul></div>')
    return (
        '<footer class="site-footer" role="contentinfo">'
        + "".join(cols)
        + "<p>Svenska ESF-rådet, Box 471, 201 24 Malmö. Telefon 010-516 67 00.</p>"
        '<ul class="social"><li><a href="https://www.linkedin.com/">LinkedIn</a></li>'
        '<li><a href="https://www.facebook.com/">Facebook</a></li></ul>'
        '<p><a href="/om-webbplatsen/tillganglighet/">Tillgänglighetsredogörelse</a> · '
        '<a href="/om-webbplatsen/personuppgifter/">Personuppgifter</a></p></footer>'
    )


def page_shell(title: str, body: str, rnd: random.Random, nav_links: int, style_rules: int, script_entries: int) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="sv"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/static/main.css"><link rel="icon" href="/favicon.ico">'
        + inline_style(rnd, style_rules)
        + inline_script(rnd, script_entries)
        + "</head><body>"
        + cookie_banner()
        + nav_html(rnd, nav_links)
        + '<nav class="breadcrumbs" aria-label="Brödsmulor"><a href="/">Start</a> › <a href="/resultat/">Resultat</a>'
        f' › <a href="/{SITE_DIR}/">Projektbanken</a></nav>'
        f'<main id="main">{body}</main>'
        + footer_html(rnd)
        + '<script src="/static/app.js" defer></script></body></html>\n'
    )


# ---------------------------------------------------------------- project pages


def _owner(rnd: random.Random) -> str:
    return rnd.choice(OWNER_KINDS).format(m=rnd.choice(MUNICIPALITIES), c=rnd.choice(COUNTIES))


def _title(rnd: random.Random) -> str:
    return (
        f"{rnd.choice(TITLE_WORDS)} {rnd.choice(MUNICIPALITIES)}"
        if rnd.random() < 0.6
        else f"{rnd.choice(TITLE_WORDS)} – {rnd.choice(TITLE_WORDS).lower()}"
    )


def _period(rnd: random.Random, first_year: int, last_year: int) -> tuple[date, date]:
    start = date(first_year, 1, 1) + timedelta(days=rnd.randint(0, (last_year - first_year) * 365))
    return start, start + timedelta(days=rnd.randint(150, 1100))


def _money(rnd: random.Random) -> tuple[int, int]:
    budget = rnd.randint(300, 60000) * 1000 + rnd.randint(0, 999)
    return budget, int(budget * rnd.uniform(0.4, 1.0))


def _label_block(pairs: list[tuple[str, str]], markup: str, colon: bool) -> str:
    c = ":" if colon else ""
    esc = html.escape
    if markup == "dl":
        return (
            '<dl class="project-facts">' + "".join(f"<dt>{esc(k)}{c}</dt><dd>{esc(v)}</dd>" for k, v in pairs) + "</dl>"
        )
    if markup == "p":
        return (
            '<div class="project-facts">' + "".join(f"<p>{esc(k)}{c}</p><p>{esc(v)}</p>" for k, v in pairs) + "</div>"
        )
    if markup == "table":
        return (
            '<table class="project-facts"><tbody>'
            + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in pairs)
            + "</tbody></table>"
        )
    if markup == "glued":
        return '<div class="project-facts">' + "".join(f"<p><b>{esc(k)}</b>{esc(v)}</p>" for k, v in pairs) + "</div>"
    raise ValueError(markup)


def _sections(rnd: random.Random, headings: list[str], budget: int) -> str:
    """Prose sections, about ``budget`` characters in all."""
    out, size = [], 0
    per = max(600, budget // max(1, len(headings)))
    for heading in headings:
        block = []
        if heading:
            block.append(f"<h2>{heading}</h2>")
        written = 0
        while written < per:
            if heading and rnd.random() < 0.08:
                block.append(f"<p><strong>{rnd.choice(WORDS).upper()} OCH {rnd.choice(WORDS).upper()}</strong></p>")
            text = paragraph(rnd)
            block.append(f"<p>{text}</p>")
            written += len(text)
        out.append("".join(block))
        size += written
    return "".join(out)


def project_2014_2020(n: int, rnd: random.Random, variant: str, prose: int) -> tuple[str, str]:
    number = f"{2015 + n % 6}/{n // 6 + 1:05d}"
    name = _title(rnd)
    region, _ = rnd.choice(REGIONS)
    region = rnd.choice(REGION_SPELLINGS.get(region, [region]))
    start, end = _period(rnd, 2015, 2020)
    budget, grant = _money(rnd)
    objective, intervention = rnd.choice(OBJECTIVES_1420)
    contact, first, last = person(rnd)
    owner = _owner(rnd)
    empty_dates = rnd.random() < 0.15
    pairs = [
        ("Projektnummer", number),
        ("Diarienummer", number),
        ("Namn", name),
        ("Startdatum", "" if empty_dates else start.isoformat()),
        ("Slutdatum", "" if empty_dates else end.isoformat()),
        ("Projektägare", owner),
        ("Region", region),
        ("Planerat antal deltagare", str(rnd.randint(10, 900))),
        ("Projektperiod", f"{start.isoformat()} - {end.isoformat()}"),
        ("Total projektbudget", kr(budget, rnd, unit=rnd.random() < 0.5)),
        ("Beviljat ESF-stöd", kr(grant, rnd, unit=rnd.random() < 0.5)),
        ("Kontaktperson", contact),
        ("E-post", f"{ascii_fold(first)}.{ascii_fold(last)}@{ascii_fold(owner.split()[0])}.se"),
        ("Stödmottagare postnr", rnd.choice(POSTCODES)),
        ("Stödmottagarens address", ""),
        ("Programområde", objective.split(".")[0]),
        ("Specifikt mål", objective),
        ("Unionens medfinansieringsgrad", rnd.choice(["50%", "53 procent", "49,58 %", "50 %"])),
        ("Interventionstyp", intervention),
    ]
    headings = ["", ""] if rnd.random() < 0.4 else ["Bakgrund", "Syfte", "Mål"]
    body = (
        f'<article class="project"><h1>{html.escape(number)} - {html.escape(name)}</h1>'
        + _label_block(pairs, variant, colon=True)
        + '<div class="project-text">'
        + _sections(rnd, headings, prose)
        + "</div></article>"
    )
    return f"{number} - {name}", body


def project_2007_2013(n: int, rnd: random.Random, variant: str, prose: int) -> tuple[str, str]:
    name = _title(rnd)
    region, _ = rnd.choice(REGIONS)
    start, end = _period(rnd, 2008, 2013)
    budget, grant = _money(rnd)
    area = rnd.choice(["1", "2"])
    contact, first, last = person(rnd)
    owner = _owner(rnd)
    pairs = [
        (
            "Programområde",
            f"Programområde {area} {'Kompetensförsörjning' if area == '1' else 'Ökat arbetskraftsutbud'}",
        ),
        ("Projektfas", rnd.choice(PHASES)),
        ("Projektägare", owner),
        ("Kontaktperson", contact),
        ("E-post", f"{ascii_fold(first)}.{ascii_fold(last)}@{ascii_fold(owner.split()[0])}.se"),
        ("Telefonnummer", phone(rnd)),
        ("Beviljat ESF-stöd", kr(grant, rnd)),
        ("Total projektbudget", kr(budget, rnd)),
        ("Projektperiod", f"{start.isoformat()} till {end.isoformat()}"),
        ("Region", region),
    ]
    kommuner = "".join(f"<li>{m}</li>" for m in rnd.sample(MUNICIPALITIES, rnd.randint(1, 6)))
    english = '<p><a href="#english">In English</a></p>' if rnd.random() < 0.5 else ""
    body = (
        f'<article class="project"><p class="print-logo">Logotyp på utskrifter</p><h1>{html.escape(name)}</h1>'
        + _label_block(pairs, variant, colon=False)
        + english
        + _sections(
            rnd,
            ["Sammanfattning", "Bakgrund", "Syfte", "Målsättning"]
            + (["Tillgänglighet för personer med funktionsnedsättning"] if rnd.random() < 0.3 else []),
            prose,
        )
        + f"<h2>Kommun</h2><ul>{kommuner}</ul></article>"
    )
    return f"{name} - ESF-rådet", body


def project_esf_plus(n: int, rnd: random.Random, variant: str, prose: int) -> tuple[str, str]:
    number = f"{22 + n % 4}-{(n // 4) % 999 + 1:03d}-S{(n // 3996) % 99 + 1:02d}"
    name = _title(rnd)
    region, nuts = rnd.choice(REGIONS)
    start, end = _period(rnd, 2023, 2025)
    budget, grant = _money(rnd)
    objective = rnd.choice(ESFPLUS_OBJECTIVES)
    owner = _owner(rnd)
    org = org_number(rnd)
    city = rnd.choice(MUNICIPALITIES).upper()
    if variant == "setb":
        pairs = [
            ("Diarienummer", number),
            ("Fond", "ESF+"),
            ("Projektägare", owner),
            ("Specifikt mål", objective),
            ("Total projektbudget", kr(budget, rnd)),
            ("Beviljat ESF-stöd", kr(grant, rnd)),
            ("Planerat antal deltagare", str(rnd.randint(10, 900))),
            ("Projektperiod", f"{start.isoformat()} - {end.isoformat()}"),
            ("Startdatum", start.isoformat()),
            ("Slutdatum", end.isoformat()),
            ("Programperiod", "2021-2027"),
            ("Programområde", objective[0]),
            ("Interventionstyp", rnd.choice(["136", "138", "140", "150"])),
            ("Unionens medfinansieringsgrad", rnd.choice(["50%", "60%", "40%"])),
            ("Stödmottagarens postnummer", rnd.choice(POSTCODES)),
            ("Stödmottagarens land", "Sverige"),
            ("Projektägare org.nr.", org),
            ("Stödmottagarens ort", city),
            ("Program CCI", "2021SE05SFPR"),
            ("Sekundärtema - Motverka barnfattigdom", rnd.choice(["Ja", "Nej"])),
            ("Insats av strategisk betydelse", rnd.choice(["Ja", "Nej"])),
            ("NUTS-2 kod", nuts),
        ]
        markup = "dl"
    else:
        pairs = [
            ("Land som berörs", "Sverige"),
            ("Berörd fond", "ESF+"),
            ("Program CCI", "2021SE05SFPR"),
            ("Diarienummer", number),
            ("Projektägare organisationsnummer", org),
            ("Projektägare", owner.upper()),
            ("Namn", name),
            ("Startdatum", start.isoformat()),
            ("Slutdatum", end.isoformat()),
            ("Unionens medfinansieringsgrad", rnd.choice(["50%", "60%"])),
            ("Programområde", objective[0]),
            ("Specifikt mål", objective),
            ("Sekundärtema - Motverka barnfattigdom", rnd.choice(["Ja", "Nej"])),
            ("Region", region),
            ("NUTS-2 kod", nuts),
            ("Stödmottagare postnr", rnd.choice(POSTCODES)),
            ("Stödmottagare ort", city),
            ("Interventionstyp", rnd.choice(["136", "138", "140"])),
            ("Antal deltagare", str(rnd.randint(10, 900))),
            ("Insats av strategisk betydelse", rnd.choice(["Ja", "Nej"])),
            ("Projektnummer", number),
        ]
        markup = "p"
    body = (
        f'<article class="project"><h1>{html.escape(number)} - {html.escape(name)}</h1>'
        + _label_block(pairs, markup, colon=True)
        + '<div class="project-text">'
        + _sections(rnd, ["Bakgrund", "Syfte", "Mål"], prose)
        + "</div></article>"
    )
    return f"{number} - {name}", body


BUILDERS = {
    "esf_2014_2020": project_2014_2020,
    "esf_2007_2013": project_2007_2013,
    "esf_plus_2021_2027": project_esf_plus,
}


def project_page(n: int, seed: int) -> Project:
    rnd = random.Random(seed * 1_000_003 + n)
    pick, acc = rnd.random(), 0.0
    family, variant = FAMILIES[-1][:2]
    for fam, var, share in FAMILIES:
        acc += share
        if pick < acc:
            family, variant = fam, var
            break
    target = rnd.randint(30_000, 60_000)
    prose = int(target * rnd.uniform(0.15, 0.35))
    title, body = BUILDERS[family](n, rnd, variant, prose)
    # Fill the rest with chrome (menu links, inline style and script), as real CMS pages do.
    nav_links = rnd.randint(60, 160)
    page = page_shell(title, body, rnd, nav_links, 40, 40)
    rest = target - len(page.encode("utf-8"))
    if rest > 0:
        extra_style = rest // 3 // 90
        extra_script = rest // 3 // 75
        extra_nav = rest // 3 // 95
        page = page_shell(
            title, body, random.Random(seed + n), nav_links + extra_nav, 40 + extra_style, 40 + extra_script
        )
    return Project(n, family, variant, page)


# ---------------------------------------------------------------- listing pages


def listing_name(k: int) -> str:
    return "index.html" if k == 1 else f"sida-{k}.html"


def listing_href(k: int) -> str:
    return f"/{SITE_DIR}/" if k == 1 else f"/{SITE_DIR}/sida-{k}.html"


def listing_page(k: int, pages: int, entries: list[tuple[int, str, str]], seed: int) -> str:
    """Listing page k of ``pages``; entries are (n, title, region). Words that make the crawler treat a
    page as a project page (Projektägare, Diarienummer, ...) must not appear here."""
    rnd = random.Random(seed * 7919 + k)
    items = "".join(
        f'<li class="hit"><a href="/{SITE_DIR}/projekt/{n}.html">{html.escape(t)}</a>'
        f'<span class="meta">{html.escape(r)}</span></li>'
        for n, t, r in entries
    )
    pager = ['<nav class="pagination" aria-label="Sidnumrering"><ul>']
    if k > 1:
        pager.append(f'<li><a rel="prev" href="{listing_href(k - 1)}">Föregående</a></li>')
    for j in range(max(1, k - 3), min(pages, k + 3) + 1):
        pager.append(f'<li><a href="{listing_href(j)}">{j}</a></li>' if j != k else f"<li><span>{j}</span></li>")
    if k < pages:
        pager.append(f'<li><a rel="next" href="{listing_href(k + 1)}">Nästa</a></li>')
    pager.append("</ul></nav>")
    body = (
        f"<h1>Projektbanken</h1><p>Sök bland projekt som fått stöd från Europeiska socialfonden. "
        f'Sida {k} av {pages}.</p><ul class="hits">{items}</ul>'
        # The pager is outside <nav> too, as a plain paragraph (some CMSs print it so).
        + "".join(pager)
        .replace('<nav class="pagination" aria-label="Sidnumrering">', '<div class="pager">')
        .replace("</nav>", "</div>")
    )
    return page_shell(f"Projektbanken – sida {k}", body, rnd, 120, 60, 60)


def chained_listing_page(k: int, pages: int, entries: list[tuple[int, str, str]], seed: int) -> str:
    """Listing page k of ``pages`` in the chained shape: ten hits and only a `Nästa sida` link onwards
    (no numbered pager, no way back), so page k+1 is known only once page k has been read."""
    rnd = random.Random(seed * 7907 + k)
    items = "".join(
        f'<li class="search-hit"><h3><a href="/{SITE_DIR}/projekt/{n}.html">{html.escape(t)}</a></h3>'
        f'<p class="hit-meta">{html.escape(r)}</p><p class="hit-text">{html.escape(sentence(rnd))}</p></li>'
        for n, t, r in entries
    )
    onwards = (
        f'<p class="load-more"><a class="button" href="{listing_href(k + 1)}">Nästa sida</a></p>'
        if k < pages
        else '<p class="load-more">Inga fler träffar.</p>'
    )
    body = (
        f"<h1>Projektbanken</h1><p>Sök bland projekt som fått stöd från Europeiska socialfonden.</p>"
        f'<p class="hit-count">Visar {len(entries)} träffar.</p><ol class="search-hits">{items}</ol>{onwards}'
    )
    return page_shell(f"Projektbanken – sida {k}", body, rnd, 120, 60, 60)


def generate(out: Path, pages: int = 5000, seed: int = 1, shape: str = "paged") -> dict:
    """Write the site under ``out`` in the given shape (see the module's docstring); return a summary
    (families, sizes, listing count)."""
    if shape not in SHAPES:
        raise ValueError(f"unknown site shape {shape!r} (one of {', '.join(SHAPES)})")
    if out.exists():
        shutil.rmtree(out)
    projects_dir = out / SITE_DIR / "projekt"
    projects_dir.mkdir(parents=True)
    (out / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
    families: dict[str, int] = {}
    sizes: list[int] = []
    entries: list[tuple[int, str, str]] = []
    for n in range(1, pages + 1):
        project = project_page(n, seed)
        data = project.html.encode("utf-8")
        (projects_dir / f"{n}.html").write_bytes(data)
        sizes.append(len(data))
        key = f"{project.family}/{project.variant}"
        families[key] = families.get(key, 0) + 1
        title = project.html.split("<title>", 1)[1].split("</title>", 1)[0]
        entries.append((n, html.unescape(title), project.family.replace("_", " ")))
    size = CHAINED_LISTING_SIZE if shape == "chained" else LISTING_SIZE
    render = chained_listing_page if shape == "chained" else listing_page
    listing_count = (pages + size - 1) // size
    for k in range(1, listing_count + 1):
        chunk = entries[(k - 1) * size : k * size]
        (out / SITE_DIR / listing_name(k)).write_text(render(k, listing_count, chunk, seed), encoding="utf-8")
    sizes.sort()
    return {
        "shape": shape,
        "project_pages": pages,
        "listing_pages": listing_count,
        "projects_per_listing": size,
        "families": dict(sorted(families.items())),
        "bytes_total": sum(sizes),
        "bytes_min": sizes[0],
        "bytes_median": sizes[len(sizes) // 2],
        "bytes_max": sizes[-1],
        "start_path": f"/{SITE_DIR}/",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shape", choices=SHAPES, default="paged")
    parser.add_argument("--out", type=Path, default=None, help="default: bench/site/<pages> (chained-<pages>)")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "bench" / "site" / (str(args.pages) if args.shape == "paged" else f"chained-{args.pages}")
    print(json.dumps(generate(out, args.pages, args.seed, args.shape), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
