"""esf.se, programme period 2014–2020, older layout: the same labels without colon, Utlysning (the call
number), Programområde as "1.1 Kompetensförsörjning" (area and objective), Sammanfattning.

One project per page, told apart from the other esf.se families by the fields it shows (``markers`` in
parsers/data/families/esf_2014_2020_old.toml; parsers/families/one_project.py).
"""

from __future__ import annotations

from parsers.families import one_project
from parsers.families.base import Family

FAMILY = Family(
    name="esf_2014_2020_old",
    id_prefix="esf",
    read=one_project.read,
    where="esf.se 2014–2020, older layout",
)
