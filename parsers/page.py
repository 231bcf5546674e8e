"""One fetched page -> its kind, its project records and the issues met on the way.

``parse_page`` is the pure entry point the pipeline calls. It decides what a page is from its
content: a page with known project labels is a project page (one project, or many on a theme
page), an initiative article is read as one record per initiative, anything else yields nothing.
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from parsers.fields import Issue, RawField, normalise_fields
from parsers.html import (decode_page, links, no_text_issue, page_title, plain_text_as_html, read_document,
                          strip_controls, visible_lines)
from parsers.lines import MAX_FIELD_LINE, Token, join_value_lines, prose_like, tokenize, unknown_label
from parsers.lookups import county_index, lookup_municipality, lookup_region, vocabulary
from parsers import press_release
from parsers.press_release import read_press_release
from parsers.text import label_key, one_line, slug
from parsers import values as v


@dataclass
class Section:
    heading: str | None
    kind: str
    paragraphs: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass
class ProjectRecord:
    project_id: str
    page_family: str
    source_url: str
    columns: dict[str, Any]
    raw_fields: list[RawField]
    sections: list[Section]
    municipalities: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    extra_fields: dict[str, str]
    issues: list[Issue]


@dataclass
class PageResult:
    kind: str  # project | listing | press_release | other
    family: str | None
    records: list[ProjectRecord]
    issues: list[Issue]  # page-level issues (no project)
    links: list[tuple[str, str]]
    encoding: str
    title: str
    # A press release on granted projects: one dict per announcement (parsers/press_release.py), in page order.
    announcements: list[dict[str, Any]] = field(default_factory=list)


def parse_page(body: bytes | str, url: str, content_type: str | None = None, page_id: str | None = None) -> PageResult:
    """Parse one page. Never raises on bad input: a page that cannot be read is ``other`` with an issue.
    ``page_id`` is the page's identity independent of where the site is served (``source:path``, see
    pipeline/sources.py); projects without a number of their own get ids derived from it. Without it,
    the address's path and query stand in."""
    # Page-level issues of reading the page at all: encoding, control characters, limits, no text.
    if isinstance(body, bytes):
        html, encoding, page_issues = decode_page(body, content_type)
    else:
        (html, page_issues), encoding = strip_controls(body), "str"
    html = plain_text_as_html(html, content_type)
    identity = page_id or address_identity(url)
    if not html.strip():
        return PageResult("other", None, [], [*page_issues, Issue(None, None, "empty_page")], [], encoding, "")
    root, document_issues = read_document(html)
    page_issues += document_issues
    title = page_title(root)
    lines = visible_lines(root)
    if not lines:
        page_issues.append(no_text_issue(root))
    tokens = tokenize(lines)
    h1 = next((t.line.text for t in tokens if t.line.heading == 1), None)
    records: list[ProjectRecord] = []
    issues: list[Issue] = []
    family = None
    self_labelled = False
    owner_positions = [i for i, t in enumerate(tokens) if t.kind == "label" and t.field == "owner"]
    has_number = any(t.kind == "label" and t.field == "project_number" for t in tokens)
    theme_starts = _theme_starts(tokens, owner_positions) if owner_positions and not has_number else []
    announcements: list[dict[str, Any]] = []
    if (release := read_press_release(tokens)) is not None:
        family, (announcements, issues) = press_release.FAMILY, release
    elif (card_field := _card_list(tokens, root)) is not None:
        issues.append(Issue(card_field, None, "labels_on_listing", "info",
                            f"'{card_field}' is shown on project cards, each with a link to its project: read as a "
                            "list of projects (each is read from its own page), not as one project"))
    elif theme_starts and not (self_labelled := _one_self_labelled_project(tokens, theme_starts)):
        family = "tillvaxtverket_theme"
        records = _theme_page(tokens, theme_starts, url, identity)
    elif (card_field := _card_listing_field(tokens)) is not None:
        issues.append(Issue(card_field, None, "labels_on_listing", "info",
                            f"'{card_field}' has several values, one per card: read as a list of projects "
                            "(each is read from its own page), not as one project"))
    elif any(t.kind == "label" and t.field not in ("published_date",) for t in tokens):
        heading = tokens[theme_starts[0]].line.text if theme_starts and self_labelled else None
        family, record = _project_page(tokens, url, title, h1, identity, heading)
        records = [record]
    elif (initiatives := _initiative_page(tokens, url, identity)) is not None:
        family, records = "skr_initiatives", initiatives
    if release is not None:
        kind = "press_release"
    else:
        kind = "project" if records else ("listing" if issues or _is_listing(lines) else "other")
    # Links matter for listings; resolving every menu link of a project page is wasted work.
    page_links = links(root, url) if not records else []
    return PageResult(kind, family, records, page_issues + issues, page_links, encoding, title, announcements)


