"""Turn the raw label values of one project into normalised columns, with an issue for every
value that is present but not understood."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from parsers import values as v
from parsers.lookups import codes, lookup_postcode, lookup_region, vocabulary
from parsers.text import one_line


@dataclass
class Issue:
    field: str | None
    raw_value: str | None
    problem: str
    severity: str = "error"
    note: str | None = None


@dataclass
class RawField:
    field: str | None  # None for a label the vocabulary does not know
    label: str  # as printed
    raw: str


@dataclass
class Normalised:
    columns: dict[str, Any] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def report(self, name: str, raw: str, parsed: v.Parsed[Any]) -> None:
        """The issue of a parsed value, if it has one."""
        if parsed.problem:
            # A personal identity number (a sole trader's "organisation number") is reported without its text.
            shown = None if parsed.problem in v.WITHHELD_PROBLEMS else raw
            self.issues.append(Issue(name, shown, parsed.problem, parsed.severity, parsed.note))

    def take(self, name: str, raw: str, parsed: v.Parsed[Any]) -> Any:
        """Record a parsed value (first one wins) and its issue, if any."""
        self.report(name, raw, parsed)
        if parsed.value is not None:
            self.set(name, parsed.value, raw)
        return parsed.value

    def set(self, name: str, value: Any, raw: str | None = None) -> None:
        old = self.columns.get(name)
        if old is None:
            self.columns[name] = value
        elif old != value:
            self.issues.append(
                Issue(name, raw, "conflicting_values", "warning", f"kept {old!r}, page also says {value!r}")
            )


def _programme_area(raw: str) -> v.Parsed[tuple[str, str | None]]:
    """``2``, ``1.1 Kompetensförsörjning``, ``Programområde 1 Kompetensförsörjning``, ``A``."""
    text = re.sub(r"^programområde\s*", "", one_line(raw), flags=re.I)
    if m := re.match(r"^(\d)(?:\.(\d))?(?:\s*[-–:]?\s*[^\d].*)?$", text):
        return v.Parsed((m[1], f"{m[1]}.{m[2]}" if m[2] else None))
    if m := re.match(r"^([A-F])(?:\s*[-–:]\s*.*|\s+[A-ZÅÄÖ].*)?$", text):
        return v.Parsed((m[1], None))
    return v.Parsed(None, "unparseable_programme_area")


def _specific_objective(raw: str) -> v.Parsed[str]:
    text = one_line(raw)
    if m := re.match(r"^(\d\.\d|[A-F]\d[A-Z]?)(?:\s*[-–:]?\s*[^\d.].*)?$", text):
        return v.Parsed(m[1])
    return v.Parsed(None, "unparseable_specific_objective")


def _intervention(raw: str) -> v.Parsed[str]:
    if m := re.match(r"^(\d{2,3})\b", one_line(raw)):
        return v.Parsed(m[1])
    return v.Parsed(None, "unparseable_intervention_code")


def _nuts2(raw: str) -> v.Parsed[str]:
    text = one_line(raw).upper().replace(" ", "")
    if not re.fullmatch(r"SE[0-9][0-9A]", text):
        return v.Parsed(None, "unparseable_nuts2")
    old = codes()["nuts2_old_to_new"]
    if text in old:
        return v.Parsed(old[text], "old_nuts2_code", f"pre-2008 code {text} mapped to {old[text]}", "info")
    return v.Parsed(text)


def _programme_period(raw: str) -> v.Parsed[str]:
    text = re.sub(r"\s*[-–]\s*", "-", one_line(raw))
    return (
        v.Parsed(text) if text in codes()["programme_periods"]["known"] else v.Parsed(None, "unknown_programme_period")
    )


def _cci(raw: str) -> v.Parsed[str]:
    text = one_line(raw).replace(" ", "").upper()
    return v.Parsed(text) if re.fullmatch(r"\d{4}[A-Z]{2}\w{4,12}", text) else v.Parsed(None, "unparseable_cci")


NORMALISERS: dict[str, Callable[[str], v.Parsed[Any]]] = {
    "text": v.parse_text,
    "project_number": v.parse_project_number,
    "call_number": v.parse_call_number,
    "org_number": v.parse_org_number,
    "postcode": v.parse_postcode,
    "email": v.parse_email,
    "phone": v.parse_phone,
    "count": v.parse_count,
    "date": v.parse_date,
    "period": v.parse_period,
    "sek": v.parse_sek,
    "percentage": v.parse_percentage,
    "yes_no": v.parse_yes_no,
    "region": v.parse_text,
    "nuts2": _nuts2,
    "programme_area": _programme_area,
    "specific_objective": _specific_objective,
    "intervention_code": _intervention,
    "cci": _cci,
    "programme_period": _programme_period,
}


def normalise_fields(raw_fields: list[RawField], family: str) -> Normalised:
    """Raw label values -> project columns. Empty values are just null; a value that is present
    but not understood is null plus an issue. Derived columns (NUTS-2, names of codes, programme
    period) are filled only from what the page shows."""
    out = Normalised()
    kinds = {name: spec["kind"] for name, spec in vocabulary()["fields"].items()}
    for item in raw_fields:
        if item.field is None or not one_line(item.raw):
            continue
        if item.field.startswith("contact_"):
            # Several people may be listed: each value is checked here, grouped into contacts by the page.
            out.report(item.field, item.raw, NORMALISERS[kinds[item.field]](item.raw))
            continue
        out.take(item.field, item.raw, NORMALISERS[kinds[item.field]](item.raw))
    cols = out.columns

    # The programme area value may carry the specific objective too ("1.1 Kompetensförsörjning").
    if area := cols.pop("programme_area", None):
        cols["programme_area"] = area[0]
        if area[1] and "specific_objective" not in cols:
            cols["specific_objective"] = area[1]

    # Dates: a non-empty pair of explicit dates wins over the period; disagreement is reported.
    period = cols.pop("period", None)
    start, end = cols.get("start_date"), cols.get("end_date")
    if start and end:
        if start > end:
            out.issues.append(Issue("start_date", f"{start} / {end}", "start_after_end"))
            cols["start_date"] = cols["end_date"] = None
        else:
            cols["period_precision"] = "day"
        if period and (period.start, period.end) != (start, end) and period.precision == "day":
            out.issues.append(
                Issue(
                    "period",
                    f"{period.start} - {period.end}",
                    "conflicting_values",
                    "warning",
                    "Startdatum/Slutdatum kept over Projektperiod",
                )
            )
    elif period:
        if (start and start != period.start) or (end and end != period.end):
            out.issues.append(
                Issue(
                    "period",
                    f"{period.start} - {period.end}",
                    "conflicting_values",
                    "warning",
                    "Projektperiod kept over a single explicit date",
                )
            )
        cols["start_date"], cols["end_date"], cols["period_precision"] = period.start, period.end, period.precision
    elif start or end:
        cols["period_precision"] = "day"

    # Programme period: the page's own label, then the CCI number, then the project number's shape.
    by_cci = codes()["programme_cci"].get(cols.get("programme_cci", ""))
    if cols.get("programme_cci") and not by_cci:
        out.issues.append(Issue("programme_cci", cols["programme_cci"], "unknown_code", "warning"))
    by_number = _period_of_number(cols.get("project_number") or "")
    labelled = cols.pop("programme_period_label", None)
    candidates = [p for p in (labelled, by_cci, by_number) if p]
    if candidates:
        cols["programme_period"] = candidates[0]
        if len(set(candidates)) > 1:
            out.issues.append(Issue("programme_period", " / ".join(candidates), "conflicting_values", "warning"))
    else:
        cols["programme_period"] = _family_periods().get(family)

    _region(cols, out)
    _code_names(cols, out)
    if postcode := cols.get("postal_code"):
        municipality = lookup_postcode(postcode)
        if municipality:
            cols["postal_municipality_code"] = municipality.code
        else:
            out.issues.append(Issue("postal_code", postcode, "unknown_postcode", "info"))
    if owner := cols.get("owner"):
        cols["owner_readable"] = v.readable_name(owner)
    budget, grant = cols.get("total_budget_sek"), cols.get("esf_grant_sek")
    if budget and grant is not None and budget > 0:
        # Reported next to the decided rate, never instead of it (the rate is the EU share as decided).
        cols["grant_share_of_budget"] = (grant / budget).quantize(Decimal("0.000001"))
    return out


@functools.cache
def _family_periods() -> dict[str, str | None]:
    """Each family's programme period (parsers/data/families/<family>.toml), for pages that tell none."""
    return {name: block.get("programme_period") or None for name, block in vocabulary()["families"].items()}


