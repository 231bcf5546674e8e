"""This run's tables, assembled page by page from the parse cache and written in batches, so memory
holds one batch however large the site.

Each cached page holds its rows as small Arrow tables (built by the parse workers), so the child
tables are concatenated in Arrow without becoming Python objects again. Only the projects become
dicts, a batch at a time, for their history columns and the checks."""
from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.checks import ProjectChecks
from pipeline.history import History
from pipeline.parse_step import Entry
from pipeline.schema import CHANGES, PROJECTS, TABLES
from pipeline.storage import OutputDir, TableWriter, to_arrow

CHILD_TABLES = ("project_contacts", "project_sections", "project_municipalities", "project_fields")


class TableAssembler:
    """A project seen at two addresses is kept once (the first) and reported; child rows follow
    the kept project."""

    def __init__(self, out: OutputDir, writers: dict[str, TableWriter], history: History, checks: ProjectChecks,
                 batch_pages: int = 1000) -> None:
        self.out, self.writers, self.history, self.checks = out, writers, history, checks
        self.batch_pages = batch_pages
        self.first_url: dict[str, str] = {}
        self.parts: dict[str, list[pa.Table]] = {name: [] for name in (PROJECTS.name, *CHILD_TABLES, "parse_issues")}
        self.pages: list[dict[str, Any]] = []
        self.problems: Counter = Counter()
        self.pending_pages = 0

    def add(self, entry: Entry) -> None:
        tables: dict[str, pa.Table] = self.out.get_parsed(entry.key)[1] if entry.key else {}
        if entry.page is not None:
            self.pages.append(entry.page)
        extra_issues = list(entry.issues)
        projects = tables.get(PROJECTS.name)
        if projects is not None and projects.num_rows:
            tables = self._deduplicate(entry.url, projects, tables, extra_issues)
        for name, parts in self.parts.items():
            if name in tables and tables[name].num_rows:
                parts.append(tables[name])
        if extra_issues:
            self.parts["parse_issues"].append(to_arrow(TABLES["parse_issues"], extra_issues))
        self.pending_pages += 1
        if self.pending_pages >= self.batch_pages:
            self._flush()

    def _deduplicate(self, url: str, projects: pa.Table, tables: dict[str, pa.Table],
                     issues: list[dict[str, Any]]) -> dict[str, pa.Table]:
        keep, dropped, kept_here = [], set(), set()
        for pid, source_url in zip(projects.column("project_id").to_pylist(), projects.column("source_url").to_pylist()):
            first = self.first_url.setdefault(pid, url)
            if first == url and pid not in kept_here:
                kept_here.add(pid)
                keep.append(True)
                continue
            keep.append(False)
            issues.append({"url": source_url, "project_id": pid, "field": "project_id", "raw_value": pid,
                           "problem": "duplicate_project", "severity": "warning", "note": f"also at {first}; first kept"})
            if first != url:
                dropped.add(pid)
        if all(keep):
            return tables
        tables = dict(tables, **{PROJECTS.name: projects.filter(pa.array(keep))})
        if dropped:
            for name in CHILD_TABLES:
                if name in tables:
                    ids = tables[name].column("project_id")
                    tables[name] = tables[name].filter(pc.invert(pc.is_in(ids, value_set=pa.array(sorted(dropped)))))
        return tables

    def _write_arrow(self, name: str, parts: list[pa.Table]) -> None:
        if name in self.writers and parts:
            self.writers[name].write_arrow(pa.concat_tables(parts))

    def _flush(self) -> None:
        if self.pages:
            self.writers["pages"].write(self.pages)
            self.pages = []
        projects = pa.concat_tables(self.parts[PROJECTS.name]).to_pylist() if self.parts[PROJECTS.name] else []
        self._publish_projects(projects, self.history.apply(projects))
        for name in CHILD_TABLES:
            self._write_arrow(name, self.parts[name])
        issues = self.parts["parse_issues"]
        if issues:
            combined = pa.concat_tables(issues)
            counts = {row["values"]: row["counts"] for row in pc.value_counts(combined.column("problem")).to_pylist()}
            self.problems.update(counts)
            self.checks.add_problem_counts(counts)
            self._write_arrow("parse_issues", [combined])
        self.parts = {name: [] for name in self.parts}
        self.pending_pages = 0

    def _publish_projects(self, projects: list[dict[str, Any]], changes: list[dict[str, Any]]) -> None:
        self.checks.add_projects(projects)
        if projects:
            self.writers[PROJECTS.name].write(projects)
        if changes:
            self.writers[CHANGES.name].write(changes)

    def finish(self) -> None:
        self._flush()
        for rows, changes in self.history.vanished():
            self._publish_projects(rows, changes)
