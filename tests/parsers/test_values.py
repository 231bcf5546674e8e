"""The value normalisers (parsers/values.py) against the value shapes seen on real pages
(docs/domain.md section 3), plus property tests: they never raise, and format/parse round-trip."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import values as v
from parsers.values import Amount, Parsed, Period

D = Decimal


# ---------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("9 845 203", D("9845203")),  # plain spaces, no unit
        ("7 123 456 kr", D("7123456")),
        ("299\u00a0614 kr", D("299614")),  # no-break space
        ("1\u2009234\u2009567 kr", D("1234567")),  # thin space
        ("1\u202f234\u202f567 kr", D("1234567")),  # narrow no-break space
        ("60 000 000 kr", D("60000000")),
        ("6,6 miljoner kronor", D("6600000.00")),
        ("1,4 miljarder kr", D("1400000000")),
        ("384 mkr", D("384000000")),
        ("5,5 mnkr", D("5500000")),
        ("12 SEK", D("12")),
        ("1 234,50 kr", D("1234.50")),
        ("4 627 244,5 kr", D("4627244.50")),
    ],
)
def test_sek_amounts(raw, expected):
    parsed = v.parse_sek(raw)
    assert parsed.ok, parsed
    assert isinstance(parsed.value, Decimal)
    assert parsed.value == expected
    # Exact to the öre: two decimal places, no binary-float noise.
    assert parsed.value.as_tuple().exponent == -2
    amount = v.parse_amount(raw)
    assert amount.value == Amount(expected, "SEK")


def test_whole_krona_amount_equals_int():
    assert v.parse_sek("9 845 203").value == 9845203
    assert v.parse_sek("60 000 000 kr").value == 60_000_000
    assert v.parse_sek("6,6 miljoner kronor").value == 6_600_000


def test_decimal_comma_is_exact():
    # 0.1-style float errors would show here.
    assert v.parse_sek("0,10 kr").value == D("0.1")
    assert v.parse_sek("1 000 000,07 kr").value == D("1000000.07")


def test_euro_amount_keeps_currency():
    parsed = v.parse_amount("15 148 871,01 €")
    assert parsed.ok
    assert parsed.value == Amount(D("15148871.01"), "EUR")


def test_euro_amount_is_wrong_currency_for_sek():
    parsed = v.parse_sek("15 148 871,01 €")
    assert parsed.value is None
    assert parsed.problem == "wrong_currency"


@pytest.mark.parametrize("raw", ["ca 45 miljoner kr", "drygt 70 miljoner", "Ca. 45 miljoner", "cirka 3 mkr"])
def test_approximate_amount_is_not_guessed(raw):
    for parse in (v.parse_amount, v.parse_sek):
        parsed = parse(raw)
        assert parsed.value is None
        assert parsed.problem == "approximate_amount"


def test_malformed_amount_is_flagged():
    parsed = v.parse_sek("3 976 183 miljoner kronor")
    assert parsed.value is None
    assert parsed.problem is not None
    assert parsed.severity == "error"


@pytest.mark.parametrize("raw", ["hello world", "kr", "okänt belopp", "12 äpplen", "1,234 kr"])
def test_garbage_amount(raw):
    parsed = v.parse_sek(raw)
    assert parsed.value is None
    assert parsed.problem is not None


@pytest.mark.parametrize("raw", [None, "", " ", "\u00a0", "\n\t "])
def test_empty_amount_is_unknown_not_an_error(raw):
    for parse in (v.parse_amount, v.parse_sek):
        assert parse(raw) == Parsed(None, None)


def test_format_sek():
    assert v.format_sek(D("4627244.5")) == "4\u00a0627\u00a0244,50 kr"
    assert v.format_sek(D("60000000")) == "60\u00a0000\u00a0000 kr"


# Found while writing these tests: numbers too long for the default decimal context (28 digits)
# make quantize() raise decimal.InvalidOperation outside the try block.
@pytest.mark.parametrize(
    "raw",
    ["9" * 27, "9" * 30 + " kr", "99999999999999999999 miljarder kr"],
    ids=["27-digits", "30-digits-kr", "20-digits-miljarder"],
)
def test_huge_amount_does_not_raise(raw):
    for parse in (v.parse_amount, v.parse_sek):
        parsed = parse(raw)
        assert isinstance(parsed, Parsed)


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize(
    "raw, expected",
    [("39", 39), ("1 200", 1200), ("1\u00a0200", 1200), ("120 deltagare", 120), ("45 personer", 45)],
)
def test_counts(raw, expected):
    assert v.parse_count(raw) == Parsed(expected)


def test_count_problems():
    assert v.parse_count("ca 40").problem == "approximate_count"
    assert v.parse_count("många").problem == "unparseable_count"
    assert v.parse_count("") == Parsed()


def test_count_with_very_many_digits_does_not_raise():
    # Found while writing these tests: int() refuses strings over 4300 digits (ValueError).
    assert isinstance(v.parse_count("1" * 5000), Parsed)


# ---------------------------------------------------------------- percentages


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("50%", D("0.5")),
        ("53 procent", D("0.53")),
        ("49,58 %", D("0.4958")),
        ("(40%)", D("0.4")),
        ("100%", D("1")),
        ("0 %", D("0")),
    ],
)
def test_percentages(raw, expected):
    parsed = v.parse_percentage(raw)
    assert parsed.ok, parsed
    assert isinstance(parsed.value, Decimal)
    assert parsed.value == expected


def test_qualified_percentage_keeps_value_with_info():
    parsed = v.parse_percentage("53 procent (+/- 0,5%)")
    assert parsed.value == D("0.53")
    assert parsed.problem == "qualified_percentage"
    assert parsed.severity == "info"


def test_percentage_over_100_is_a_problem():
    parsed = v.parse_percentage("150%")
    assert parsed.value is None
    assert parsed.problem is not None


def test_percentage_garbage_and_empty():
    assert v.parse_percentage("hälften").problem == "unparseable_percentage"
    assert v.parse_percentage("  ") == Parsed()


# ---------------------------------------------------------------- dates and periods


def _day(start: date, end: date) -> Period:
    return Period(start, end, "day")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2017-02-15 - 2020-03-31", _day(date(2017, 2, 15), date(2020, 3, 31))),
        ("2016-09-01-2019-06-30", _day(date(2016, 9, 1), date(2019, 6, 30))),
        ("2009-08-03 till 2010-02-02", _day(date(2009, 8, 3), date(2010, 2, 2))),
        ("2015-05-25 \u2013 2015-09-10", _day(date(2015, 5, 25), date(2015, 9, 10))),  # en dash
        ("2015-05-25\u20132015-09-10", _day(date(2015, 5, 25), date(2015, 9, 10))),
        ("2015-05-25 \u2014 2015-09-10", _day(date(2015, 5, 25), date(2015, 9, 10))),  # em dash
        ("2015-05-25\u20142015-09-10", _day(date(2015, 5, 25), date(2015, 9, 10))),
        ("2015-05-25\u00a0-\u00a02015-09-10", _day(date(2015, 5, 25), date(2015, 9, 10))),
    ],
)
def test_day_periods(raw, expected):
    assert v.parse_period(raw) == Parsed(expected)


@pytest.mark.parametrize(
    "raw, first, last",
    [("2018-2020", 2018, 2020), ("2019 - 2022", 2019, 2022), ("2018\u20132020", 2018, 2020), ("2019", 2019, 2019)],
)
def test_year_periods(raw, first, last):
    parsed = v.parse_period(raw)
    assert parsed.ok, parsed
    # A year-only period has year precision and covers whole years, not 1 January to 1 January.
    assert parsed.value == Period(date(first, 1, 1), date(last, 12, 31), "year")


def test_month_period():
    parsed = v.parse_period("mars 2018 \u2013 juni 2019")
    assert parsed.value == Period(date(2018, 3, 1), date(2019, 6, 30), "month")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2017-02-15", date(2017, 2, 15)),
        ("8 december 2017", date(2017, 12, 8)),
        ("den 1 januari 2019", date(2019, 1, 1)),
        ("2 oktober, 2020", date(2020, 10, 2)),
        ("31/5 2011", date(2011, 5, 31)),
        ("8 December 2017", date(2017, 12, 8)),
    ],
)
def test_dates(raw, expected):
    assert v.parse_date(raw) == Parsed(expected)


@pytest.mark.parametrize("raw", ["2020-03-31 - 2017-02-15", "2020-2018"])
def test_start_after_end(raw):
    parsed = v.parse_period(raw)
    assert parsed.value is None
    assert parsed.problem == "start_after_end"


@pytest.mark.parametrize("raw", ["2019-02-30", "32/5 2011", "30 februari 2019", "8 decembr 2017", "igår"])
def test_invalid_date(raw):
    parsed = v.parse_date(raw)
    assert parsed.value is None
    assert parsed.problem is not None


@pytest.mark.parametrize("raw", ["2019-02-30", "2019-02-30 - 2020-01-01", "2019-01-01 - 2019-13-01"])
def test_invalid_period(raw):
    parsed = v.parse_period(raw)
    assert parsed.value is None
    assert parsed.problem is not None


def test_date_rejects_coarser_precision():
    assert v.parse_date("2019").problem == "unparseable_date"


# Found while writing these tests: the month-precision branch of _parse_point calls date() without
# a guard, so year 0 raises ValueError instead of returning a problem.
@pytest.mark.parametrize(
    "parse, raw",
    [
        (v.parse_date, "0000-05"),
        (v.parse_period, "0000-05"),
        (v.parse_date, "maj 0000"),
        (v.parse_period, "maj 0000 - juni 2019"),
    ],
    ids=["date-iso-month", "period-iso-month", "date-month-name", "period-month-name"],
)
def test_year_zero_month_does_not_raise(parse, raw):
    parsed = parse(raw)
    assert parsed.value is None
    assert parsed.problem is not None


def test_format_period():
    assert v.format_period(_day(date(2017, 2, 15), date(2020, 3, 31))) == "2017-02-15 - 2020-03-31"
    assert v.format_period(Period(date(2018, 1, 1), date(2020, 12, 31), "year")) == "2018-2020"


# ---------------------------------------------------------------- identifiers


@pytest.mark.parametrize("raw, expected", [("172 92", "17292"), ("65182", "65182"), ("SE-172 92", "17292")])
def test_postcodes(raw, expected):
    assert v.parse_postcode(raw) == Parsed(expected)


@pytest.mark.parametrize("raw", ["1729", "ABCDE", "172 922"])
def test_bad_postcode(raw):
    assert v.parse_postcode(raw).problem == "unparseable_postcode"


@pytest.mark.parametrize("raw", ["556036-0793", "5560360793", "16556036-0793"])
def test_org_number_valid(raw):
    assert v.parse_org_number(raw) == Parsed("5560360793")


@pytest.mark.parametrize("raw", ["212000-1234", "2120001234"])
def test_org_number_bad_check_digit_is_kept_with_warning(raw):
    parsed = v.parse_org_number(raw)
    assert parsed.value == "2120001234"
    assert parsed.problem == "org_number_checksum"
    assert parsed.severity == "warning"


def test_org_number_wrong_length():
    parsed = v.parse_org_number("21200-1234")
    assert parsed.value is None
    assert parsed.problem == "unparseable_org_number"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("+46701234567", "+46701234567"),
        ("019 602 63 29", "+46196026329"),
        ("010-516 67 65", "+46105166765"),
        ("054-614310", "+4654614310"),
        ("+46 (0)54-61 43 10", "+4654614310"),
        ("0046 54 614310", "+4654614310"),
    ],
)
def test_phones(raw, expected):
    assert v.parse_phone(raw) == Parsed(expected)


@pytest.mark.parametrize("raw", ["ring växeln", "614310", "0"])
def test_bad_phone(raw):
    parsed = v.parse_phone(raw)
    assert parsed.value is None
    assert parsed.problem == "unparseable_phone"


def test_email_is_lower_cased():
    assert v.parse_email("Per.Iversen@Hudiksvall.SE") == Parsed("per.iversen@hudiksvall.se")
    assert v.parse_email("mailto:per.iversen@hudiksvall.se") == Parsed("per.iversen@hudiksvall.se")


@pytest.mark.parametrize(
    "raw", ["per.iversen", "per@", "@hudiksvall.se", "per@hudiksvall", "per iversen at hudiksvall"]
)
def test_invalid_email(raw):
    parsed = v.parse_email(raw)
    assert parsed.value is None
    assert parsed.problem == "invalid_email"


@pytest.mark.parametrize("raw", ["2016/00418", "22-025-S02"])
def test_project_numbers(raw):
    assert v.parse_project_number(raw) == Parsed(raw)


def test_unexpected_project_number_is_kept_with_warning():
    parsed = v.parse_project_number("20200940")
    assert parsed.value == "20200940"
    assert parsed.problem == "unexpected_project_number"
    assert parsed.severity == "warning"


def test_call_number():
    assert v.parse_call_number("2015/00123") == Parsed("2015/00123")
    assert v.parse_call_number("utlysning 5").severity == "warning"


@pytest.mark.parametrize("raw, expected", [("Ja", True), ("nej", False), ("JA", True)])
def test_yes_no(raw, expected):
    assert v.parse_yes_no(raw) == Parsed(expected)
    assert v.parse_yes_no("kanske").problem == "unparseable_yes_no"


# ---------------------------------------------------------------- names


def test_readable_name_uppercase():
    assert v.readable_name("HUDIKSVALLS KOMMUN") == "Hudiksvalls kommun"
    assert v.readable_name("LÄNSSTYRELSEN I VÄRMLANDS LÄN") == "Länsstyrelsen i Värmlands län"


@pytest.mark.parametrize("name", ["Region Värmland, Regionens kansli", "Länsst. i VG-län", "ESF", "", None])
def test_readable_name_leaves_other_names(name):
    assert v.readable_name(name) == name


# ---------------------------------------------------------------- properties

PARSERS = [
    v.parse_amount,
    v.parse_sek,
    v.parse_count,
    v.parse_percentage,
    v.parse_date,
    v.parse_period,
    v.parse_postcode,
    v.parse_org_number,
    v.parse_email,
    v.parse_phone,
    v.parse_project_number,
    v.parse_call_number,
    v.parse_yes_no,
    v.parse_text,
]

# Text built from pieces of the value grammar reaches deeper branches than random unicode.
_TOKENS = st.sampled_from(
    [
        " ",
        "-",
        " - ",
        "\u2013",
        "/",
        ",",
        ".",
        ":",
        "(",
        ")",
        "%",
        "+",
        "@",
        "kr",
        "mkr",
        "miljoner",
        "kronor",
        "€",
        "procent",
        "till",
        "den",
        "maj",
        "december",
        "ca",
        "SE-",
        "0",
        "00",
        "05",
        "12",
        "31",
        "2019",
        "2020",
        "0000",
        "999",
        "\u00a0",
        "\n",
        "\x00",
    ]
)
GRAMMAR_TEXT = st.lists(st.one_of(_TOKENS, st.from_regex(r"\d{1,6}", fullmatch=True)), max_size=8).map("".join)


def _check_parsed(result: object) -> None:
    assert isinstance(result, Parsed)
    if result.problem is None:
        return
    # An error loses the value; a kept value only carries a warning or a note.
    if result.value is None:
        assert result.severity == "error"
    else:
        assert result.severity in {"warning", "info"}


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_normalisers_never_raise_on_any_text(raw):
    for parse in PARSERS:
        _check_parsed(parse(raw))
    assert isinstance(v.readable_name(raw), str)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(GRAMMAR_TEXT)
def test_normalisers_never_raise_on_grammar_like_text(raw):
    for parse in PARSERS:
        _check_parsed(parse(raw))
    assert isinstance(v.readable_name(raw), str)


def test_normalisers_accept_none():
    for parse in PARSERS:
        assert parse(None) == Parsed()
    assert v.readable_name(None) is None


@settings(max_examples=200)
@given(st.decimals(min_value=0, max_value=10**11, places=2, allow_nan=False, allow_infinity=False))
def test_sek_round_trip(x):
    assert v.parse_sek(v.format_sek(x)).value == x


@st.composite
def _date_pairs(draw):
    a, b = draw(st.dates()), draw(st.dates())
    return min(a, b), max(a, b)


@settings(max_examples=200)
@given(_date_pairs())
def test_day_period_round_trip(pair):
    period = Period(pair[0], pair[1], "day")
    assert v.parse_period(v.format_period(period)) == Parsed(period)


@settings(max_examples=200)
@given(st.integers(1990, 2040), st.integers(1990, 2040))
def test_year_period_round_trip(a, b):
    first, last = min(a, b), max(a, b)
    period = Period(date(first, 1, 1), date(last, 12, 31), "year")
    assert v.parse_period(v.format_period(period)) == Parsed(period)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=10**15))
def test_count_round_trip(n):
    assert v.parse_count(f"{n:,}".replace(",", " ")) == Parsed(n)


@settings(max_examples=200)
@given(st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False))
def test_percentage_round_trip(x):
    parsed = v.parse_percentage(f"{x} %".replace(".", ","))
    assert parsed.ok, parsed
    assert parsed.value == x / 100