def _card_listing_field(tokens: list[Token]) -> str | None:
    """The project field a list of project cards repeats with different values, if the page is one."""
    listing = vocabulary()["listing"]
    values: dict[str, set[str]] = {}
    for n, t in enumerate(tokens):
        if t.kind == "label" and t.field in listing["card_fields"]:
            following = tokens[n + 1] if n + 1 < len(tokens) and tokens[n + 1].kind == "text" else None
            value = t.value or (following.line.text if following is not None else None)
            if value:
                values.setdefault(t.field, set()).add(value)
    return next((f for f in listing["card_fields"] if len(values.get(f, ())) >= listing["min_card_values"]), None)


@dataclass
class _Card:
    """The labels between two link lines of a page: a project card, if the page is a list of them."""
    fields: list[str] = field(default_factory=list)
    link_before: bool = False  # a link line (the card's title) just above its first label, or one plain line above
    link_after: bool = False  # a link line ("Läs mer") ends it
    prose: bool = False  # a known section heading or a paragraph: a project's own text, not a card


def _cards(tokens: list[Token]) -> list[_Card]:
    """Split the page at its link lines (a line that is wholly a link and not a label's value) and keep
    the stretches that hold labels."""
    cards: list[_Card] = []
    card = _Card()
    since_link: int | None = None  # lines since the last link line, before the card's first label
    bare_label = False  # the previous line is a label whose value is on the next line
    for t in tokens:
        if t.kind == "end":
            break
        if t.kind == "boiler":
            continue
        if t.line.link and t.kind in ("text", "heading") and not bare_label:
            if card.fields:
                card.link_after = True
                cards.append(card)
            card, since_link = _Card(), 0
            continue
        if t.kind == "label":
            if not card.fields and since_link is not None and since_link <= 1:
                card.link_before = True
            card.fields.append(t.field or "")
            bare_label = not t.value
            continue
        bare_label = False
        if (t.kind == "heading" and t.section) or len(t.line.text) > MAX_FIELD_LINE:
            card.prose = True
        if since_link is not None and not card.fields:
            # One plain line may stand between a card's title link and its labels (a date, a number); a
            # title of its own (a heading, a bold line) means the labels belong to that title, not the link.
            since_link = None if t.line.emphasised else since_link + 1
    if card.fields:
        cards.append(card)
    return cards


def _card_list(tokens: list[Token], root: Any) -> str | None:
    """The card field a list of project cards shows, if the page is one, however many cards it has and
    wherever it stands in the pagination. A card is a stretch of labels, without prose, between link
    lines (its title links to the project's own page, or a "read more" link follows it). A list is two or
    more such cards that show the same labels (or each next to its link) and share a card field, or a
    single small card under its title link on a page with pagination (the last page of a listing)."""
    listing = vocabulary()["listing"]
    card_fields = listing["card_fields"]
    cards = [c for c in _cards(tokens) if not c.prose and any(f in card_fields for f in c.fields)]
    if len(cards) >= 2:
        shapes: dict[tuple[str, ...], int] = {}
        for c in cards:
            shapes[tuple(c.fields)] = shapes.get(tuple(c.fields), 0) + 1
        same = [list(shape) for shape, n in shapes.items() if n >= 2]
        if same or all(c.link_before or c.link_after for c in cards):
            shared = set(same[0]) if same else set.intersection(*(set(c.fields) for c in cards))
            found = next((f for f in card_fields if f in shared), None)
            if found is not None:
                return found
    if len(cards) == 1 and cards[0].link_before and len(cards[0].fields) <= listing["max_single_card_labels"] \
            and _has_pagination(root):
        return next(f for f in card_fields if f in cards[0].fields)
    return None


def _has_pagination(root: Any) -> bool:
    """A link of the page (menus included: pagination often stands in a <nav>) is a pagination word or a
    page number (two or more links that are only digits)."""
    listing = vocabulary()["listing"]
    pagination = {label_key(word) for word in listing["pagination_words"]}
    numbers = 0
    for anchor in root.iter("a"):
        text = one_line("".join(anchor.itertext()))
        if not text or len(text) > 20:
            continue
        if label_key(text) in pagination or any(label_key(part) in pagination for part in text.split()):
            return True
        numbers += text.isdigit()
    return numbers >= 2


