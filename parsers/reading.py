"""What every page family reads with: the page as tokens (``PageText``), a project's label values,
sections and municipality list (``read_body``), and the project record built from them (``record``:
normalised columns, contacts, municipalities, the project id). The families themselves are in
parsers/families/; parsers/page.py asks them, in order, what a page is.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from parsers import values as v
from parsers.fields import Issue, RawField, normalise_fields
from parsers.html import Line
from parsers.lines import MAX_FIELD_LINE, Token, join_value_lines, prose_like, unknown_label
from parsers.lookups import lookup_municipality, vocabulary
from parsers.text import one_line, slug

if TYPE_CHECKING:
    from parsers.families.base import Family


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
class PageText:
    """One page as the families see it: its visible lines, their tokens (parsers/lines.py), the document
    tree (for links and pagination), its address, title and identity. ``memo`` keeps what a family
    works out once and needs again (the "Region: Title" headings of a theme page, asked for by its
    detection and again by the reader of a page of one project)."""

    tokens: list[Token]
    lines: list[Line]
    root: Any
    url: str
    title: str
    identity: str  # the page's identity independent of where the site is served (see parse_page)
    memo: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def h1(self) -> str | None:
        return next((t.line.text for t in self.tokens if t.line.heading == 1), None)


@dataclass
class Reading:
    """What a family reads from a page it recognised."""

    records: list[ProjectRecord] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)  # page-level issues (no project)
    announcements: list[dict[str, Any]] = field(default_factory=list)  # a press release's, in page order


@dataclass
class Body:
    raw_fields: list[RawField] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    municipality_names: list[str] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


def read_body(tokens: list[Token], allow_untitled: bool) -> Body:
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
            value, used = label_value(tokens, i - 1)
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
            body.issues.append(
                Issue(
                    token.field,
                    text,
                    "prose_value",
                    "warning",
                    f"'{token.label}' is followed by prose on its line; kept as prose, not as the value",
                )
            )
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
            value, used = label_value(tokens, i - 1, Token("label", token.line, None, label, value))
            i += used
            body.raw_fields.append(RawField(None, label, value))
            continue
        if not body.sections and (unlabelled := _label_without_colon(tokens, i - 1)) is not None:
            label, value, used = unlabelled
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


_SENTENCE_END = (".", "!", "?", ",", ";", ":")


def _label_like(text: str) -> bool:
    """A few capitalised words without digits or sentence punctuation: what a label looks like."""
    text = text.strip()
    words = text.split()
    return (
        0 < len(words) <= 4
        and len(text) <= 40
        and text[0].isupper()
        and not text.endswith(_SENTENCE_END)
        and not any(c.isdigit() for c in text)
        and not _all_caps(text)
    )


def _label_without_colon(tokens: list[Token], index: int) -> tuple[str, str, int] | None:
    """A label the vocabulary does not know, without a colon, amid known labels: a table row or a card row
    (``<th>Samverkanspartner</th><td>Region Skåne</td>``, ``<span>Samverkanspartner</span><span>…``). Read
    as (label, value, lines taken) only between labels, where prose does not stand."""
    line = tokens[index].line

    def label_at(k: int) -> bool:
        return (
            k >= len(tokens)
            or tokens[k].kind in ("label", "end", "municipalities")
            or (tokens[k].kind == "heading" and tokens[k].section is not None)
        )

    if len(line.runs) >= 2 and _label_like(line.runs[0]) and label_at(index + 1):
        value = (
            line.text[len(line.runs[0]) :].strip() if line.text.startswith(line.runs[0]) else " ".join(line.runs[1:])
        )
        if value and len(value) <= MAX_FIELD_LINE and not prose_like(value):
            return line.runs[0].strip(), value, 0
    nxt = tokens[index + 1] if index + 1 < len(tokens) else None
    if len(line.runs) <= 1 and _label_like(line.text) and _first_value_line(nxt) and label_at(index + 2):
        assert nxt is not None
        if not prose_like(nxt.line.text):
            return line.text.strip(), nxt.line.text, 1
    return None


def _starts_a_label(line) -> bool:
    """A line that opens a field of its own (``<b>Samverkanspartner:</b> …`` after a ``<br>``): it ends the
    value before it, known label or not."""
    return unknown_label(line) is not None or bool(line.runs and line.runs[0].rstrip().endswith(":"))


def _all_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


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


def label_value(tokens: list[Token], index: int, token: Token | None = None) -> tuple[str, int]:
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
        if (
            more.line.block != block
            or not _value_line(more)
            or prose_like(more.line.text)
            or _starts_a_label(more.line)
        ):
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
    return Issue(
        token.field or token.label,
        nxt.line.text,
        "prose_after_label",
        "warning",
        f"'{token.label}' has no value of its own; the long text after it reads as prose and is kept as prose",
    )


def address_identity(url: str) -> str:
    """A page's identity when nothing better is known: its path and query, without scheme, host or port."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def stable_id(prefix: str, identity: str, name: str) -> str:
    """The id of a project without a number of its own: family prefix, a slug of its name, and a hash of
    the page's identity and the name (so two projects of one page differ, and a site that moves keeps them)."""
    digest = hashlib.sha1(f"{identity}|{one_line(name)}".encode()).hexdigest()[:8]
    return f"{prefix}-{slug(name)[:48].strip('-')}-{digest}"


def record(
    body: Body,
    family: Family,
    page: PageText,
    fallback_name: str | None,
    fallback_number: str | None,
    extra_columns: dict[str, Any] | None = None,
) -> ProjectRecord:
    """One project of ``family`` from what its page shows: normalised columns (the name and number fall
    back on what the family's reader found in the heading or title), raw fields, contacts apart (personal
    data), municipalities with their codes, and its id: the project number, or else a stable id of the
    family's prefix, the name and the page's identity."""
    raw_fields = list(body.raw_fields)
    if fallback_number and not any(f.field == "project_number" and one_line(f.raw) for f in raw_fields):
        raw_fields.append(RawField("project_number", "(page title)", fallback_number))
    normalised = normalise_fields(raw_fields, family.name)
    cols = normalised.columns
    issues = list(normalised.issues) + body.issues
    cols.setdefault("name", one_line(fallback_name) or None)
    for key, value in (extra_columns or {}).items():
        if value is not None:
            cols.setdefault(key, value)
    number = cols.get("project_number")
    url = page.url
    project_id = (
        number
        if number and not any(i.problem == "unexpected_project_number" for i in issues)
        else stable_id(family.id_prefix, page.identity, cols.get("name") or url)
    )
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
        municipalities.append(
            {
                "municipality_name": name,
                "municipality_code": found.code if found else None,
                "county_code": found.county_code if found else None,
            }
        )
    sections = body.sections
    for section in sections:
        section.language = _language(section)  # type: ignore[attr-defined]
    return ProjectRecord(
        project_id, family.name, url, cols, raw_fields, sections, municipalities, contacts, extra, issues
    )


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
