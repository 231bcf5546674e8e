"""Pages of one project each, as the esf.se families print them: how they are told apart (``FieldSets``)
and how one is read (``read``), shared by the families of a FieldSets group.

A page is a page of one project when it shows any project label (a Publicerad date alone does not
count). Which family it belongs to is decided by what it shows: each member of the group lists, as
``markers`` in its vocabulary block, the fields only its pages show, and layout traits:

- ``layout:english_summary``: an "In English" part;
- ``layout:municipality_list``: a "Kommun" list of municipalities;
- ``layout:programme_area_prefixed``: "Programområde 1 …" as the programme area's value;
- ``layout:glued_labels``: labels glued to their values ("Beviljat ESF-stöd299 614 kr").

The member with most markers wins; a tie goes to the member listed first; a page that shows none of any
member's markers goes to the group's ``fallback``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from parsers.families import tillvaxtverket_theme
from parsers.lookups import lookup_region
from parsers.reading import Body, PageText, Reading, read_body, record

if TYPE_CHECKING:
    from parsers.families.base import Family


@dataclass(frozen=True)
class FieldSets:
    """Families of one project per page, told apart by the fields they show (see the module's text)."""

    members: tuple[Family, ...]  # in order of precedence: a tie goes to the first
    fallback: Family  # the family of a page that shows none of any member's markers

    @functools.cached_property
    def _markers(self) -> tuple[tuple[Family, frozenset[str]], ...]:
        return tuple((member, frozenset(member.vocabulary["markers"])) for member in self.members)

    def detect(self, page: PageText) -> tuple[Family, Body] | None:
        """The member the page belongs to and the project's body, or None when the page shows no
        project label."""
        if not any(t.kind == "label" and t.field not in ("published_date",) for t in page.tokens):
            return None
        body = read_body(page.tokens, allow_untitled=True)
        shown = markers(page, body)
        scores = [(len(shown & wanted), member) for member, wanted in self._markers]
        best = max(score for score, _ in scores)
        family = next(member for score, member in scores if score == best) if best else self.fallback
        return family, body


LAYOUT_MARKERS = (
    "layout:english_summary",
    "layout:municipality_list",
    "layout:programme_area_prefixed",
    "layout:glued_labels",
)


def markers(page: PageText, body: Body) -> set[str]:
    """The fields the page fills and the layout traits it shows (see the module's text and ``LAYOUT_MARKERS``)."""
    tokens = page.tokens
    shown = {f.field for f in body.raw_fields if f.field}
    if any(s.kind == "english_summary" for s in body.sections) or any(t.section == "english_summary" for t in tokens):
        shown.add("layout:english_summary")
    if body.municipality_names:
        shown.add("layout:municipality_list")
    if any(f.field == "programme_area" and f.raw.casefold().startswith("programområde") for f in body.raw_fields):
        shown.add("layout:programme_area_prefixed")
    if any(t.kind == "label" and t.glued for t in tokens):
        shown.add("layout:glued_labels")
    return shown


_TITLE_NUMBER = re.compile(r"^(?P<number>\d{4}/\d{5}|\d{2}-\d{3}-S\d{2})\s*[-–:]\s*(?P<name>.+)$")


def read(page: PageText, found: tuple[Family, Body]) -> Reading:
    """The ``read`` of every member family: its page's one project (``found``: what ``FieldSets.detect``
    found, the member and the project's body)."""
    family, body = found
    return Reading([_project(page, body, family)])


def _project(page: PageText, body: Body, family: Family):
    """One project. Name and number fall back on the page heading ("2016/00418 - LiV-spåret"), then the
    title. A "Region – Title" line above the labels of a page that labels its own name or region (see
    ``tillvaxtverket_theme.single_project_heading``) gives the name, without a Namn label: its title part
    when its prefix is a known region or county, the whole heading otherwise (``SAGA – …``)."""
    fallback_name, fallback_number = None, None
    region_heading = tillvaxtverket_theme.single_project_heading(page)
    if region_heading and (split := tillvaxtverket_theme.heading_pattern().match(region_heading)):
        fallback_name = split["title"].strip() if lookup_region(split["region"]) is not None else region_heading
    for candidate in (page.h1, body.preamble[-1] if body.preamble else None, page.title):
        if not candidate:
            continue
        match = _TITLE_NUMBER.match(candidate)
        fallback_number = fallback_number or (match["number"] if match else None)
        fallback_name = fallback_name or (match["name"] if match else candidate)
    return record(body, family, page, fallback_name, fallback_number)
