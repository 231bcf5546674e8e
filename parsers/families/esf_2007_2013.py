"""esf.se, programme period 2007–2013: Projektfas, Telefonnummer, labels glued to their values
("Beviljat ESF-stöd299 614 kr"), an "In English" part, Sammanfattning, Bakgrund, Syfte, Målsättning,
Tillgänglighet för personer med funktionsnedsättning, a Kommun list. Its projects have no project number
on the page: their ids are derived (``esf0713-<slug>-<hash>``).

One project per page, told apart from the other esf.se families by the fields and layout it shows
(``markers`` in parsers/data/families/esf_2007_2013.toml; parsers/families/one_project.py).
"""

from __future__ import annotations

from parsers.families import one_project
from parsers.families.base import Family

FAMILY = Family(
    name="esf_2007_2013",
    id_prefix="esf0713",
    read=one_project.read,
    where="esf.se 2007–2013",
)