def _is_listing(lines: list) -> bool:
    """A listing shows several links in its content, or pagination; menus and footers (chrome) do not
    count, and a lone "back to the list" link does not make a page a listing."""
    listing = vocabulary()["listing"]
    pagination = {label_key(word) for word in listing["pagination_words"]}
    content_links = [line for line in lines if line.link]
    return len(content_links) >= listing["min_content_links"] or any(label_key(l.text) in pagination for l in content_links)


# ---------------------------------------------------------------- one project per page

def _detect_family(fields: set[str]) -> str:
    families = vocabulary()["families"]
    scores = {name: len(fields & set(families[name])) for name in families["order"]}
    best = max(scores.values())
    return next(name for name in families["order"] if scores[name] == best) if best else "esf_2014_2020"


_TITLE_NUMBER = re.compile(r"^(?P<number>\d{4}/\d{5}|\d{2}-\d{3}-S\d{2})\s*[-–:]\s*(?P<name>.+)$")


def _project_page(tokens: list[Token], url: str, title: str, h1: str | None, identity: str,
                  region_heading: str | None = None) -> tuple[str, ProjectRecord]:
    """One project. ``region_heading``: the "Region – Title" line above the labels of a page that labels
    its own name or region (see ``_one_self_labelled_project``): without a Namn label the name is its
    title part when its prefix is a known region or county, the whole heading otherwise (``SAGA – …``)."""
    body = _read_body(tokens, allow_untitled=True)
    markers = {f.field for f in body.raw_fields if f.field}
    if any(s.kind == "english_summary" for s in body.sections) or any(t.section == "english_summary" for t in tokens):
        markers.add("layout:english_summary")
    if body.municipality_names:
        markers.add("layout:municipality_list")
    if any(f.field == "programme_area" and f.raw.casefold().startswith("programområde") for f in body.raw_fields):
        markers.add("layout:programme_area_prefixed")
    if any(t.kind == "label" and t.glued for t in tokens):
        markers.add("layout:glued_labels")
    family = _detect_family(markers)
    # Name and number fall back on the page heading ("2016/00418 - LiV-spåret"), then the title.
    fallback_name, fallback_number = None, None
    if region_heading and (split := re.match(vocabulary()["theme_page"]["heading_pattern"], region_heading)):
        fallback_name = split["title"].strip() if lookup_region(split["region"]) is not None else region_heading
    for candidate in (h1, body.preamble[-1] if body.preamble else None, title):
        if not candidate:
            continue
        match = _TITLE_NUMBER.match(candidate)
        fallback_number = fallback_number or (match["number"] if match else None)
        fallback_name = fallback_name or (match["name"] if match else candidate)
    return family, _record(body, family, url, fallback_name, fallback_number, identity=identity)


@dataclass
class Body:
    raw_fields: list[RawField] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    municipality_names: list[str] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


def _read_body(tokens: list[Token], allow_untitled: bool) -> Body:
    """Walk the tokens of one project: label values, sections, the municipality list."""
    body = Body()
    section: Section | None = None
    in_municipalities = False
    seen_label = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token.kind in ("boiler",):
            continue
        if token.kind in ("end", "group"):
            if not seen_label:
                continue  # a share box or contact box above the facts is furniture, not the end
            break
        if token.kind == "label":
            seen_label, section, in_municipalities = True, None, False
            value, used = _label_value(tokens, i - 1)
            i += used  # lines taken as the value
            body.raw_fields.append(RawField(token.field, token.label or "", value))
            if not value and (doubt := _prose_after_label(tokens, i - 1)):
                body.issues.append(doubt)
            continue
        if token.kind == "municipalities":
            in_municipalities, section = True, None
            if token.value:
                body.municipality_names.extend(n for n in re.split(r"\s*[,;]\s*", token.value) if n)
            continue
        if token.kind == "heading" and (token.section or (seen_label and not _all_caps(token.line.text))):
            if token.line.heading == 1 and not seen_label:
                body.preamble.append(token.line.text)
                continue
            in_municipalities = False
            section = Section(token.label, token.section or "other")
            body.sections.append(section)
            if token.value:
                section.paragraphs.append(token.value)
            continue
        # Plain text (or an ALL-CAPS subheading inside a section).
        text = token.line.text
        if token.field is not None:
            # "Kontakt: Hör av dig …": a label followed by prose on one long line is read as prose, and reported.
            body.issues.append(Issue(token.field, text, "prose_value", "warning",
                                     f"'{token.label}' is followed by prose on its line; kept as prose, not as the value"))
        if in_municipalities:
            body.municipality_names.extend(n for n in re.split(r"\s*[,;]\s*", text.lstrip("•·-–* ")) if n)
            continue
        if section is not None:
            section.paragraphs.append(text)
            continue
        if not seen_label:
            if allow_untitled:
                body.preamble.append(text)  # the page's title area
            else:
                section = Section(None, "summary")  # a theme page project's ingress
                body.sections.append(section)
                section.paragraphs.append(text)
            continue
        if (unknown := unknown_label(token.line)) and not body.sections:
            label, value = unknown
            value, used = _label_value(tokens, i - 1, Token("label", token.line, None, label, value))
            i += used
            body.raw_fields.append(RawField(None, label, value))
            continue
        if allow_untitled:
            section = Section(None, "description")
            body.sections.append(section)
            section.paragraphs.append(text)
        else:
            body.issues.append(Issue(None, text, "unassigned_text", "info", "text outside any known field or section"))
    body.sections = [s for s in body.sections if s.paragraphs]
    return body


