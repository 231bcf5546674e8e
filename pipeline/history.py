"""Project history between runs: first/last seen, changes field by field, removals."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pipeline.schema import PROJECTS

HISTORY_COLUMNS = ("status", "removed_at", "first_seen_at", "last_seen_at", "last_changed_at")
# source_url may differ between two addresses of one page (demo ports); it is not a project value.
TRACKED = [c for c in PROJECTS.column_names if c not in HISTORY_COLUMNS + ("project_id", "source_url")]


def _comparable(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN from pandas
        return None
    if isinstance(value, Decimal):
        return value.normalize()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _text(value: Any) -> str | None:
    value = _comparable(value)
    return None if value is None else str(value)


def apply_history(projects: list[dict[str, Any]], previous: list[dict[str, Any]], seen_ids: set[str],
                  removed_ids: set[str], now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Fill the history columns of this run's projects and list what changed since ``previous``."""
    before = {p["project_id"]: p for p in previous}
    changes: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    current_ids = set()
    for project in projects:
        pid = project["project_id"]
        current_ids.add(pid)
        old = before.get(pid)
        removed = pid in removed_ids
        changed = False
        if old is not None:
            for field in TRACKED:
                if _comparable(old.get(field)) != _comparable(project.get(field)):
                    changed = True
                    changes.append({"project_id": pid, "field": field, "old_value": _text(old.get(field)),
                                    "new_value": _text(project.get(field)), "observed_at": now})
        status = "removed" if removed else "active"
        if old is not None and old.get("status") != status:
            changes.append({"project_id": pid, "field": "status", "old_value": old.get("status"),
                            "new_value": status, "observed_at": now})
        project.update(
            status=status,
            removed_at=(old.get("removed_at") if old is not None and old.get("status") == "removed" else None)
            or (now.date() if removed else None),
            first_seen_at=old.get("first_seen_at") if old is not None else now,
            last_seen_at=now if pid in seen_ids else (old.get("last_seen_at") if old is not None else None),
            last_changed_at=now if (old is None or changed) else old.get("last_changed_at"),
        )
        out.append(project)
    for pid, old in before.items():
        if pid not in current_ids:
            # Gone without a trace in this run (no page state left): keep the last known row.
            row = dict(old)
            if row.get("status") != "removed":
                changes.append({"project_id": pid, "field": "status", "old_value": row.get("status"),
                                "new_value": "removed", "observed_at": now})
                row.update(status="removed", removed_at=now.date())
            out.append(row)
    return out, changes
