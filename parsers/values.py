"""Normalisers for the Swedish value grammar of the project pages.

Every normaliser takes the raw text and returns a ``Parsed``: the normalised value, or ``None``
with a ``problem`` code that becomes a row of ``parse_issues``. They never raise and never guess:
an approximate amount ("ca 45 miljoner") is not turned into an exact one.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from parsers.lookups import vocabulary
from parsers.text import one_line

T = TypeVar("T")


@dataclass(frozen=True)
class Parsed(Generic[T]):
    value: T | None = None
    problem: str | None = None  # machine-readable code, e.g. "approximate_amount"
    note: str | None = None  # human-readable detail for the issues table
    severity: str = "error"  # "error" when the value was lost, "warning"/"info" when kept

    @property
    def ok(self) -> bool:
        return self.problem is None


def _fail(problem: str, note: str | None = None) -> Parsed[Any]:
    return Parsed(None, problem, note)


def _empty(raw: str | None) -> bool:
    return not one_line(raw)


# ---------------------------------------------------------------- amounts


@dataclass(frozen=True)
class Amount:
    value: Decimal  # exact, in the currency's main unit
    currency: str  # "SEK" or "EUR"


_NUMBER = r"(?P<int>[0-9]{1,3}(?:[ .][0-9]{3})+|[0-9]+)(?:[,.](?P<dec>[0-9]+))?"
_AMOUNT = re.compile(rf"^{_NUMBER}\s*(?P<unit>[^0-9\s].*)?$")
_ÖRE = Decimal("0.01")
# The tables hold decimal(18, 2): sixteen digits of kronor; more is a typing error, not a grant.
MAX_AMOUNT_DIGITS = 16


@functools.cache
def _amount_units() -> dict[str, tuple[Decimal, str]]:
    units = vocabulary()["amount_units"]
    return {one_line(k).casefold(): (Decimal(v[0]), v[1]) for k, v in units.items()}


def parse_amount(raw: str | None) -> Parsed[Amount]:
    """``9 845 203``, ``299 614 kr``, ``6,6 miljoner kronor``, ``384 mkr``, ``15 148 871,01 €`` …"""
    parsed = _parse_amount(raw)
    return Parsed(parsed.value[0], parsed.problem, parsed.note) if parsed.value else parsed  # type: ignore[return-value]


def _parse_amount(raw: str | None) -> Parsed[tuple[Amount, Decimal]]:
    """The amount and the place of its last printed digit in the currency's main unit (``6,6 miljoner`` ->
    100 000; ``299 614 kr`` -> 1; ``15 148 871,01 €`` -> 0.01)."""
    if _empty(raw):
        return Parsed()
    text = one_line(raw)
    lowered = text.casefold()
    for word in vocabulary()["grammar"]["approximation_words"]:
        if re.match(rf"^{re.escape(word)}\b", lowered):
            return _fail("approximate_amount", f"approximate ({word}); not an exact amount")
    match = _AMOUNT.match(text.replace(" :-", " kr").replace(":-", " kr"))
    if not match:
        return _fail("unparseable_amount")
    unit_text = (match["unit"] or "").strip().rstrip(".").casefold()
    units = _amount_units()
    if unit_text not in units:
        return _fail("unparseable_amount", f"unknown unit {unit_text!r}")
    multiplier, currency = units[unit_text]
    int_part, dec_part = match["int"], match["dec"]
    grouped = " " in int_part or "." in int_part
    if grouped and "." in int_part and dec_part is not None and "," not in text:
        return _fail("unparseable_amount", "ambiguous separators")
    if multiplier > 1 and grouped:
        # "3 976 183 miljoner kronor": a full amount with a multiplier word is a copy error.
        return _fail("malformed_amount", "grouped digits followed by a multiplier")
    if multiplier == 1 and dec_part is not None and len(dec_part) > 2:
        return _fail("unparseable_amount", "more than two decimals")
    digits = int_part.replace(" ", "").replace(".", "")
    if len(digits.lstrip("0")) + len(str(multiplier)) - 1 > MAX_AMOUNT_DIGITS or len(dec_part or "") > 12:
        return _fail("implausible_amount", f"more than {MAX_AMOUNT_DIGITS} digits of kronor")
    try:
        value = Decimal(f"{digits}.{dec_part or '0'}") * multiplier
        exact = value.quantize(_ÖRE)
    except InvalidOperation:
        return _fail("unparseable_amount")
    if value != exact:
        return _fail("unparseable_amount", "finer than one öre")
    return Parsed((Amount(exact, currency), multiplier.scaleb(-len(dec_part or ""))))


def parse_sek(raw: str | None) -> Parsed[Decimal]:
    """An amount that must be in Swedish kronor; another currency is an issue, not converted."""
    parsed = parse_amount(raw)
    if parsed.value is None:
        return Parsed(None, parsed.problem, parsed.note)
    if parsed.value.currency != "SEK":
        return _fail("wrong_currency", f"amount in {parsed.value.currency}, expected SEK")
    return Parsed(parsed.value.value)


@dataclass(frozen=True)
class Rounded:
    """An amount as printed in prose, rounded: the real amount lies within ``value ± step / 2``."""

    value: Decimal  # in kronor, as printed ("4,2 miljoner kronor" -> 4 200 000)
    step: Decimal  # the place of the last printed digit, in kronor ("4,2 miljoner kronor" -> 100 000)


def parse_rounded_sek(raw: str | None) -> Parsed[Rounded]:
    """An amount in kronor as a press release prints it (``4,2 miljoner kronor``, ``850 000 kronor``), with
    the precision it is printed to. The same grammar and strictness as ``parse_sek``: an approximate amount,
    an unknown (or misspelled) unit or another currency is an issue, never a guess."""
    parsed = _parse_amount(raw)
    if parsed.value is None:
        return Parsed(None, parsed.problem, parsed.note)
    amount, step = parsed.value
    if amount.currency != "SEK":
        return _fail("wrong_currency", f"amount in {amount.currency}, expected SEK")
    return Parsed(Rounded(amount.value, step.quantize(_ÖRE) if step >= _ÖRE else step))


def format_sek(value: Decimal) -> str:
    """The inverse of ``parse_sek`` for tests and display: ``4627244.5`` -> ``4 627 244,50 kr``."""
    whole, _, frac = f"{value:.2f}".partition(".")
    groups = f"{int(whole):,}".replace(",", "\u00a0")
    return f"{groups},{frac} kr" if frac != "00" else f"{groups} kr"


# ---------------------------------------------------------------- integers and percentages

_INT = re.compile(r"^[0-9]{1,3}(?:[ .][0-9]{3})+$|^[0-9]+$")


def parse_count(raw: str | None) -> Parsed[int]:
    """A whole, non-negative count such as ``39`` or ``1 200``."""
    if _empty(raw):
        return Parsed()
    text = one_line(raw)
    for word in vocabulary()["grammar"]["approximation_words"]:
        if re.match(rf"^{re.escape(word)}\b", text.casefold()):
            return _fail("approximate_count")
    text = re.sub(r"\s*(st|stycken|personer|deltagare)\.?$", "", text, flags=re.I)
    digits = text.replace(" ", "").replace(".", "")
    if not _INT.match(text) or len(digits) > 16:
        return _fail("unparseable_count")
    return Parsed(int(digits))


_PERCENT = re.compile(r"^\(?\s*(?P<num>[0-9]{1,3}(?:[,.][0-9]+)?)\s*(?:%|procent)\s*\)?\s*(?P<rest>\(.*\))?$", re.I)


def parse_percentage(raw: str | None) -> Parsed[Decimal]:
    """``50%``, ``53 procent``, ``49,58 %``, ``(40%)`` -> a fraction (``Decimal('0.5')``)."""
    if _empty(raw):
        return Parsed()
    match = _PERCENT.match(one_line(raw))
    if not match:
        return _fail("unparseable_percentage")
    value = Decimal(match["num"].replace(",", ".")) / 100
    if value > 1:
        return _fail("percentage_out_of_range")
    if match["rest"]:
        return Parsed(value, "qualified_percentage", f"qualifier {match['rest']} not kept", "info")
    return Parsed(value)


# ---------------------------------------------------------------- dates and periods


@dataclass(frozen=True)
class Period:
    start: date | None
    end: date | None
    precision: str  # "day", "month" or "year"


def _months() -> dict[str, int]:
    return {k.casefold(): int(v) for k, v in vocabulary()["months"].items()}


_ISO = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_SLASH = re.compile(r"^([0-9]{1,2})/([0-9]{1,2})[ -]([0-9]{4})$")
_LONG = re.compile(r"^(?:den\s+)?([0-9]{1,2})(?::e|:a)?\s+([a-zåäö]+)\.?,?\s+([0-9]{4})$", re.I)
_MONTH_YEAR = re.compile(r"^([a-zåäö]+)\.?\s+([0-9]{4})$", re.I)
_ISO_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_YEAR = re.compile(r"^([0-9]{4})$")


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _parse_point(text: str) -> tuple[date, date, str] | None:
    """One date expression -> (first day, last day, precision)."""
    text = one_line(text).rstrip(".").strip()
    if m := _ISO.match(text):
        d = _safe_date(int(m[1]), int(m[2]), int(m[3]))
        return (d, d, "day") if d else None
    if m := _SLASH.match(text):
        d = _safe_date(int(m[3]), int(m[2]), int(m[1]))
        return (d, d, "day") if d else None
    if m := _LONG.match(text):
        month = _months().get(m[2].casefold())
        d = _safe_date(int(m[3]), month, int(m[1])) if month else None
        return (d, d, "day") if d else None
    month_match = _ISO_MONTH.match(text)
    if month_match or (month_match := _MONTH_YEAR.match(text)):
        year_text, month_text = (
            (month_match[1], month_match[2]) if month_match.re is _ISO_MONTH else (month_match[2], month_match[1])
        )
        month = int(month_text) if month_text.isdigit() else _months().get(month_text.casefold())
        if not month or not 1 <= month <= 12:
            return None
        year = int(year_text)
        first = _safe_date(year, month, 1)
        if first is None:
            return None
        return first, date(year, month, calendar.monthrange(year, month)[1]), "month"
    if m := _YEAR.match(text):
        year = int(m[1])
        if 1900 <= year <= 2100:
            return date(year, 1, 1), date(year, 12, 31), "year"
    return None


def parse_date(raw: str | None) -> Parsed[date]:
    """A single day: ``2017-02-15``, ``8 december 2017``, ``den 1 januari 2019``, ``2 oktober, 2020``, ``31/5 2011``."""
    if _empty(raw):
        return Parsed()
    point = _parse_point(raw or "")
    if point is None or point[2] != "day":
        return _fail("unparseable_date")
    return Parsed(point[0])


_ISO_ANYWHERE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RANGE_SEPARATOR = re.compile(
    r"\s+(?:--?|–|—|till och med|till|to|t\.o\.m\.?|tom)\s+|\s*(?:--|[–—])\s*|(?<=[0-9]{4})-(?=[0-9]{4}$)", re.I
)


def parse_period(raw: str | None) -> Parsed[Period]:
    """``2017-02-15 - 2020-03-31``, ``2016-09-01-2019-06-30``, ``2009-08-03 till 2010-02-02``,
    ``2018-2020`` (year precision), ``mars 2018 – juni 2019`` (month precision)."""
    if _empty(raw):
        return Parsed()
    text = one_line(raw)
    isos = _ISO_ANYWHERE.findall(text)
    if len(isos) == 2 and re.fullmatch(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}\s*(?:--?|–|—|till och med|till|to|t\.o\.m\.?)?\s*[0-9]{4}-[0-9]{2}-[0-9]{2}",
        text,
        re.I,
    ):
        parts = isos
    else:
        parts = _RANGE_SEPARATOR.split(text)
    if len(parts) == 1:
        point = _parse_point(parts[0])
        if point is None:
            return _fail("unparseable_period")
        return Parsed(Period(point[0], point[1], point[2]))
    if len(parts) != 2:
        return _fail("unparseable_period")
    first, last = _parse_point(parts[0]), _parse_point(parts[1])
    if first is None or last is None:
        return _fail("unparseable_period")
    precision = first[2] if first[2] == last[2] else "mixed"
    if precision == "mixed":
        # "2018-01-15 - 2019": the coarser precision is the honest one.
        order = ["day", "month", "year"]
        precision = max(first[2], last[2], key=order.index)
    if first[0] > last[1]:
        return _fail("start_after_end", f"{first[0]} is after {last[1]}")
    return Parsed(Period(first[0], last[1], precision))


def format_period(period: Period) -> str:
    """The inverse of ``parse_period`` for the day and year precisions."""
    if period.precision == "year":
        return f"{period.start.year}-{period.end.year}"  # type: ignore[union-attr]
    return f"{period.start.isoformat()} - {period.end.isoformat()}"  # type: ignore[union-attr]


# ---------------------------------------------------------------- identifiers and contact data


def parse_postcode(raw: str | None) -> Parsed[str]:
    """``65182``, ``172 92``, ``SE-172 92`` -> ``17292``."""
    if _empty(raw):
        return Parsed()
    text = re.sub(r"^(?:SE|S)-?\s*", "", one_line(raw), flags=re.I)
    if not re.fullmatch(r"[0-9]{3} ?[0-9]{2}", text):
        return _fail("unparseable_postcode")
    return Parsed(text.replace(" ", ""))


# Organisation numbers and personal identity numbers (lagen (1974:174) om identitetsbeteckning för juridiska
# personer m.fl.; Skatteverket's brochure SKV 709 "Organisationsnummer"): both are ten digits with a Luhn check
# digit. An organisation number's third and fourth digits ("the month") are always 20 or more, so that it can
# never be taken for a personal identity number (personnummer, YYMMDD-NNNN), whose month is 01-12; a
# coordination number (samordningsnummer) has a real month too (its day is plus 60). A sole trader
# (enskild näringsidkare) has no organisation number of its own: its number IS its owner's personal identity
# number. So a ten-digit number whose digits 3-4 are 01-12 is personal data: never published, not even in an
# issue's raw value. A number whose digits 3-4 are 00 or 13-19 is neither; it is withheld too (a mistyped
# personal identity number is still personal data).
PERSONAL_IDENTITY_NUMBER = "personal_identity_number"
WITHHELD_PROBLEMS = frozenset({PERSONAL_IDENTITY_NUMBER, "not_an_org_number"})  # their raw text is never published


def is_personal_identity_number(digits: str) -> bool:
    """Ten digits whose third and fourth form a month (01-12): a personal identity or coordination number."""
    return len(digits) == 10 and digits.isdigit() and 1 <= int(digits[2:4]) <= 12


def parse_org_number(raw: str | None) -> Parsed[str]:
    """``212000-1234`` or ``2120001234`` (or the 12-digit form with ``16``) -> ten digits. A personal
    identity number (a sole trader's, ``19``/``20`` + ten digits too) is withheld: no value, and an issue
    whose note does not repeat it (callers must not publish the raw text either: ``WITHHELD_PROBLEMS``)."""
    if _empty(raw):
        return Parsed()
    digits = re.sub(r"[\s+-]", "", one_line(raw))
    if re.fullmatch(r"(?:18|19|20)[0-9]{10}", digits) and 1 <= int(digits[4:6]) <= 12:
        digits = digits[2:]  # a personal identity number with its century: withheld below
    elif re.fullmatch(r"16[0-9]{10}", digits):
        digits = digits[2:]
    if not re.fullmatch(r"[0-9]{10}", digits):
        if re.fullmatch(r"[0-9]{6,}", digits) and 1 <= int(digits[2:4]) <= 12:
            # Digits that start like a date of birth (a personal identity number cut short or run on).
            return Parsed(
                None,
                "not_an_org_number",
                "not ten digits, and digits 3-4 form a month: value withheld (it may be a personal identity number)",
            )
        return _fail("unparseable_org_number")
    if is_personal_identity_number(digits):
        return Parsed(
            None,
            PERSONAL_IDENTITY_NUMBER,
            "a personal identity number (a sole trader's organisation number): not published",
            "warning",
        )
    if digits[2] < "2":
        return Parsed(
            None,
            "not_an_org_number",
            "digits 3-4 are below 20 and not a month: neither an organisation "
            "nor a personal identity number; value withheld",
        )
    if not _luhn_ok(digits):
        return Parsed(digits, "org_number_checksum", "Luhn check digit does not match", "warning")
    return Parsed(digits)


# The group of legal forms an organisation number's first digit gives (Skatteverket, SKV 709). 0 and 4 are not
# assigned. (A sole trader has no group: its number is a personal identity number, never published.)
LEGAL_FORM_GROUPS = {
    "1": "estate",  # dödsbon
    "2": "state, region, municipality or parish",  # stat, regioner (landsting), kommuner, församlingar
    "3": "foreign company",  # utländska företag som bedriver näringsverksamhet eller äger fastigheter i Sverige
    "5": "limited company",  # aktiebolag
    "6": "simple partnership",  # enkla bolag
    "7": "economic association",  # ekonomiska föreningar (also housing co-operatives)
    "8": "non-profit association or foundation",  # ideella föreningar och stiftelser
    "9": "trading or limited partnership",  # handelsbolag och kommanditbolag
}
UNASSIGNED_LEGAL_FORM_DIGITS = frozenset("04")


def legal_form_group(org_number: str) -> tuple[str, str | None]:
    """(first digit, the group it names) of a ten-digit organisation number; the name is None for 0 and 4."""
    return org_number[0], LEGAL_FORM_GROUPS.get(org_number[0])


def valid_org_number(digits: str | None) -> bool:
    """Ten digits, digits 3-4 at least 20 (not a personal identity number) and a matching Luhn check digit."""
    return digits is not None and len(digits) == 10 and digits.isdigit() and digits[2] >= "2" and _luhn_ok(digits)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


_EMAIL = re.compile(r"^[a-z0-9._%+\-']+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-zåäö]{2,}$")


def parse_email(raw: str | None) -> Parsed[str]:
    if _empty(raw):
        return Parsed()
    text = re.sub(r"^mailto:", "", one_line(raw), flags=re.I).replace(" ", "").casefold()
    text = text.replace("[at]", "@").replace("(at)", "@")
    if not _EMAIL.match(text):
        return _fail("invalid_email")
    return Parsed(text)


# An e-mail address anywhere in a text, also written with [at] or (at).
_EMAIL_IN_TEXT = re.compile(r"[^\s@<>()\[\]]+(?:@|\[at\]|\(at\))[^\s@<>()]+\.[^\s@<>().]{2,}", re.I)


def looks_like_contact_data(raw: str | None) -> bool:
    """An e-mail address anywhere in the text, or a text that is a phone number: what a run without
    personal data leaves out even under a label the vocabulary does not know."""
    if _empty(raw):
        return False
    return bool(_EMAIL_IN_TEXT.search(raw)) or parse_phone(raw).value is not None


def parse_phone(raw: str | None) -> Parsed[str]:
    """Swedish phone numbers in any common shape -> E.164 (``054-614310`` -> ``+4654614310``)."""
    if _empty(raw):
        return Parsed()
    text = one_line(raw).replace("(0)", "")
    if not re.fullmatch(r"\+?[0-9\s\-/().]+", text):
        return _fail("unparseable_phone")
    digits = re.sub(r"[^0-9]", "", text)
    if text.startswith("+"):
        national = digits[2:] if digits.startswith("46") else None
        if national is None:
            return Parsed("+" + digits) if 8 <= len(digits) <= 15 else _fail("unparseable_phone")
    elif digits.startswith("0046"):
        national = digits[4:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        return _fail("unparseable_phone", "no area code")
    if not 7 <= len(national) <= 10 or national.startswith("0"):
        return _fail("unparseable_phone")
    return Parsed("+46" + national)


_PROJECT_NUMBER = re.compile(r"(?:[0-9]{4}/[0-9]{5}|[0-9]{2}-[0-9]{3}-S[0-9]{2})")
_CALL_NUMBER = re.compile(r"[0-9]{4}/[0-9]{5}")


def _identifier(raw: str | None, shape: re.Pattern[str], problem: str) -> Parsed[str]:
    """An identifier of a known shape, spaces removed; another shape is kept as printed but reported."""
    if _empty(raw):
        return Parsed()
    text = one_line(raw).replace(" ", "")
    if not shape.fullmatch(text):
        return Parsed(one_line(raw), problem, "kept as printed", "warning")
    return Parsed(text)


def parse_project_number(raw: str | None) -> Parsed[str]:
    """``2016/00418`` (2007–2020) or ``22-025-S02`` (ESF+)."""
    return _identifier(raw, _PROJECT_NUMBER, "unexpected_project_number")


def parse_call_number(raw: str | None) -> Parsed[str]:
    """``2015/00123``."""
    return _identifier(raw, _CALL_NUMBER, "unexpected_call_number")


def parse_yes_no(raw: str | None) -> Parsed[bool]:
    if _empty(raw):
        return Parsed()
    answers = {"ja": True, "yes": True, "nej": False, "no": False}
    text = one_line(raw).casefold()
    return Parsed(answers[text]) if text in answers else _fail("unparseable_yes_no")


def parse_text(raw: str | None) -> Parsed[str]:
    """Free text: white space normalised, kept as printed."""
    text = one_line(raw)
    return Parsed(text or None)


def readable_name(name: str | None) -> str | None:
    """``HUDIKSVALLS KOMMUN`` -> ``Hudiksvalls kommun``; names not in capitals stay as printed."""
    if not name:
        return name
    letters = [c for c in name if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and len(letters) > 3:
        small = set(vocabulary()["grammar"]["lowercase_words"])

        def word(i: int, w: str) -> str:
            if i and w.lower() in small:
                return w.lower()
            return "-".join(p[:1].upper() + p[1:].lower() for p in w.split("-"))

        return " ".join(word(i, w) for i, w in enumerate(name.split(" ")))
    return name