def _all_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


def address_identity(url: str) -> str:
    """A page's identity when nothing better is known: its path and query, without scheme, host or port."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def stable_id(prefix: str, identity: str, name: str) -> str:
    """The id of a project without a number of its own: family prefix, a slug of its name, and a hash of
    the page's identity and the name (so two projects of one page differ, and a site that moves keeps them)."""
    digest = hashlib.sha1(f"{identity}|{one_line(name)}".encode()).hexdigest()[:8]
    return f"{prefix}-{slug(name)[:48].strip('-')}-{digest}"


_ID_PREFIX = {"esf_2007_2013": "esf0713", "tillvaxtverket_theme": "tvv", "skr_initiatives": "skr"}


def _record(body: Body, family: str, url: str, fallback_name: str | None, fallback_number: str | None,
            extra_columns: dict[str, Any] | None = None, identity: str | None = None) -> ProjectRecord:
    raw_fields = list(body.raw_fields)
    if fallback_number and not any(f.field == "project_number" and one_line(f.raw) for f in raw_fields):
        raw_fields.append(RawField("project_number", "(page title)", fallback_number))
    normalised = normalise_fields(raw_fields, family)
    cols = normalised.columns
    issues = list(normalised.issues) + body.issues
    cols.setdefault("name", one_line(fallback_name) or None)
    for key, value in (extra_columns or {}).items():
        if value is not None:
            cols.setdefault(key, value)
    number = cols.get("project_number")
    project_id = number if number and not any(i.problem == "unexpected_project_number" for i in issues) else \
        stable_id(_ID_PREFIX.get(family, "esf"), identity or address_identity(url), cols.get("name") or url)
    extra = {}
    for f in raw_fields:
        if f.field is None:
            extra[f.label] = f.raw
            issues.append(Issue(f.label, f.raw, "unknown_label", "warning", "value kept in extra_fields"))
    contacts = _contacts(raw_fields)  # personal data: never in cols, kept apart
    municipalities = []
    for name in body.municipality_names:
        found = lookup_municipality(name)
        if found is None:
            issues.append(Issue("municipality", name, "unknown_municipality", "warning"))
        municipalities.append({"municipality_name": name, "municipality_code": found.code if found else None,
                               "county_code": found.county_code if found else None})
    sections = body.sections
    for section in sections:
        section.language = _language(section)  # type: ignore[attr-defined]
    return ProjectRecord(project_id, family, url, cols, raw_fields, sections, municipalities, contacts, extra, issues)


CONTACT_FIELDS = {"name": "contact_name", "email": "contact_email", "phone": "contact_phone"}


def _contacts(raw_fields: list[RawField]) -> list[dict[str, Any]]:
    """One contact per person, in page order: a second name, e-mail or phone starts the next person.
    (Values that do not normalise are issues already, from normalise_fields.)"""
    by_field = {field: key for key, field in CONTACT_FIELDS.items()}
    parse = {"name": v.parse_text, "email": v.parse_email, "phone": v.parse_phone}
    contacts: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for item in raw_fields:
        key = by_field.get(item.field or "")
        if key is None or not one_line(item.raw):
            continue
        if current.get(key) is not None:
            contacts.append(current)
            current = {}
        current[key] = parse[key](item.raw).value
    if any(value is not None for value in current.values()):
        contacts.append(current)
    return [{key: c.get(key) for key in CONTACT_FIELDS} for c in contacts]


