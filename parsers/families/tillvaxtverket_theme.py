"""Tillväxtverket's theme pages: many projects on one page, each under a "Region: Title" (or "Region -
Title, Län") heading and followed by its own labels (Projektägare:, Projektperiod:, Syfte/mål: …).
Group headings ("Projekt med inriktning på …") are not projects (parsers/data/vocabulary.toml [chrome]).

Told by a heading of that shape above a Projektägare label, on a page without a project number. One such
heading on a page that labels its own name or region is a page of one project whose heading is its title
(``single_project_heading``): the page belongs to the esf.se families (parsers/families/one_project.py).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from parsers.families.base import Family
from parsers.fields import Issue, RawField
from parsers.lines import Token
from parsers.lookups import county_index, family_vocabulary, lookup_region
from parsers.reading import PageText, Reading, read_body, record
from parsers.text import label_key, one_line

NAME = "tillvaxtverket_theme"


@functools.cache
def heading_pattern() -> re.Pattern[str]:
    """ "Region: Title" / "Region - Title, Län": groups region, title, county."""
    return re.compile(family_vocabulary(NAME)["heading_pattern"])


def _theme_heading(tokens: list[Token], owner_index: int) -> int | None:
    """The index of the "Region: Title" line that opens the project whose owner label is at ``owner_index``."""
    pattern = heading_pattern()
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


def project_headings(page: PageText) -> list[int]:
    """The "Region: Title" lines that open the projects of a theme page, one per project, in page order
    (token indexes); none on a page with a project number."""
    if NAME not in page.memo:
        tokens = page.tokens
        owner_positions = [i for i, t in enumerate(tokens) if t.kind == "label" and t.field == "owner"]
        has_number = any(t.kind == "label" and t.field == "project_number" for t in tokens)
        page.memo[NAME] = (
            sorted({h for h in (_theme_heading(tokens, i) for i in owner_positions) if h is not None})
            if owner_positions and not has_number
            else []
        )
    return page.memo[NAME]


def _one_self_labelled_project(tokens: list[Token], starts: list[int]) -> bool:
    """One project under a "Region – Title" (or "ABC – Title") heading, on a page that labels its own
    name or region: a project page whose heading is just its title. Labels printed on the page win over
    what a heading suggests, so the heading is not split and the page is not a theme page."""
    return len(starts) == 1 and any(t.kind == "label" and t.field in ("name", "region") for t in tokens)


def single_project_heading(page: PageText) -> str | None:
    """The "Region – Title" heading of a page of one project that labels its own name or region, if it
    has one (such a page is no theme page)."""
    starts = project_headings(page)
    return page.tokens[starts[0]].line.text if starts and _one_self_labelled_project(page.tokens, starts) else None


def detect(page: PageText) -> list[int] | None:
    starts = project_headings(page)
    return starts if starts and not _one_self_labelled_project(page.tokens, starts) else None


def read(page: PageText, starts: list[int]) -> Reading:
    """One project per heading. The heading gives region, title and county only where the project's own
    labels do not: a Namn or Region label printed under it wins."""
    tokens = page.tokens
    pattern = heading_pattern()
    records = []
    for n, start in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else len(tokens)
        heading = pattern.match(tokens[start].line.text)
        assert heading is not None
        body = read_body(tokens[start + 1 : stop], allow_untitled=False)
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
        records.append(record(body, FAMILY, page, title, None, extra))
    return Reading(records)


FAMILY = Family(
    name=NAME,
    id_prefix="tvv",
    detect=detect,
    read=read,
    where="Tillväxtverket theme pages, many projects per page",
)
