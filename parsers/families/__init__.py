"""The page families, and the order in which they are asked what a page is (``REGISTRY``).

Each family is one module here, named as the family (``page_family`` in the tables), that declares
``FAMILY`` (parsers/families/base.py): its id prefix, programme period, detection and reader. Its words
are parsers/data/families/<name>.toml; its test pages fixtures/markup/<name>/. Words every family reads
(labels, section headings, chrome) are parsers/data/vocabulary.toml.

parse_page (parsers/page.py) walks ``REGISTRY``: the first entry that recognises the page reads it.
"""

from __future__ import annotations

from typing import Union

from parsers.families import (
    esf_2007_2013,
    esf_2014_2020,
    esf_2014_2020_old,
    esf_plus_2021_2027,
    esf_press_release,
    skr_initiatives,
    tillvaxtverket_theme,
)
from parsers.families.base import Family
from parsers.families.one_project import FieldSets
from parsers.listing import CARD_FIELDS, CARD_LIST, Listing
from parsers.reading import PageText, Reading

Entry = Union[Family, Listing, FieldSets]

# Detection precedence: the first entry that recognises a page reads it. Why this order:
REGISTRY: tuple[Entry, ...] = (
    # A press release names calls ("Utlysning: …", a label of project pages too) and lists granted projects
    # under "Beviljade projekt" (a theme page's group heading too): told by its call and announcement
    # lines before any label counts.
    esf_press_release.FAMILY,
    # A list of project cards shows project labels on every card, often under "Region – Title" card titles:
    # a listing, neither a theme page nor a project with conflicting values.
    CARD_LIST,
    # Several projects under "Region: Title" headings, each with its own labels: before the families of one
    # project per page, which would read them as one project with conflicting values.
    tillvaxtverket_theme.FAMILY,
    # A field with three or more different values (Projektägare on each card) is a list of projects, not
    # one project; after the theme page, whose projects each show their own owner.
    CARD_FIELDS,
    # One project per page (any project label): the esf.se families, told apart by the fields they show,
    # not by precedence (one_project.py: most markers wins, a tie goes to the one listed first, a page with
    # none of them is esf_2014_2020). ESF+ first: its pages also show the 2014–2020 labels.
    FieldSets(
        members=(esf_plus_2021_2027.FAMILY, esf_2007_2013.FAMILY, esf_2014_2020_old.FAMILY, esf_2014_2020.FAMILY),
        fallback=esf_2014_2020.FAMILY,
    ),
    # An article without project labels whose intro sentence announces granted initiatives: last, since a
    # page with labels is a project page whatever its prose says.
    skr_initiatives.FAMILY,
)

# Every family, in the order of the registry.
FAMILIES: tuple[Family, ...] = tuple(
    member
    for entry in REGISTRY
    for member in (entry.members if isinstance(entry, FieldSets) else (entry,) if isinstance(entry, Family) else ())
)
BY_NAME: dict[str, Family] = {family.name: family for family in FAMILIES}


def recognise(page: PageText) -> tuple[Family | None, Reading]:
    """The family of a page and what it reads from it; no family for a listing (its reading holds the
    issue that says why) or a page no family recognises (an empty reading)."""
    for entry in REGISTRY:
        found = entry.detect(page)
        if found is None:
            continue
        if isinstance(entry, Listing):
            return None, Reading(issues=[found])
        family = found[0] if isinstance(entry, FieldSets) else entry
        return family, family.read(page, found)
    return None, Reading()
