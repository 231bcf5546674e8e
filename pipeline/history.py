"""Project history between runs: first/last seen, changes field by field, statuses that need proof.

The status rule, the same for every project of the previous table and of this run:
- removed in this run (``removed_ids``: a page proved it gone, and no page gives it any more) -> removed,
  ``removed_at`` the day it was first found removed;
- seen in this run (a page read in full, or answering 304, gives it) -> active, ``removed_at`` cleared;
- otherwise the status stays as it was (a failed page, a partial crawl, a source not crawled: no proof
  either way). A project of the previous table that no page of this run gives keeps its last row.
Every status change and every changed value is a row of ``project_changes``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.schema import PROJECTS, arrow_type

HISTORY_COLUMNS = ("status", "removed_at", "first_seen_at", "last_seen_at", "last_changed_at")
# Not values of the project: the identity, and which source's crawl read it.
UNTRACKED = HISTORY_COLUMNS + ("project_id", "source")
ACTIVE, REMOVED = "active", "removed"


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
    if isinstance(value, Decimal):
        return format(value, "f")  # 1000000, not 1E+6
    return None if value is None else str(value)


def conform(table: pa.Table, renames: dict[str, str] | None = None) -> pa.Table:
    """A projects table of any earlier version in this version's schema: columns it lacks are null
    (a new column is not a change), ids renamed where the id scheme changed."""
    columns = []
    for field in PROJECTS.schema:
        if field.name in table.schema.names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    if renames:
        ids = [renames.get(pid, pid) for pid in table.column("project_id").to_pylist()]
        columns[PROJECTS.schema.get_field_index("project_id")] = pa.array(ids, pa.string())
    return pa.Table.from_arrays(columns, schema=PROJECTS.schema)


class History:
    """Fills the history columns of this run's projects, batch by batch, against the previous run's
    projects table (kept as Arrow: compact, and only the rows a batch needs become Python objects)."""

    def __init__(
        self,
        previous: pa.Table | None,
        seen_ids: set[str],
        removed_ids: set[str],
        now: datetime,
        renames: dict[str, str] | None = None,
    ) -> None:
        # Values are compared only in columns the previous table had: a new column is not a change.
        self.tracked = [
            c for c in PROJECTS.column_names if c not in UNTRACKED and (previous is None or c in previous.schema.names)
        ]
        self.renames = renames or {}
        self.previous = conform(previous, renames) if previous is not None else None
        self.index = (
            {pid: n for n, pid in enumerate(self.previous.column("project_id").to_pylist())}
            if self.previous is not None
            else {}
        )
        self.seen_ids, self.removed_ids, self.now = seen_ids, removed_ids, now
        self.current_ids: set[str] = set()
        self._id_arrays: tuple[pa.Array, pa.Array] | None = None  # removed and seen ids, for Arrow lookups
        self.rename_changes = [
            {"project_id": new, "field": "project_id", "old_value": old, "new_value": new, "observed_at": now}
            for old, new in sorted((renames or {}).items())
            if new in self.index
        ]

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
            if old is not None and any(old.get(f) != project.get(f) for f in self.tracked):
                for field in self.tracked:
                    if _comparable(old.get(field)) != _comparable(project.get(field)):
                        changed = True
                        changes.append(
                            {
                                "project_id": pid,
                                "field": field,
                                "old_value": _text(old.get(field)),
                                "new_value": _text(project.get(field)),
                                "observed_at": now,
                            }
                        )
            project.update(self._history(pid, old, changed, changes))
        return changes

    def _status(self, pid: str, old_status: str | None) -> str:
        if pid in self.removed_ids:
            return REMOVED
        if pid in self.seen_ids:
            return ACTIVE
        return old_status or ACTIVE

    def _history(
        self, pid: str, old: dict[str, Any] | None, changed: bool, changes: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """One project's history columns in this run (appending its status change to ``changes``)."""
        self.current_ids.add(pid)
        now = self.now
        old_status = old.get("status") if old is not None else None
        status = self._status(pid, old_status)
        if old is not None and old_status != status:
            changes.append(
                {"project_id": pid, "field": "status", "old_value": old_status, "new_value": status, "observed_at": now}
            )
        removed_at = None
        if status == REMOVED:
            removed_at = (old.get("removed_at") if old is not None and old_status == REMOVED else None) or now.date()
        return dict(
            status=status,
            removed_at=removed_at,
            first_seen_at=old.get("first_seen_at") if old is not None else now,
            last_seen_at=now if pid in self.seen_ids else (old.get("last_seen_at") if old is not None else None),
            last_changed_at=now if (old is None or changed) else old.get("last_changed_at"),
        )

    def apply_unchanged(self, rows: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
        """Rows of the previous table whose values did not change in this run (their content is the same,
        or no page gave them): the same values, with the history columns brought up to date. This is
        ``_history``'s rule for a project with an old row that did not change, column by column in Arrow
        (tests/test_scale.py holds the two equal)."""
        pids = rows.column("project_id")
        self.current_ids.update(pids.to_pylist())
        if self._id_arrays is None:  # once per run, not per batch
            self._id_arrays = (
                pa.array(list(self.removed_ids), pa.string()),
                pa.array(list(self.seen_ids), pa.string()),
            )
        removed = pc.is_in(pids, value_set=self._id_arrays[0])
        seen = pc.is_in(pids, value_set=self._id_arrays[1])
        old_status = rows.column("status")
        status = pc.if_else(removed, REMOVED, pc.if_else(seen, ACTIVE, pc.fill_null(old_status, ACTIVE)))
        was_removed = pc.fill_null(pc.equal(old_status, REMOVED), False)
        date_type = arrow_type(PROJECTS.fields[PROJECTS.column_names.index("removed_at")].type)
        today = pa.scalar(self.now.date(), date_type)
        no_date = pa.scalar(None, date_type)
        now = pa.scalar(self.now, arrow_type(PROJECTS.fields[PROJECTS.column_names.index("last_seen_at")].type))
        is_removed = pc.equal(status, REMOVED)
        new_columns = {
            "status": status,
            "removed_at": pc.if_else(
                is_removed, pc.coalesce(pc.if_else(was_removed, rows.column("removed_at"), no_date), today), no_date
            ),
            "last_seen_at": pc.if_else(seen, now, rows.column("last_seen_at")),
        }  # first_seen_at and last_changed_at stay as they were
        for name, values in new_columns.items():
            field = PROJECTS.schema.field(name)
            rows = rows.set_column(rows.schema.get_field_index(name), field, values.cast(field.type))
        moved = pc.invert(pc.fill_null(pc.equal(old_status, status), False))
        changes = [
            {"project_id": pid, "field": "status", "old_value": old, "new_value": new, "observed_at": self.now}
            for pid, old, new in zip(
                pc.filter(pids, moved).to_pylist(),
                pc.filter(old_status, moved).to_pylist(),
                pc.filter(status, moved).to_pylist(),
            )
        ]
        return rows, changes

    def carried(self, batch_size: int = 2000) -> Iterator[tuple[pa.Table, list[dict[str, Any]]]]:
        """Previous projects that no page of this run gave: their last rows, with the status rule applied
        (removed only with proof of this run; otherwise as they were)."""
        if self.previous is None:
            return
        rest = [n for pid, n in self.index.items() if pid not in self.current_ids]
        for start in range(0, len(rest), batch_size):
            yield self.apply_unchanged(self.previous.take(rest[start : start + batch_size]))
