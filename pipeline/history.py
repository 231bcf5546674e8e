"""Project history between runs: first/last seen, changes field by field, removals."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc

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


class History:
    """Fills the history columns of this run's projects, batch by batch, against the previous run's
    projects table (kept as Arrow: compact, and only the rows a batch needs become Python objects)."""

    def __init__(self, previous: pa.Table | None, seen_ids: set[str], removed_ids: set[str], now: datetime) -> None:
        self.previous = previous
        self.index = {pid: n for n, pid in enumerate(previous.column("project_id").to_pylist())} if previous is not None else {}
        self.seen_ids, self.removed_ids, self.now = seen_ids, removed_ids, now
        self.current_ids: set[str] = set()
        self._id_arrays: tuple[pa.Array, pa.Array] | None = None  # removed and seen ids, for Arrow lookups

    def _old(self, pids: list[str]) -> dict[str, dict[str, Any]]:
        positions = [self.index[pid] for pid in pids if pid in self.index]
        if not positions or self.previous is None:
            return {}
        return {row["project_id"]: row for row in self.previous.take(positions).to_pylist()}

    def apply(self, projects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Set the history columns of ``projects`` in place; returns the changes seen."""
        before = self._old([p["project_id"] for p in projects])
        changes: list[dict[str, Any]] = []
        now = self.now
        for project in projects:
            pid = project["project_id"]
            old = before.get(pid)
            changed = False
            # Plain equality first (most projects did not change); field by field only when it differs.
            if old is not None and any(old.get(f) != project.get(f) for f in TRACKED):
                for field in TRACKED:
                    if _comparable(old.get(field)) != _comparable(project.get(field)):
                        changed = True
                        changes.append({"project_id": pid, "field": field, "old_value": _text(old.get(field)),
                                        "new_value": _text(project.get(field)), "observed_at": now})
            project.update(self._history(pid, old, changed, changes))
        return changes

    def apply_unchanged(self, rows: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
        """Rows of the previous table whose content did not change in this run: the same values, with
        only the history columns brought up to date. This is ``_history``'s rule for a project that has
        an old row and did not change, column by column in Arrow (a twentieth of the time of the row
        by row rule; tests/test_scale.py holds the two equal)."""
        pids = rows.column("project_id")
        self.current_ids.update(pids.to_pylist())
        if self._id_arrays is None:  # once per run, not per batch
            self._id_arrays = (pa.array(list(self.removed_ids), pa.string()), pa.array(list(self.seen_ids), pa.string()))
        removed = pc.is_in(pids, value_set=self._id_arrays[0])
        seen = pc.is_in(pids, value_set=self._id_arrays[1])
        old_status = rows.column("status")
        status = pc.if_else(removed, "removed", "active")
        was_removed = pc.fill_null(pc.equal(old_status, "removed"), False)
        today = pa.scalar(self.now.date(), PROJECTS.schema.field("removed_at").type)
        now = pa.scalar(self.now, PROJECTS.schema.field("last_seen_at").type)
        new_columns = {
            "status": status,
            "removed_at": pc.coalesce(pc.if_else(was_removed, rows.column("removed_at"), pa.scalar(None, today.type)),
                                      pc.if_else(removed, today, pa.scalar(None, today.type))),
            "last_seen_at": pc.if_else(seen, now, rows.column("last_seen_at")),
        }  # first_seen_at and last_changed_at stay as they were
        for name, values in new_columns.items():
            field = PROJECTS.schema.field(name)
            rows = rows.set_column(rows.schema.get_field_index(name), field, values.cast(field.type))
        moved = pc.invert(pc.fill_null(pc.equal(old_status, status), False))
        changes = [{"project_id": pid, "field": "status", "old_value": old, "new_value": new, "observed_at": self.now}
                   for pid, old, new in zip(pc.filter(pids, moved).to_pylist(), pc.filter(old_status, moved).to_pylist(),
                                            pc.filter(status, moved).to_pylist())]
        return rows, changes

    def _history(self, pid: str, old: dict[str, Any] | None, changed: bool, changes: list[dict[str, Any]]) -> dict[str, Any]:
        """One project's history columns in this run (appending its status change to ``changes``)."""
        self.current_ids.add(pid)
        now = self.now
        removed = pid in self.removed_ids
        status = "removed" if removed else "active"
        if old is not None and old.get("status") != status:
            changes.append({"project_id": pid, "field": "status", "old_value": old.get("status"),
                            "new_value": status, "observed_at": now})
        return dict(
            status=status,
            removed_at=(old.get("removed_at") if old is not None and old.get("status") == "removed" else None)
            or (now.date() if removed else None),
            first_seen_at=old.get("first_seen_at") if old is not None else now,
            last_seen_at=now if pid in self.seen_ids else (old.get("last_seen_at") if old is not None else None),
            last_changed_at=now if (old is None or changed) else old.get("last_changed_at"),
        )

    def vanished(self, batch_size: int = 2000) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        """Previous projects with no trace in this run (no page state left): their last known rows,
        marked removed, with the status changes."""
        if self.previous is None:
            return
        gone = [n for pid, n in self.index.items() if pid not in self.current_ids]
        for start in range(0, len(gone), batch_size):
            rows, changes = self.previous.take(gone[start:start + batch_size]).to_pylist(), []
            for row in rows:
                if row.get("status") != "removed":
                    changes.append({"project_id": row["project_id"], "field": "status", "old_value": row.get("status"),
                                    "new_value": "removed", "observed_at": self.now})
                    row.update(status="removed", removed_at=self.now.date())
            yield rows, changes