@functools.cache
def _language_words() -> tuple[frozenset[str], frozenset[str]]:
    lang = vocabulary()["language"]
    return frozenset(lang["sv"]), frozenset(lang["en"])


def _language(section: Section) -> str:
    # The first 2000 characters tell the language as well as the whole text.
    words = re.findall(r"[a-zåäöé]+", section.text[:2000].casefold())
    sv_words, en_words = _language_words()
    sv = len([w for w in words if w in sv_words])
    en = len([w for w in words if w in en_words])
    if en > sv:
        return "en"
    if sv or section.kind != "english_summary":
        return "sv"
    return "en"


# ---------------------------------------------------------------- theme pages (many projects)

def _theme_heading(tokens: list[Token], owner_index: int) -> int | None:
    """The index of the "Region: Title" line that opens the project whose owner label is at ``owner_index``."""
    pattern = re.compile(vocabulary()["theme_page"]["heading_pattern"])
    plain = None
    # A short ingress may stand between the heading and the owner; an emphasised heading wins.
    for j in range(owner_index - 1, max(-1, owner_index - 5), -1):
        token = tokens[j]
        if token.kind == "boiler":
            continue
        if token.kind not in ("text", "heading"):
            break
        if token.line.link:
            continue  # a title that links elsewhere is a card's, not a theme page heading
        if len(token.line.text) <= 200 and pattern.match(token.line.text):
            if token.line.emphasised:
                return j
            plain = j if plain is None else plain
    return plain


def _theme_starts(tokens: list[Token], owner_positions: list[int]) -> list[int]:
    """The "Region: Title" lines that open the projects of a theme page, one per project, in page order."""
    return sorted({h for h in (_theme_heading(tokens, i) for i in owner_positions) if h is not None})


def _one_self_labelled_project(tokens: list[Token], starts: list[int]) -> bool:
    """One project under a "Region – Title" (or "ABC – Title") heading, on a page that labels its own
    name or region: a project page whose heading is just its title. Labels printed on the page win over
    what a heading suggests, so the heading is not split and the page is not a theme page."""
    return len(starts) == 1 and any(t.kind == "label" and t.field in ("name", "region") for t in tokens)


def _theme_page(tokens: list[Token], starts: list[int], url: str, identity: str) -> list[ProjectRecord]:
    """One project per heading. The heading gives region, title and county only where the project's own
    labels do not: a Namn or Region label printed under it wins."""
    pattern = re.compile(vocabulary()["theme_page"]["heading_pattern"])
    records = []
    for n, start in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else len(tokens)
        heading = pattern.match(tokens[start].line.text)
        assert heading is not None
        body = _read_body(tokens[start + 1: stop], allow_untitled=False)
        labelled = {f.field for f in body.raw_fields if f.field and one_line(f.raw)}
        extra: dict[str, Any] = {}
        if not {"name", "region"} <= labelled:
            region, county = heading["region"].strip(), heading["county"]
            if "region" not in labelled:
                body.raw_fields = [RawField("region", "(heading)", region), *body.raw_fields]
            county_code = county_index().get(label_key(county)) if county else None
            if county_code is None and lookup_region(region) is not None:
                county_code = county_index().get(label_key(region))
            if county and county_code is None:
                body.issues.append(Issue("county", county, "unknown_county", "warning"))
            extra = {"county": county, "county_code": county_code}
        title = heading["title"].strip()
        if "name" in labelled or ("region" in labelled and lookup_region(heading["region"]) is None):
            # With a labelled region, a prefix that is no region ("KIVO – Kvalitetssäkrad …") belongs to the title.
            title = tokens[start].line.text
        records.append(_record(body, "tillvaxtverket_theme", url, title, None, extra, identity=identity))
    return records


# ---------------------------------------------------------------- initiative articles

