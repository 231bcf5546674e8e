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
from parsers.lines import MAX_FIELD_LINE, Token, tokenize, unknown_label
from parsers.lookups import county_index, lookup_municipality, lookup_region, vocabulary
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
    kind: str  # project | listing | other
    family: str | None
    records: list[ProjectRecord]
    issues: list[Issue]  # page-level issues (no project)
    links: list[tuple[str, str]]
    encoding: str
    title: str


def parse_page(body: bytes | str, url: str, content_type: str | None = None) -> PageResult:
    """Parse one page. Never raises on bad input: a page that cannot be read is ``other`` with an issue."""
    # Page-level issues of reading the page at all: encoding, control characters, limits, no text.
    if isinstance(body, bytes):
        html, encoding, page_issues = decode_page(body, content_type)
    else:
        (html, page_issues), encoding = strip_controls(body), "str"
    html = plain_text_as_html(html, content_type)
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
    owner_positions = [i for i, t in enumerate(tokens) if t.kind == "label" and t.field == "owner"]
    has_number = any(t.kind == "label" and t.field == "project_number" for t in tokens)
    if owner_positions and not has_number and _theme_heading(tokens, owner_positions[0]) is not None:
        family = "tillvaxtverket_theme"
        records = _theme_page(tokens, owner_positions, url)
    elif (card_field := _card_listing_field(tokens)) is not None:
        issues.append(Issue(card_field, None, "labels_on_listing", "info",
                            f"'{card_field}' has several values, one per card: read as a list of projects "
                            "(each is read from its own page), not as one project"))
    elif any(t.kind == "label" and t.field not in ("published_date",) for t in tokens):
        family, record = _project_page(tokens, url, title, h1)
        records = [record]
    elif (initiatives := _initiative_page(tokens, url)) is not None:
        family, records = "skr_initiatives", initiatives
    kind = "project" if records else ("listing" if issues or _is_listing(lines) else "other")
    # Links matter for listings; resolving every menu link of a project page is wasted work.
    page_links = links(root, url) if not records else []
    return PageResult(kind, family, records, page_issues + issues, page_links, encoding, title)


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


def _project_page(tokens: list[Token], url: str, title: str, h1: str | None) -> tuple[str, ProjectRecord]:
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
    for candidate in (h1, body.preamble[-1] if body.preamble else None, title):
        if not candidate:
            continue
        match = _TITLE_NUMBER.match(candidate)
        fallback_number = fallback_number or (match["number"] if match else None)
        fallback_name = fallback_name or (match["name"] if match else candidate)
    return family, _record(body, family, url, fallback_name, fallback_number)


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
            if not value and i < len(tokens) and tokens[i].kind == "text" and len(tokens[i].line.text) <= MAX_FIELD_LINE:
                value = tokens[i].line.text
                i += 1
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


def _stable_id(prefix: str, url: str, name: str) -> str:
    parts = urlsplit(url)
    # Host without port, so the demo site served on any free port gives the same ids.
    digest = hashlib.sha1(f"{parts.hostname}{parts.path}?{parts.query}|{one_line(name)}".encode()).hexdigest()[:8]
    return f"{prefix}-{slug(name)[:48].strip('-')}-{digest}"


_ID_PREFIX = {"esf_2007_2013": "esf0713", "tillvaxtverket_theme": "tvv", "skr_initiatives": "skr"}


def _record(body: Body, family: str, url: str, fallback_name: str | None, fallback_number: str | None,
            extra_columns: dict[str, Any] | None = None) -> ProjectRecord:
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
        _stable_id(_ID_PREFIX.get(family, "esf"), url, cols.get("name") or url)
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
        if len(token.line.text) <= 200 and pattern.match(token.line.text):
            if token.line.emphasised:
                return j
            plain = j if plain is None else plain
    return plain


def _theme_page(tokens: list[Token], owner_positions: list[int], url: str) -> list[ProjectRecord]:
    pattern = re.compile(vocabulary()["theme_page"]["heading_pattern"])
    starts = [h for h in (_theme_heading(tokens, i) for i in owner_positions) if h is not None]
    records = []
    for n, start in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else len(tokens)
        heading = pattern.match(tokens[start].line.text)
        assert heading is not None
        body = _read_body(tokens[start + 1: stop], allow_untitled=False)
        region, county = heading["region"].strip(), heading["county"]
        raw_fields = [RawField("region", "(heading)", region), *body.raw_fields]
        body.raw_fields = raw_fields
        county_code = county_index().get(label_key(county)) if county else None
        if county_code is None and lookup_region(region) is not None:
            county_code = county_index().get(label_key(region))
        if county and county_code is None:
            body.issues.append(Issue("county", county, "unknown_county", "warning"))
        records.append(_record(body, "tillvaxtverket_theme", url, heading["title"].strip(), None,
                               {"county": county, "county_code": county_code}))
    return records


# ---------------------------------------------------------------- initiative articles

def _initiative_page(tokens: list[Token], url: str) -> list[ProjectRecord] | None:
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
        records.append(_record(body, "skr_initiatives", url, name, None, common))
    if trailing and records:
        records[-1].issues.append(Issue(None, "\n\n".join(trailing), "unassigned_text", "info",
                                        "article text after the last initiative"))
    return records


def _value_line(token: Token | None) -> bool:
    """Can this line be a label's value? Plain text, or a bold line that is no known heading
    (``<td><b>4 627 244</b></td>``)."""
    if token is None or len(token.line.text) > MAX_FIELD_LINE:
        return False
    return token.kind == "text" or (token.kind == "heading" and token.section is None and token.line.heading is None)


def _label_value(tokens: list[Token], index: int) -> tuple[str, int]:
    """The value of the label at ``index`` and how many following lines it took: inline, or the next
    line, joined by the lines that share that line's own block (``<dd>A<br>B</dd>``)."""
    token = tokens[index]
    if token.value is not None:
        return token.value, 0
    nxt = tokens[index + 1] if index + 1 < len(tokens) else None
    if not _value_line(nxt):
        return "", 0
    assert nxt is not None
    parts, used = [nxt.line.text], 1
    if nxt.line.block != token.line.block:
        while index + 1 + used < len(tokens):
            more = tokens[index + 1 + used]
            if more.line.block != nxt.line.block or not _value_line(more):
                break
            parts.append(more.line.text)
            used += 1
    return ", ".join(parts), used


def _more_headings_follow(tokens: list[Token], k: int) -> bool:
    for token in tokens[k + 1:]:
        if token.kind in ("end", "group"):
            return False
        if token.kind == "heading":
            return True
    return False
