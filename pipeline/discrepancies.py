"""project_discrepancies: where the official export and the project pages disagree. Pure: rows of projects
and operations in, rows of project_discrepancies and a summary out; ``sources_agree`` turns the summary
into a (non-blocking) check outcome.

Equality, field by field (a value one source leaves empty is never a disagreement):
- money (``total_budget_sek``; ``esf_grant_sek`` against the export's ``eu_contribution_sek``): exact decimals,
  so ``4973906`` equals ``4973906.00``;
- ``eu_cofinancing_rate``: exact fractions; the page's rate is a double made from the printed percentage, read
  back through its shortest decimal form (0.9 -> Decimal("0.9")), the export's an exact decimal;
- ``start_date``, ``end_date``: dates; a page period printed to the month or the year (``period_precision``)
  agrees with any export date in that month or year;
- ``owner``: names with case, white space, quotes, dashes and a final full stop not counting
  (``parsers.press_release.match_key``): ``UPPSALA KOMMUN`` equals ``Uppsala kommun``; nothing else is forgiven
  (``Region Värmland, Regionens kansli`` differs from ``Region Värmland``);
- ``owner_org_number``, ``specific_objective``: the normalised strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Iterable

from parsers.press_release import match_key
from pipeline.checks import CheckOutcome

PRESENCE = "presence"
# (column of projects, column of operations)
COMPARED: tuple[tuple[str, str], ...] = (
    ("total_budget_sek", "total_budget_sek"),
    ("esf_grant_sek", "eu_contribution_sek"),
    ("eu_cofinancing_rate", "eu_cofinancing_rate"),
    ("start_date", "start_date"),
    ("end_date", "end_date"),
    ("owner", "owner"),
    ("owner_org_number", "owner_org_number"),
    ("specific_objective", "specific_objective"),
)
# Where projects keeps a field's text as printed.
_PAGE_RAW = {
    "total_budget_sek": "total_budget_sek_raw",
    "esf_grant_sek": "esf_grant_sek_raw",
    "eu_cofinancing_rate": "eu_cofinancing_rate_raw",
    "start_date": "period_raw",
    "end_date": "period_raw",
    "owner": "owner",
}

# The columns of projects the comparison reads: what an assembler that writes projects in batches keeps of each row.
PROJECT_COLUMNS = tuple(
    dict.fromkeys(
        (
            "project_id",
            "project_number",
            "page_family",
            "programme_period",
            "status",
            "source_url",
            "period_precision",
            *(page for page, _ in COMPARED),
            *_PAGE_RAW.values(),
        )
    )
)


def _money(value: Any) -> Decimal:
    return Decimal(value)


def _fraction(value: Any) -> Decimal:
    # A double goes through its shortest repr: 0.4958 -> Decimal("0.4958"), not the binary expansion.
    return value if isinstance(value, Decimal) else Decimal(repr(float(value)))


def _text_of(field: str, value: Any) -> str:
    if field in ("total_budget_sek", "esf_grant_sek"):
        return f"{_money(value):.2f}"
    if field == "eu_cofinancing_rate":
        fraction = _fraction(value).normalize()
        return format(fraction, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _same_money(page: Any, export: Any, _: dict[str, Any]) -> tuple[bool, str | None]:
    return _money(page) == _money(export), None


def _same_rate(page: Any, export: Any, _: dict[str, Any]) -> tuple[bool, str | None]:
    return _fraction(page) == _fraction(export), None


def _same_date(page: date, export: date, project: dict[str, Any]) -> tuple[bool, str | None]:
    precision = project.get("period_precision") or "day"
    if precision == "year":
        return page.year == export.year, "the page prints the period to the year"
    if precision == "month":
        return (page.year, page.month) == (export.year, export.month), "the page prints the period to the month"
    return page == export, None


def _same_owner(page: str, export: str, _: dict[str, Any]) -> tuple[bool, str | None]:
    return match_key(page) == match_key(export), None


def _same_text(page: Any, export: Any, _: dict[str, Any]) -> tuple[bool, str | None]:
    return str(page).strip() == str(export).strip(), None


_EQUAL: dict[str, Callable[[Any, Any, dict[str, Any]], tuple[bool, str | None]]] = {
    "total_budget_sek": _same_money,
    "esf_grant_sek": _same_money,
    "eu_cofinancing_rate": _same_rate,
    "start_date": _same_date,
    "end_date": _same_date,
    "owner": _same_owner,
    "owner_org_number": _same_text,
    "specific_objective": _same_text,
}
_NOTES = {
    "esf_grant_sek": "the page's Beviljat ESF-stöd against the export's EU contribution: the page's grant may "
    "include the Swedish state co-financing paid out with it"
}


@dataclass
class Summary:
    compared: int  # projects in both sources
    disagreeing: int  # of those, projects with at least one value that differs
    only_on_pages: int
    only_in_export: int
    by_field: dict[str, int]  # field -> projects that differ on it

    @property
    def share(self) -> float | None:
        return self.disagreeing / self.compared if self.compared else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "disagreeing": self.disagreeing,
            "share": self.share,
            "only_on_pages": self.only_on_pages,
            "only_in_export": self.only_in_export,
            "by_field": self.by_field,
        }


def _in_scope(project: dict[str, Any], periods: set[str]) -> bool:
    """A page project the export could list: one of esf.se's project bank (a project number, an esf_ family)
    of a programme period the export covers (every period, when the export shows none)."""
    if not project.get("project_number") or not str(project.get("page_family") or "").startswith("esf_"):
        return False
    return not periods or project.get("programme_period") in periods


def project_discrepancies(
    projects: Iterable[dict[str, Any]], operations: Iterable[dict[str, Any]]
) -> tuple[list[dict[str, Any]], Summary]:
    """(rows of project_discrepancies, summary). ``projects``: rows of projects as published (page values);
    ``operations``: rows of operations. A page project and an export row are the same project when the
    page's ``project_number`` is the export's Diarienummer (``operations.project_id``). Presence rows: an
    export row no page project has, and a page project of esf.se's project bank, of a programme period the
    export covers (``operations.programme_period``), that the export does not list."""
    operations = list(operations)
    by_number = {op["project_id"]: op for op in operations if op.get("project_id")}
    periods = {op["programme_period"] for op in operations if op.get("programme_period")}
    rows: list[dict[str, Any]] = []
    matched: set[str] = set()
    compared = disagreeing = only_on_pages = 0
    by_field: dict[str, int] = {}
    for project in projects:
        number = project.get("project_number")
        op = by_number.get(number) if number else None
        if op is None:
            if _in_scope(project, periods):
                only_on_pages += 1
                removed = project.get("status") == "removed"
                rows.append(
                    _row(
                        project["project_id"],
                        PRESENCE,
                        "present",
                        "absent",
                        None,
                        None,
                        project.get("source_url"),
                        None,
                        "on a page, not in the export" + (" (the project is removed from the site)" if removed else ""),
                    )
                )
            continue
        matched.add(number)
        compared += 1
        differs = False
        for page_field, export_field in COMPARED:
            page, export = project.get(page_field), op.get(export_field)
            if page is None or export is None or page == "" or export == "":
                continue
            same, precision_note = _EQUAL[page_field](page, export, project)
            if same:
                continue
            differs = True
            by_field[page_field] = by_field.get(page_field, 0) + 1
            note = "; ".join(n for n in (_NOTES.get(page_field), precision_note) if n) or None
            rows.append(
                _row(
                    project["project_id"],
                    page_field,
                    _text_of(page_field, page),
                    _text_of(page_field, export),
                    _page_raw(project, page_field),
                    op.get(f"{export_field}_raw", op.get(export_field)),
                    project.get("source_url"),
                    op.get("source_line"),
                    note,
                )
            )
        disagreeing += differs
    only_in_export = 0
    for number, op in by_number.items():
        if number not in matched:
            only_in_export += 1
            rows.append(
                _row(
                    number,
                    PRESENCE,
                    "absent",
                    "present",
                    None,
                    None,
                    None,
                    op.get("source_line"),
                    "in the export, on no page read",
                )
            )
    return rows, Summary(compared, disagreeing, only_on_pages, only_in_export, by_field)


def _page_raw(project: dict[str, Any], field: str) -> str | None:
    column = _PAGE_RAW.get(field)
    return project.get(column) if column else None


def _row(
    project_id: str,
    field: str,
    page_value: str | None,
    export_value: str | None,
    page_raw: str | None,
    export_raw: str | None,
    source_url: str | None,
    export_line: int | None,
    note: str | None,
) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "field": field,
        "page_value": page_value,
        "export_value": export_value,
        "page_raw": page_raw,
        "export_raw": export_raw,
        "source_url": source_url,
        "export_line": export_line,
        "note": note,
    }


def sources_agree(summary: Summary, max_share: float = 0.1) -> CheckOutcome:
    """A non-blocking check: at most ``max_share`` of the projects in both sources disagree on a value.
    Its failures carry the counts (and the share) whatever the outcome."""
    share = summary.share
    passed = share is None or share <= max_share
    return CheckOutcome(
        "sources_agree",
        passed,
        False,
        f"at most {max_share:.0%} of the projects in both the export and the pages disagree on a value "
        "(budget, grant, rate, start, end, owner, organisation number, specific objective)",
        [summary.as_dict()],
    )