def _initiative_page(tokens: list[Token], url: str, identity: str) -> list[ProjectRecord] | None:
    spec = vocabulary()["initiative_page"]
    intro = re.compile(spec["intro_pattern"], re.I)
    start = next((i for i, t in enumerate(tokens) if t.kind in ("text", "heading") and intro.search(t.line.text)), None)
    if start is None:
        return None
    text_before = [t.line.text for t in tokens[: start + 1]]
    published = next((_label_value(tokens, i)[0] for i, t in enumerate(tokens)
                      if t.kind == "label" and t.field == "published_date"), None)
    year = re.search(spec["year_pattern"], tokens[start].line.text, re.I)
    publisher = re.search(spec["publisher_pattern"], " ".join(text_before))
    funder = next((m["funder"] for line in text_before if (m := re.search(spec["funder_pattern"], line))), None)
    common = {
        "published_date": v.parse_date(published).value if published else None,
        "funding_year": int(year["year"]) if year else None,
        "publisher": publisher["publisher"] if publisher else None,
        "funder": funder,
    }
    # Each initiative is a heading and its paragraphs. After the last heading only its first
    # paragraph belongs to it: what follows is the article's own closing text.
    items: list[tuple[str, list[str]]] = []
    trailing: list[str] = []
    rest = tokens[start + 1:]
    for k, token in enumerate(rest):
        if token.kind in ("end", "group"):
            break
        if token.kind == "boiler":
            continue
        text = token.line.text
        nxt = rest[k + 1] if k + 1 < len(rest) else None
        looks_like_heading = token.kind == "heading" or (
            token.kind == "text" and len(text) <= 150 and not text.endswith((".", ":", "!", "?"))
            and nxt is not None and nxt.kind == "text" and len(nxt.line.text) > len(text)
        )
        if looks_like_heading:
            items.append((text, []))
        elif items and (not items[-1][1] or _more_headings_follow(rest, k)):
            items[-1][1].append(text)
        else:
            trailing.append(text)
    if not items:
        return None
    records = []
    for name, paragraphs in items:
        body = Body(sections=[Section(name, "description", paragraphs)] if paragraphs else [])
        records.append(_record(body, "skr_initiatives", url, name, None, common, identity=identity))
    if trailing and records:
        records[-1].issues.append(Issue(None, "\n\n".join(trailing), "unassigned_text", "info",
                                        "article text after the last initiative"))
    return records


def _value_line(token: Token | None) -> bool:
    """Can this line be (part of) a label's value? Plain text, or a bold line that is no known heading
    (``<td><b>4 627 244</b></td>``)."""
    if token is None:
        return False
    if token.kind == "text":
        return token.field is None  # a label followed by prose on its line is prose
    return token.kind == "heading" and token.section is None and token.line.heading is None


def _first_value_line(token: Token | None) -> bool:
    """The line after a label without a value on its own line: a value line; one longer than a field line
    only when it does not read as prose (a long owner or name is kept whole)."""
    return _value_line(token) and (len(token.line.text) <= MAX_FIELD_LINE or not prose_like(token.line.text))  # type: ignore[union-attr]


def _label_value(tokens: list[Token], index: int, token: Token | None = None) -> tuple[str, int]:
    """The value of the label at ``index`` and how many following lines it took. A value is everything up
    to the next label or the end of its block: inline (``Projektägare: X``) or the next line (``<dd>``),
    and then the lines that share that line's own block (``<dd>A<br>B</dd>``,
    ``<li><b>Projektägare</b><br>A-<br>B</li>``), joined as printed (see ``line_separator``). A line
    that reads as prose ends the value (``<p>Region: Västsverige<br>Projektet har …</p>``). ``token``:
    the label as read, when it is not the token at ``index`` (a label the vocabulary does not know)."""
    token = token or tokens[index]
    if token.value:
        parts, used, block = [token.value], 0, token.line.block
    else:
        nxt = tokens[index + 1] if index + 1 < len(tokens) else None
        if not _first_value_line(nxt):
            return "", 0
        assert nxt is not None
        parts, used, block = [nxt.line.text], 1, nxt.line.block
    while index + 1 + used < len(tokens):
        more = tokens[index + 1 + used]
        if more.line.block != block or not _value_line(more) or prose_like(more.line.text):
            break
        parts.append(more.line.text)
        used += 1
    return join_value_lines(parts), used


def _prose_after_label(tokens: list[Token], index: int) -> Issue | None:
    """A label without a value followed by a long paragraph that reads as prose: the paragraph stays
    prose, and the doubt is reported with its text (it could have been the label's value)."""
    token, nxt = tokens[index], tokens[index + 1] if index + 1 < len(tokens) else None
    if nxt is None or not _value_line(nxt) or len(nxt.line.text) <= MAX_FIELD_LINE:
        return None
    return Issue(token.field or token.label, nxt.line.text, "prose_after_label", "warning",
                 f"'{token.label}' has no value of its own; the long text after it reads as prose and is kept as prose")


def _more_headings_follow(tokens: list[Token], k: int) -> bool:
    for token in tokens[k + 1:]:
        if token.kind in ("end", "group"):
            return False
        if token.kind == "heading":
            return True
    return False
