"""What a page family declares.

A family is one module, parsers/families/<name>.py, with one ``FAMILY = Family(...)``; its words are one
vocabulary block, parsers/data/families/<name>.toml (``Family.vocabulary``); its test pages are one
folder, fixtures/markup/<name>/ (a.html, b.html, c.html and expected.json). ``<name>`` is the family's
name as written to the tables (``page_family``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from parsers.lookups import family_vocabulary
from parsers.reading import PageText, Reading


@dataclass(frozen=True)
class Family:
    name: str  # page_family in the tables; also its module, vocabulary block and fixture folder
    # Ids of its projects without a project number: "<id_prefix>-<slug of the name>-<hash>" (reading.stable_id).
    # None for a family whose pages give no projects.
    id_prefix: str | None
    # What the family reads from a page ``detect`` recognised, given what ``detect`` found.
    read: Callable[[PageText, Any], Reading]
    # What the page shows of this family (handed to ``read``), or None when the page is not one of its.
    # None for a member of a FieldSets group (parsers/families/one_project.py): its vocabulary's
    # ``markers`` decide, against those of the other members.
    detect: Callable[[PageText], Any] | None = None
    kind: str = "project"  # page_kind of its pages: project | press_release
    where: str = ""  # where its pages are found, in a few words

    @property
    def vocabulary(self) -> dict[str, Any]:
        """Its block of words: parsers/data/families/<name>.toml."""
        return family_vocabulary(self.name)

    @property
    def programme_period(self) -> str | None:
        """The programme period of its projects when the page tells none (its vocabulary block says)."""
        return self.vocabulary.get("programme_period") or None
