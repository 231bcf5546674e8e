"""Loads the bundled vocabulary and reference data once; lookups are plain dicts."""

from __future__ import annotations

import csv
import functools
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from parsers.text import label_key

DATA_DIR = Path(__file__).parent / "data"


def _read_csv(name: str) -> list[dict[str, str]]:
    # Codes are read as text so "0114" keeps its leading zero.
    with open(DATA_DIR / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


FAMILY_DATA_DIR = DATA_DIR / "families"


@functools.cache
def vocabulary() -> dict:
    """The words the parser knows: the common vocabulary (parsers/data/vocabulary.toml: labels, headings,
    chrome, listings, value grammar), and under ``"families"`` each page family's own block
    (parsers/data/families/<name>.toml), keyed by the family's name."""
    with open(DATA_DIR / "vocabulary.toml", "rb") as handle:
        merged = tomllib.load(handle)
    assert "families" not in merged, "family blocks belong in parsers/data/families/<name>.toml"
    merged["families"] = {}
    for path in sorted(FAMILY_DATA_DIR.glob("*.toml")):
        with open(path, "rb") as handle:
            merged["families"][path.stem] = tomllib.load(handle)
    return merged


def family_vocabulary(name: str) -> dict:
    """One page family's words: parsers/data/families/<name>.toml."""
    return vocabulary()["families"][name]


@functools.cache
def codes() -> dict:
    with open(DATA_DIR / "codes.toml", "rb") as handle:
        return tomllib.load(handle)


@functools.cache
def label_index() -> dict[str, str]:
    """Label key -> field name."""
    index: dict[str, str] = {}
    for field, spec in vocabulary()["fields"].items():
        for label in spec["labels"]:
            index[label_key(label)] = field
    return index


@functools.cache
def compact_label_index() -> dict[str, str]:
    """Label key without its spaces -> field name: a label whose space a control character took the place
    of (``Beviljat\\0ESF-stöd``, read ``BeviljatESF-stöd`` once the control character is removed)."""
    return {key.replace(" ", ""): field for key, field in label_index().items()}


@functools.cache
def personal_fields() -> frozenset[str]:
    """Fields whose values name a person (``personal = true`` in the vocabulary)."""
    return frozenset(field for field, spec in vocabulary()["fields"].items() if spec.get("personal"))


@functools.cache
def heading_index() -> dict[str, str]:
    """Heading key -> section kind (``municipalities`` for the municipality list)."""
    index = {label_key(h): kind for kind, headings in vocabulary()["sections"].items() for h in headings}
    index.update({label_key(h): "municipalities" for h in vocabulary()["municipality_list"]["headings"]})
    return index


@dataclass(frozen=True)
class Region:
    name: str
    nuts2: str | None
    national: bool


def _region_key(text: str) -> str:
    return label_key(text).replace("&", "och").replace(" med ", " och ")


@functools.cache
def region_index() -> dict[str, Region]:
    index = {
        _region_key(row["spelling"]): Region(row["region"], row["nuts2"] or None, row["national"] == "true")
        for row in _read_csv("regions.csv")
    }
    by_county = {
        row["county_code"]: Region(row["region"], row["nuts2"], False) for row in _read_csv("county_regions.csv")
    }
    county_codes = county_index()
    for key, code in county_codes.items():
        index.setdefault(key, by_county[code])
    return index


@functools.cache
def nuts2_codes() -> frozenset[str]:
    """Sweden's NUTS-2 codes (SE11 … SE33): those the regions (regions.csv) and the counties
    (county_regions.csv) lie in."""
    rows = _read_csv("regions.csv") + _read_csv("county_regions.csv")
    return frozenset(row["nuts2"] for row in rows if row["nuts2"])


def reference_values(name: str) -> frozenset[str]:
    """A reference list of parsers/data by name: the values a field's ``values_from`` allows
    (pipeline/schema.py, REFERENCE_LISTS)."""
    if name == "nuts2":
        return nuts2_codes()
    if name == "programme_periods":
        return frozenset(codes()["programme_periods"]["known"])
    raise KeyError(f"no reference list {name!r}")


def lookup_region(text: str) -> Region | None:
    """An ESF region in any spelling, or a county (``Örebro``, ``Örebro län``, ``Region Örebro län``)."""
    key = _region_key(text)
    index = region_index()
    if key in index:
        return index[key]
    if key.startswith("region "):
        return index.get(key.removeprefix("region "))
    return None


def _place_key(text: str) -> str:
    key = label_key(text)
    for suffix in (" kommun", " län"):
        key = key.removesuffix(suffix)
    return key.replace(" ", "").replace("-", "")


@functools.cache
def county_index() -> dict[str, str]:
    """County name (short or long, any case) -> two-digit county code."""
    index: dict[str, str] = {}
    for row in _read_csv("counties.csv"):
        for name in (row["county_name"], row["county_name_short"]):
            index[label_key(name)] = row["county_code"]
            index[_place_key(name)] = row["county_code"]
    return index


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str
    county_code: str


@functools.cache
def municipality_index() -> dict[str, Municipality]:
    # Match on the short names: the generated long names are sometimes wrong ("Kalmars kommun").
    index: dict[str, Municipality] = {}
    for row in _read_csv("municipalities.csv"):
        item = Municipality(row["municipality_code"], row["municipality_name_short"], row["county_code"])
        index[_place_key(row["municipality_name_short"])] = item
    return index


def lookup_municipality(text: str) -> Municipality | None:
    """``Upplands Väsby``, ``UpplandsVäsby``, ``upplands väsby kommun`` -> 0114."""
    index = municipality_index()
    key = _place_key(text)
    if key in index:
        return index[key]
    # The genitive form: "Karlstads kommun". Tried only after the name as written, since many
    # names really end in s (Bollnäs, Kramfors).
    if label_key(text).endswith("s kommun") and key.endswith("s"):
        return index.get(key[:-1])
    return None


@functools.cache
def postcode_index() -> dict[str, str]:
    return {row["postal_code"]: row["municipality_code"] for row in _read_csv("postal_to_municipality.csv")}


@functools.cache
def municipality_by_code() -> dict[str, Municipality]:
    return {m.code: m for m in municipality_index().values()}


def lookup_postcode(postcode: str) -> Municipality | None:
    code = postcode_index().get(postcode)
    return municipality_by_code().get(code) if code else None
