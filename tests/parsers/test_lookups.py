"""Region, municipality and postcode lookups (parsers/lookups.py) and the field normalisation that
uses them (parsers/fields.py normalise_fields)."""

from __future__ import annotations

from datetime import date

import pytest

from parsers.fields import RawField, normalise_fields
from parsers.lookups import Region, lookup_municipality, lookup_postcode, lookup_region

# ---------------------------------------------------------------- regions (domain.md section 2)


@pytest.mark.parametrize(
    "spelling, name, nuts2",
    [
        ("Stockholm", "Stockholm", "SE11"),
        ("Östra Mellansverige", "Östra Mellansverige", "SE12"),
        ("Småland och öarna", "Småland och öarna", "SE21"),
        ("Småland & Öarna", "Småland och öarna", "SE21"),
        ("Småland med öarna", "Småland och öarna", "SE21"),
        ("Sydsverige", "Sydsverige", "SE22"),
        ("Skåne-Blekinge", "Sydsverige", "SE22"),
        ("Västsverige", "Västsverige", "SE23"),
        ("Norra Mellansverige", "Norra Mellansverige", "SE31"),
        ("Mellersta Norrland", "Mellersta Norrland", "SE32"),
        ("Övre Norrland", "Övre Norrland", "SE33"),
    ],
)
def test_esf_regions(spelling, name, nuts2):
    assert lookup_region(spelling) == Region(name, nuts2, False)


@pytest.mark.parametrize("spelling", ["ESF Nationellt", "ESF-Nationellt", "Nationellt"])
def test_national(spelling):
    region = lookup_region(spelling)
    assert region is not None
    assert region.national is True
    assert region.nuts2 is None


@pytest.mark.parametrize("spelling", ["SMÅLAND OCH ÖARNA", "  övre   norrland ", "Skåne - Blekinge", "Sydsverige:"])
def test_region_spelling_tolerance(spelling):
    assert lookup_region(spelling) is not None


@pytest.mark.parametrize(
    "county, nuts2",
    [
        ("Örebro", "SE12"),
        ("Örebro län", "SE12"),
        ("Region Örebro län", "SE12"),
        ("Värmlands län", "SE31"),
        ("Skåne län", "SE22"),
        ("Gotland", "SE21"),
    ],
)
def test_county_names_map_to_their_esf_region(county, nuts2):
    region = lookup_region(county)
    assert region is not None and region.nuts2 == nuts2


def test_unknown_region():
    assert lookup_region("Atlantis") is None


# ---------------------------------------------------------------- municipalities and postcodes


@pytest.mark.parametrize(
    "text, code",
    [
        ("Karlstad", "1780"),
        ("karlstad", "1780"),
        ("KARLSTAD", "1780"),
        ("Upplands Väsby", "0114"),
        ("UpplandsVäsby", "0114"),
        ("upplands väsby kommun", "0114"),
        ("Säffle kommun", "1785"),
        ("Malung-Sälen", "2023"),
        ("Malung Sälen", "2023"),
        ("MALUNG-SÄLEN", "2023"),
    ],
)
def test_municipalities(text, code):
    municipality = lookup_municipality(text)
    assert municipality is not None
    assert municipality.code == code
    assert municipality.county_code == code[:2]


def test_unknown_municipality():
    assert lookup_municipality("Ankeborg") is None


def test_postcode_to_municipality():
    municipality = lookup_postcode("65182")
    assert municipality is not None
    assert (municipality.code, municipality.name) == ("1780", "Karlstad")


def test_unknown_postcode():
    assert lookup_postcode("00000") is None


# ---------------------------------------------------------------- normalise_fields


def _normalise(items: list[tuple[str | None, str, str]], family: str = "esf_2014_2020"):
    return normalise_fields([RawField(field, label, raw) for field, label, raw in items], family)


def test_explicit_dates_win_over_period():
    out = _normalise(
        [
            ("period", "Projektperiod", "2017-02-15 - 2020-03-31"),
            ("start_date", "Startdatum", "2017-03-01"),
            ("end_date", "Slutdatum", "2020-02-28"),
        ]
    )
    cols = out.columns
    assert (cols["start_date"], cols["end_date"], cols["period_precision"]) == (
        date(2017, 3, 1),
        date(2020, 2, 28),
        "day",
    )
    assert "period" not in cols
    # The disagreement is reported, not hidden.
    assert any(i.field == "period" and i.problem == "conflicting_values" for i in out.issues)


def test_empty_start_and_end_leave_the_period():
    out = _normalise(
        [
            ("start_date", "Startdatum", ""),
            ("end_date", "Slutdatum", "  "),
            ("period", "Projektperiod", "2017-02-15 - 2020-03-31"),
        ]
    )
    cols = out.columns
    assert (cols["start_date"], cols["end_date"], cols["period_precision"]) == (
        date(2017, 2, 15),
        date(2020, 3, 31),
        "day",
    )
    assert out.issues == []


def test_year_period_keeps_year_precision():
    cols = _normalise([("period", "Projektperiod", "2018-2020")]).columns
    assert (cols["start_date"], cols["end_date"], cols["period_precision"]) == (
        date(2018, 1, 1),
        date(2020, 12, 31),
        "year",
    )


def test_programme_area_with_specific_objective():
    cols = _normalise([("programme_area", "Programområde", "1.1 Kompetensförsörjning")], "esf_2014_2020_old").columns
    assert cols["programme_area"] == "1"
    assert cols["specific_objective"] == "1.1"


def test_esf_plus_project_number_gives_programme_period():
    cols = _normalise([("project_number", "Diarienummer", "22-025-S02")], "esf_2014_2020").columns
    assert cols["programme_period"] == "2021-2027"


def test_programme_cci_gives_programme_period():
    cols = _normalise([("programme_cci", "Program CCI", "2014SE05M9OP001")], "esf_plus_2021_2027").columns
    assert cols["programme_period"] == "2014-2020"


def test_region_and_postcode_columns():
    cols = _normalise(
        [("region", "Region", "Småland & Öarna"), ("postal_code", "Stödmottagare postnr", "651 82")]
    ).columns
    assert cols["region_name"] == "Småland och öarna"
    assert cols["region_nuts2"] == "SE21"
    assert cols["national"] is False
    assert cols["postal_code"] == "65182"
    assert cols["postal_municipality_code"] == "1780"


def test_national_region_has_no_nuts2():
    cols = _normalise([("region", "Region", "ESF-Nationellt")]).columns
    assert cols["national"] is True
    assert "region_nuts2" not in cols
