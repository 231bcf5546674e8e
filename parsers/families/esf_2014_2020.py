"""esf.se's project bank, programme period 2014–2020, current layout (``?dnr=2016/00418``): Projektnummer,
Startdatum/Slutdatum, Stödmottagare postnr, Unionens medfinansieringsgrad, Interventionstyp, Specifikt mål;
prose untitled or under Bakgrund, Syfte, Mål.

One project per page, told apart from the other esf.se families by the fields it shows (``markers`` in
parsers/data/families/esf_2014_2020.toml; parsers/families/one_project.py). Also the family of a page of
one project that shows none of any esf.se family's markers.
"""

from __future__ import annotations

from parsers.families import one_project
from parsers.families.base import Family

FAMILY = Family(
    name="esf_2014_2020",
    id_prefix="esf",
    read=one_project.read,
    where="esf.se project bank, current layout (?dnr=2016/00418)",
)
