"""esf.se, ESF+ (programme period 2021–2027, ``?dnr=22-025-S02``), in both of its label sets: Land som
berörs, Berörd fond/Fond, Program CCI, Projektägare organisationsnummer/Projektägare org.nr., NUTS-2 kod,
Antal deltagare, Programperiod, Stödmottagare ort/Stödmottagarens ort, Stödmottagarens land,
Sekundärtema - Motverka barnfattigdom, Insats av strategisk betydelse.

One project per page, told apart from the other esf.se families by the fields it shows (``markers`` in
parsers/data/families/esf_plus_2021_2027.toml; parsers/families/one_project.py).
"""

from __future__ import annotations

from parsers.families import one_project
from parsers.families.base import Family

FAMILY = Family(
    name="esf_plus_2021_2027",
    id_prefix="esf",
    read=one_project.read,
    where="esf.se ESF+ (?dnr=22-025-S02)",
)
