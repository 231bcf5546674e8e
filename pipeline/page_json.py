"""One page's parse as JSON (``esf-pipeline parse``): what parse_page makes of it, with the rules the tables
follow for what is published (a personal identity number is never shown; without personal data, contacts
and contact values are left out as in a run with ``--without-personal-data``)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from parsers.fields import Issue
from parsers.page import PageResult, ProjectRecord
from pipeline.rows import personal, withheld


def page_document(result: PageResult, url: str, personal_data: bool = True) -> dict[str, Any]:
    """The page as one JSON-ready dict: kind, family, its records, page-level issues, announcements."""
    return {
        "url": url,
        "kind": result.kind,
        "family": result.family,
        "title": result.title,
        "encoding": result.encoding,
        "records": [_record(record, personal_data) for record in result.records],
        "issues": [_issue(issue, personal_data) for issue in result.issues],
        "announcements": result.announcements,
        # A page that gives no project: its links (address, text), what a crawl would look at.
        "links": [{"url": url, "text": text} for url, text in result.links],
    }


def _record(record: ProjectRecord, personal_data: bool) -> dict[str, Any]:
    raw_fields = [
        {"field": f.field, "label": f.label, "raw": f.raw}
        for f in record.raw_fields
        if not withheld(f.field, f.raw) and (personal_data or not personal(f.field, f.raw))
    ]
    extra = (
        record.extra_fields
        if personal_data
        else {label: None if personal(None, value) else value for label, value in record.extra_fields.items()}
    )
    document = {
        "project_id": record.project_id,
        "page_family": record.page_family,
        "source_url": record.source_url,
        "columns": record.columns,
        "raw_fields": raw_fields,
        "extra_fields": extra,
        "sections": [
            {"heading": s.heading, "kind": s.kind, "language": getattr(s, "language", "sv"), "text": s.text}
            for s in record.sections
        ],
        "municipalities": record.municipalities,
        "contacts": record.contacts,
        "issues": [_issue(issue, personal_data) for issue in record.issues],
    }
    if not personal_data:
        del document["contacts"]
    return document


def _issue(issue: Issue, personal_data: bool) -> dict[str, Any]:
    row = dataclasses.asdict(issue)
    if not personal_data and personal(issue.field, issue.raw_value):
        row["raw_value"] = None
        row["note"] = f"{issue.note or ''} (value left out: personal data)".lstrip()
    return row


def _plain(value: Any) -> Any:
    """Exact values as strings: a Decimal keeps its digits (``"1000000.00"``), a date its ISO form."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, default=_plain, ensure_ascii=False, indent=2)
