"""The organisations table: one row per organisation number a project page or the official export gives for
a project owner. Pure: rows of projects and operations in, rows of organisations and issues out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from parsers import values as v
from parsers.text import one_line

_ÖRE = Decimal("0.01")
# The columns of projects and operations build_organisations reads.
PROJECT_COLUMNS = ("project_id", "project_number", "owner", "owner_org_number", "esf_grant_sek", "source_url")
OPERATION_COLUMNS = ("project_id", "owner", "owner_org_number", "eu_contribution_sek", "export_source")


@dataclass
class _Organisation:
    names: Counter = field(default_factory=Counter)  # name as printed -> times printed (insertion order = first seen)
    projects: set[str] = field(default_factory=set)  # project numbers (or ids) counted
    project_ids: set[str] = field(default_factory=set)
    grant: Decimal = Decimal(0)
    grant_projects: int = 0
    contribution: Decimal = Decimal(0)
    contribution_projects: int = 0
    first_seen: str = ""  # url of the first row that gave the number (for its issues)


def _issue(url: str, problem: str, severity: str, raw: str | None, note: str, project_id: str | None) -> dict[str, Any]:
    return {
        "url": url,
        "project_id": project_id,
        "field": "owner_org_number",
        "raw_value": raw,
        "problem": problem,
        "severity": severity,
        "note": note,
    }


def _checked(number: Any, url: str, project_id: str | None, issues: list[dict[str, Any]]) -> str | None:
    """The number when it is a valid organisation number; otherwise None and an issue (without the value
    when it is, or may be, a personal identity number)."""
    digits = one_line(str(number)) if number is not None else ""
    if not digits:
        return None
    if v.valid_org_number(digits):
        return digits
    if len(digits) != 10 or not digits.isdigit() or digits[2] < "2":
        personal = v.is_personal_identity_number(digits)
        issues.append(
            _issue(
                url,
                v.PERSONAL_IDENTITY_NUMBER if personal else "not_an_org_number",
                "warning",
                None,
                (
                    "a personal identity number (a sole trader's): not published"
                    if personal
                    else "not ten digits of an organisation number; value withheld"
                )
                + "; no organisations row",
                project_id,
            )
        )
        return None
    issues.append(
        _issue(
            url,
            "org_number_invalid",
            "warning",
            digits,
            "Luhn check digit does not match: no organisations row",
            project_id,
        )
    )
    return None


def build_organisations(
    projects: Iterable[dict[str, Any]], operations: Iterable[dict[str, Any]] = ()
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(organisations rows sorted by number, issue rows).

    ``projects``: rows of projects (``project_id``, ``project_number``, ``owner``, ``owner_org_number``,
    ``esf_grant_sek``, ``source_url``); ``operations``: rows of operations (``project_id``, ``owner``,
    ``owner_org_number``, ``eu_contribution_sek``, ``export_source``). Each source's amount counts under the
    number that source gives: a page's grant under the page's number, the export's EU contribution under
    the export's. A project is one project across both sources by its project number (the page's
    ``project_number``, the export's Diarienummer), so ``project_count`` counts it once per number. Names are
    kept as printed (white space folded), pages first. Numbers that are not valid organisation numbers are
    issues, never rows; a personal identity number is never repeated, in a row or an issue."""
    issues: list[dict[str, Any]] = []
    found: dict[str, _Organisation] = {}
    by_number: dict[str, str] = {}  # project number -> the page's project_id

    def add(number: str, url: str, key: str, pid: str, name: Any) -> _Organisation:
        org = found.setdefault(number, _Organisation(first_seen=url))
        if printed := one_line(name):
            org.names[printed] += 1
        org.projects.add(key)
        org.project_ids.add(pid)
        return org

    for project in projects:
        pid = project.get("project_id")
        key = project.get("project_number") or pid
        if pid is None:
            continue
        by_number.setdefault(key, pid)
        url = project.get("source_url") or ""
        number = _checked(project.get("owner_org_number"), url, pid, issues)
        if number is None:
            continue
        org = add(number, url, key, pid, project.get("owner"))
        if project.get("esf_grant_sek") is not None:
            org.grant += Decimal(project["esf_grant_sek"])
            org.grant_projects += 1
    for operation in operations:
        key = operation.get("project_id")
        if key is None:
            continue
        url = operation.get("export_source") or "export"
        number = _checked(operation.get("owner_org_number"), url, key, issues)
        if number is None:
            continue
        org = add(number, url, key, by_number.get(key, key), operation.get("owner"))
        if operation.get("eu_contribution_sek") is not None:
            org.contribution += Decimal(operation["eu_contribution_sek"])
            org.contribution_projects += 1

    rows = []
    for number in sorted(found):
        org = found[number]
        code, group = v.legal_form_group(number)
        if group is None:
            issues.append(
                _issue(
                    org.first_seen,
                    "unassigned_legal_form",
                    "warning",
                    number,
                    f"first digit {code} names no group of legal forms (0 and 4 are not assigned)",
                    None,
                )
            )
        names = list(org.names)
        rows.append(
            {
                "org_number": number,
                "name": max(names, key=lambda n: (org.names[n], -names.index(n))) if names else None,
                "names": names,
                "legal_form_code": code,
                "legal_form_group": group,
                "project_count": len(org.projects),
                "esf_grant_sek": org.grant.quantize(_ÖRE) if org.grant_projects else None,
                "esf_grant_projects": org.grant_projects,
                "eu_contribution_sek": org.contribution.quantize(_ÖRE) if org.contribution_projects else None,
                "eu_contribution_projects": org.contribution_projects,
                "project_ids": sorted(org.project_ids),
            }
        )
    return rows, issues


def export_org_numbers(projects: Iterable[dict[str, Any]], operations: Iterable[dict[str, Any]]) -> dict[str, str]:
    """project_id -> organisation number, for the projects whose page gives no number and whose export row
    (matched by project number) gives a valid one: what ``projects.owner_org_number`` can be filled with.
    A page's own number is never replaced (a disagreement is a row of project_discrepancies)."""
    from_export = {
        op["project_id"]: op["owner_org_number"]
        for op in operations
        if op.get("project_id") and v.valid_org_number(op.get("owner_org_number"))
    }
    return {
        p["project_id"]: from_export[p["project_number"]]
        for p in projects
        if p.get("project_id") and not p.get("owner_org_number") and p.get("project_number") in from_export
    }
