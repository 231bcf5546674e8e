"""Grant announcements (of press releases, parsers/families/esf_press_release.py) linked to the projects
of the project bank: by project name and owner, compared without case, spaces, quotes or dashes, and
never by a guess.

Pure functions over plain dicts (rows of the two tables).
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from parsers.families.esf_press_release import QUOTES
from parsers.lookups import lookup_municipality
from parsers.text import one_line


def match_key(text: str | None) -> str:
    """A name as compared between a release and the project bank: case, white space, quotes, dashes and
    a final full stop do not count ("“Vägen  vidare”." = "vägen vidare")."""
    key = one_line(text).casefold()
    key = key.translate({ord(q): None for q in QUOTES})
    key = re.sub(r"\s*[\u2010-\u2015\u2212-]\s*", "-", key)
    return " ".join(key.rstrip(" .").split())


_PUBLIC_BODY = re.compile(r"^(?P<place>.+?)s?\s+(?P<kind>kommun|stad)$")


def owner_keys(owner: str | None) -> frozenset[str]:
    """The keys an owner matches on: the whole name and its organisation part (``Hudiksvalls kommun,
    Social- och omsorgsförvaltningen`` also matches ``Hudiksvalls kommun``), a municipality by its code
    (``HOFORS KOMMUN``, ``Hofors kommun``, ``Göteborgs Stad`` …) and the genitive s before
    ``kommun``/``stad`` left out (``Exempelbys kommun`` = ``Exempelby kommun``)."""
    if not one_line(owner):
        return frozenset()
    keys: set[str] = set()
    for part in {owner or "", (owner or "").split(",", 1)[0]}:
        key = match_key(part)
        if not key:
            continue
        keys.add(key)
        if match := _PUBLIC_BODY.match(key):
            keys.add(f"{match['place']} {match['kind']}")
            municipality = lookup_municipality(key.removesuffix(" stad") + " kommun" if key.endswith(" stad") else key)
            if municipality is not None:
                keys.add(f"municipality:{municipality.code}")
    return frozenset(keys)


def link_announcements(announcements: Iterable[dict[str, Any]], projects: Iterable[dict[str, Any]]) -> list[str | None]:
    """The ``project_id`` of each announcement (in order), or ``None``: the project whose name matches
    the announced project name and whose owner matches the announced owner (see ``match_key`` and
    ``owner_keys``). Never a guess: no match, or more than one project, is ``None``.

    ``announcements``: dicts with ``owner`` and ``project_name``; ``projects``: dicts with
    ``project_id``, ``owner`` and ``name`` (rows of the two tables)."""
    by_name: dict[str, list[tuple[frozenset[str], str]]] = {}
    for project in projects:
        if project.get("project_id") and project.get("name"):
            by_name.setdefault(match_key(project["name"]), []).append(
                (owner_keys(project.get("owner")), project["project_id"])
            )
    linked: list[str | None] = []
    for announcement in announcements:
        wanted = owner_keys(announcement.get("owner"))
        found = {pid for keys, pid in by_name.get(match_key(announcement.get("project_name")), []) if keys & wanted}
        linked.append(found.pop() if len(found) == 1 else None)
    return linked