def _period_of_number(number: str) -> str | None:
    """``22-025-S02`` is ESF+; ``2016/00418`` belongs to the period its year falls in."""
    if re.fullmatch(r"\d{2}-\d{3}-S\d{2}", number):
        return "2021-2027"
    if match := re.fullmatch(r"(\d{4})/\d{5}", number):
        year = int(match[1])
        return "2014-2020" if 2014 <= year <= 2020 else "2007-2013" if 2007 <= year <= 2013 else None
    return None


def _region(cols: dict[str, Any], out: Normalised) -> None:
    printed = cols.get("region")
    if not printed:
        return
    region = lookup_region(printed)
    if region is None:
        out.issues.append(Issue("region", printed, "unknown_region", "warning", "kept as printed, no NUTS-2 code"))
        return
    cols["region_name"] = region.name
    cols["national"] = region.national
    if region.nuts2:
        if cols.get("region_nuts2") and cols["region_nuts2"] != region.nuts2:
            out.issues.append(
                Issue(
                    "region_nuts2",
                    cols["region_nuts2"],
                    "conflicting_values",
                    "warning",
                    f"region {printed!r} is {region.nuts2}; the page's NUTS-2 code is kept",
                )
            )
        cols.setdefault("region_nuts2", region.nuts2)


def _code_names(cols: dict[str, Any], out: Normalised) -> None:
    period = cols.get("programme_period")
    lists = codes()
    for column, table in (
        ("programme_area", "programme_areas"),
        ("specific_objective", "specific_objectives"),
        ("intervention_code", "intervention_codes"),
    ):
        code = cols.get(column)
        if not code or not period:
            continue
        names = lists[table].get(period, {})
        name = names.get(code) or (names.get(code[:2]) if table == "specific_objectives" else None)
        if name:
            cols[f"{column}_name"] = name
        else:
            out.issues.append(Issue(column, code, "unknown_code", "warning", f"no name known for {period}"))
