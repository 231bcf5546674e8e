"""Parsed pages -> rows of the output tables."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from parsers.lookups import personal_fields, vocabulary
from parsers.values import WITHHELD_PROBLEMS, looks_like_contact_data, parse_org_number
from pipeline.codec import TableRow
from pipeline.pages import FetchedPage, ParsedPage
from pipeline.schema import GRANT_ANNOUNCEMENTS, PROJECTS

if TYPE_CHECKING:
    from parsers.page import PageResult, ProjectRecord

_RAW_COLUMNS = {
    "total_budget_sek": "total_budget_sek",
    "esf_grant_sek": "esf_grant_sek",
    "period": "period",
    "eu_cofinancing_rate": "eu_cofinancing_rate",
    "planned_participants": "planned_participants",
}


@dataclass
class Rows:
    """The rows one page's content gives, by table."""

    projects: list[Annotated[dict[str, Any], TableRow("projects")]] = field(default_factory=list)
    project_contacts: list[Annotated[dict[str, Any], TableRow("project_contacts")]] = field(default_factory=list)
    project_sections: list[Annotated[dict[str, Any], TableRow("project_sections")]] = field(default_factory=list)
    project_municipalities: list[Annotated[dict[str, Any], TableRow("project_municipalities")]] = field(
        default_factory=list
    )
    project_fields: list[Annotated[dict[str, Any], TableRow("project_fields")]] = field(default_factory=list)
    parse_issues: list[Annotated[dict[str, Any], TableRow("parse_issues")]] = field(default_factory=list)
    # A press release's announcements; project_id is null here (filled by linking them to the run's projects).
    grant_announcements: list[Annotated[dict[str, Any], TableRow("grant_announcements")]] = field(default_factory=list)


@dataclass
class CacheEntry:
    """One entry of the parse cache: what a parse of one content gave, and its rows."""

    summary: ParsedPage
    rows: Rows


def page_row(
    page: FetchedPage,
    kind: str | None,
    family: str | None,
    records: int,
    encoding: str | None,
    error: str | None = None,
    parsed: bool = False,
) -> dict[str, Any]:
    return {
        "url": page.url,
        "source": page.source,
        "page_key": page.key,
        "via": page.via,
        "redirect_to": page.redirect_to,
        "status": page.status,
        "fetched_at": page.fetched_at,
        "content_sha256": page.content_sha256,
        "content_type": page.content_type,
        "encoding": encoding,
        "page_kind": kind,
        "page_family": family,
        "records": records,
        "error": error or page.error,
        "fetch_outcome": page.outcome,
        "parsed_in_run": parsed,
    }


def content_rows(result: PageResult, url: str) -> Rows:
    """The rows a page's content gives (everything but its pages row): what the parse cache keeps."""
    rows = Rows()
    for issue in result.issues:
        rows.parse_issues.append(
            {
                "url": url,
                "field": issue.field,
                "raw_value": issue.raw_value,
                "problem": issue.problem,
                "severity": issue.severity,
                "note": issue.note,
            }
        )
    for record in result.records:
        _record_rows(record, rows)
    rows.grant_announcements.extend(
        {name: announcement.get(name) for name in GRANT_ANNOUNCEMENTS.column_names} | {"source_url": url}
        for announcement in result.announcements
    )
    return rows


def withheld(field: str | None, raw: str | None) -> bool:
    """A raw value that is never published: a personal identity number under an organisation-number label
    (a sole trader's). Its issue row says so, without the value."""
    if field is None or vocabulary()["fields"].get(field, {}).get("kind") != "org_number":
        return False
    return parse_org_number(raw).problem in WITHHELD_PROBLEMS


def personal(field: str | None, raw: Any) -> bool:
    """Personal data, left out of a run without it: a contact field's value, or an e-mail address or phone
    number under any other label (one the vocabulary does not know, say ``Mobil 2``)."""
    return field in personal_fields() or (isinstance(raw, str) and looks_like_contact_data(raw))


def issue_row(
    url: str, problem: str, note: str | None, severity: str = "error", raw_value: str | None = None
) -> dict[str, Any]:
    return {"url": url, "problem": problem, "severity": severity, "raw_value": raw_value, "note": note}


def _record_rows(record: ProjectRecord, rows: Rows) -> None:
    pid = record.project_id
    cols = dict(record.columns)
    rate = cols.get("eu_cofinancing_rate")
    cols["eu_cofinancing_rate"] = float(rate) if isinstance(rate, Decimal) else rate
    project = {name: cols.get(name) for name in PROJECTS.column_names}
    project.update(
        project_id=pid,
        page_family=record.page_family,
        source_url=record.source_url,
        extra_fields=json.dumps(record.extra_fields, ensure_ascii=False) if record.extra_fields else None,
    )
    for f in record.raw_fields:
        if f.field in _RAW_COLUMNS and project.get(f"{_RAW_COLUMNS[f.field]}_raw") is None and f.raw:
            project[f"{_RAW_COLUMNS[f.field]}_raw"] = f.raw
    rows.projects.append(project)
    rows.project_contacts.extend({"project_id": pid, **c} for c in record.contacts)
    rows.project_sections.extend(
        {
            "project_id": pid,
            "position": n,
            "heading": s.heading,
            "kind": s.kind,
            "language": getattr(s, "language", "sv"),
            "text": s.text,
        }
        for n, s in enumerate(record.sections)
    )
    rows.project_municipalities.extend({"project_id": pid, **m} for m in record.municipalities)
    rows.project_fields.extend(
        {"project_id": pid, "position": n, "field": f.field, "label": f.label, "raw_value": f.raw}
        for n, f in enumerate(record.raw_fields)
        if not withheld(f.field, f.raw)
    )
    rows.parse_issues.extend(
        {
            "url": record.source_url,
            "project_id": pid,
            "field": i.field,
            "raw_value": i.raw_value,
            "problem": i.problem,
            "severity": i.severity,
            "note": i.note,
        }
        for i in record.issues
    )
