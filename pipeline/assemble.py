"""This run's tables, assembled page by page from the parse cache and written in batches, so memory
holds one batch however large the site. The cache keeps plain rows (dicts): loading them is four
times faster than loading small Arrow tables, and the conversion to Arrow happens once per batch."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from parsers.press_release import link_announcements
from pipeline.checks import ProjectChecks
from pipeline.codec import StateError
from pipeline.discrepancies import PROJECT_COLUMNS as DISCREPANCY_COLUMNS
from pipeline.history import History
from pipeline.organisations import PROJECT_COLUMNS as ORGANISATION_COLUMNS
from pipeline.pages import SourceRun
from pipeline.parse_step import REACHED, Entry, Item, parse_into_cache, parser_version
from pipeline.rows import Rows, personal
from pipeline.schema import CHANGES, GRANT_ANNOUNCEMENTS, PROJECTS, TABLES
from pipeline.storage import OutputDir
from pipeline.table_writer import TableWriter

# What the grant announcements, the organisations and the discrepancies with the export are made of.
REGISTER_COLUMNS = tuple(dict.fromkeys(("project_id", "owner", "name", *ORGANISATION_COLUMNS, *DISCREPANCY_COLUMNS)))
CHILD_TABLES = ("project_contacts", "project_sections", "project_municipalities", "project_fields")
# Tables that depend only on the run's entries (each page's cached rows and this run's issues): when the
# entries are the same as in the published run, these files are kept as they are.
REUSABLE_TABLES = (*CHILD_TABLES, "parse_issues")


def inputs_fingerprint(
    entries: list[Entry],
    personal_data: bool,
    runs: list[SourceRun] = (),
    operations: list[dict[str, Any]] | None = None,
) -> str:
    """What the reusable tables are made of: every entry's address, cache key and run issues, each
    crawled source's completeness, the code that turns them into rows, and whether personal data is written."""
    digest = hashlib.sha256(parser_version().encode() + Path(__file__).read_bytes() + bytes([personal_data]))
    digest.update(json.dumps([[run.name, run.start_url, run.complete, run.reasons] for run in runs]).encode())
    digest.update(json.dumps(operations, default=str, sort_keys=True).encode())  # owner_org_number comes from it
    for start in range(0, len(entries), 1000):  # one encoding per thousand entries: fast, and small in memory
        digest.update(
            json.dumps(
                [
                    [entry.url, entry.source, entry.key, entry.rank, entry.issues]
                    for entry in entries[start : start + 1000]
                ],
                default=str,
                sort_keys=True,
            ).encode()
        )
    return digest.hexdigest()


class TableAssembler:
    """Builds the rows of every table from the run's entries (each page's cached rows), one page at
    a time: a project seen at two addresses is kept once (the first) and reported; projects get
    their history columns in batches."""

    def __init__(
        self,
        out: OutputDir,
        writers: dict[str, TableWriter],
        history: History,
        checks: ProjectChecks,
        batch: int = 1000,
        personal_data: bool = True,
        contents: dict[str, Item] | None = None,
        source_crawl: dict[str, str] | None = None,
        announcement_keys: set[str] | None = None,
        aliases: dict[str, str] | None = None,
        export_orgs: dict[str, str] | None = None,
    ) -> None:
        self.out, self.writers, self.history, self.checks, self.batch = out, writers, history, checks, batch
        self.personal_data = personal_data
        self.first: dict[str, tuple[str, str, int]] = {}  # project id -> the entry (source, address, rank) it came from
        self.projects: list[dict[str, Any]] = []
        self.problems: Counter = Counter()
        self.contents = contents or {}  # cache key -> what to parse when its entry is lost
        self.source_crawl = source_crawl or {}  # source -> "complete" or "partial: ..."
        self.announcement_keys = announcement_keys or set()  # cache keys of press releases
        self.aliases = aliases or {}  # derived id a page gives -> the project's id (its page moved)
        # project number -> the organisation number the official export gives (for pages that print none)
        self.export_orgs = export_orgs or {}
        self.project_rows: list[dict[str, Any]] = []  # what the organisations and discrepancies are built from
        self.announcements: list[dict[str, Any]] = []  # grant announcements, linked to projects at the end
        self.rebuilt_entries: list[str] = []  # cache entries made again from raw/
        self.lost_entries: list[
            str
        ] = []  # cache entries lost with their raw body: the page is fetched in full next run

    def _rows(self, key: str) -> Rows:
        """A content's cached rows, with the ids of projects whose page moved as they were before
        (ParseOutcome.aliases)."""
        rows = self._cached_rows(key)
        if self.aliases and any(p["project_id"] in self.aliases for p in rows.projects):
            rows = Rows(
                **{
                    name: [
                        {**row, "project_id": self.aliases.get(row.get("project_id"), row.get("project_id"))}
                        if row.get("project_id") in self.aliases
                        else row
                        for row in getattr(rows, name)
                    ]
                    for name in Rows.__dataclass_fields__
                }
            )
        return rows

    def _cached_rows(self, key: str) -> Rows:
        """A content's cached rows; an entry that is missing or unreadable is parsed again from raw/."""
        try:
            return self.out.get_parsed(key)[1]
        except StateError:
            item = self.contents.get(key)
            if item is not None and not parse_into_cache(self.out, *item).retry:
                try:
                    rows = self.out.get_parsed(key)[1]
                    self.rebuilt_entries.append(key)
                    return rows
                except StateError:
                    pass
            self.lost_entries.append(key)
            return Rows()

    def _write(self, name: str, rows: list[dict[str, Any]]) -> None:
        if name in self.writers and rows:
            self.writers[name].write(rows)

    def add_issue(self, issue: dict[str, Any]) -> None:
        """An issue of the run itself (a partial crawl), not of a page's content."""
        self._write("parse_issues", [issue])
        self.problems[issue["problem"]] += 1

    def _write_page(self, entry: Entry) -> None:
        if entry.page is not None:
            self._write("pages", [{**entry.page, "source_crawl": self.source_crawl.get(entry.source)}])

    def add(self, entry: Entry) -> None:
        """One entry's rows. A project given by several entries is kept once, from the first (entries come
        reached first, then kept, then removed pages); two pages reached in this run that give the same
        project are reported as a duplicate."""
        rows: Rows = self._rows(entry.key) if entry.key else Rows()
        self._write_page(entry)
        issues = rows.parse_issues + entry.issues
        if not self.personal_data:
            rows, issues = self._without_personal_data(rows, issues)
        dropped: set[str] = set()
        kept_here: set[str] = set()
        for project in rows.projects:
            pid = project["project_id"]
            first_source, first_url, first_rank = self.first.setdefault(pid, (entry.source, entry.url, entry.rank))
            here = (first_source, first_url) == (entry.source, entry.url)
            if here and pid not in kept_here:
                kept_here.add(pid)
                self.projects.append({**project, "source": entry.source})
                continue
            if first_rank == REACHED and entry.rank == REACHED:
                issues.append(
                    {
                        "url": project["source_url"],
                        "project_id": pid,
                        "field": "project_id",
                        "raw_value": pid,
                        "problem": "duplicate_project",
                        "severity": "warning",
                        "note": f"also at {first_url}; first kept",
                    }
                )
            if not here:
                dropped.add(pid)  # child rows follow the kept project
        for name in CHILD_TABLES:
            self._write(name, [r for r in getattr(rows, name) if r["project_id"] not in dropped])
        self.announcements.extend(rows.grant_announcements)
        self._write("parse_issues", issues)
        counts = Counter(i["problem"] for i in issues)
        self.checks.add_problem_counts(counts)
        self.problems.update(counts)
        if len(self.projects) >= self.batch:
            self._flush()

    @staticmethod
    def _personal(field: str | None, raw: Any) -> bool:
        return personal(field, raw)  # the rule of pipeline/rows.py, which `esf-pipeline parse` applies too

    def _without_personal_data(self, rows: Rows, issues: list[dict[str, Any]]) -> tuple[Rows, list[dict[str, Any]]]:
        """The rows with personal data left out: such raw fields dropped, such values in issues and in
        ``extra_fields`` blanked (the issue and the label stay, so nothing is lost silently)."""
        projects = []
        for project in rows.projects:
            if project.get("extra_fields"):
                extra = json.loads(project["extra_fields"])
                kept = {label: None if self._personal(None, value) else value for label, value in extra.items()}
                if kept != extra:
                    project = {**project, "extra_fields": json.dumps(kept, ensure_ascii=False)}
            projects.append(project)
        fields = [r for r in rows.project_fields if not self._personal(r.get("field"), r.get("raw_value"))]
        issues = [
            {**i, "raw_value": None, "note": f"{i.get('note') or ''} (value left out: personal data)".lstrip()}
            if self._personal(i.get("field"), i.get("raw_value"))
            else i
            for i in issues
        ]
        return replace(rows, projects=projects, project_fields=fields), issues

    def _flush(self) -> None:
        for project in self.projects:  # before the history: a filled number is not a change of its own
            if not project.get("owner_org_number") and project.get("project_number") in self.export_orgs:
                project["owner_org_number"] = self.export_orgs[project["project_number"]]
        changes = self.history.apply(self.projects)
        self._publish_projects(self.projects, changes)
        self.projects = []

    def _publish_projects(self, projects: list[dict[str, Any]], changes: list[dict[str, Any]]) -> None:
        self.checks.add_projects(projects)
        self.project_rows.extend({k: p.get(k) for k in REGISTER_COLUMNS} for p in projects)
        self._write(PROJECTS.name, projects)
        self._write(CHANGES.name, changes)

    def add_unchanged(self, entries: list[Entry], project_ids: list[str], previous: pa.Table) -> None:
        """The entries are those of the published run: the reusable tables stay as published, the
        pages are written again, and the projects are the published rows (the same content) with
        their history columns brought up to date, in Arrow. Reads the parse cache of press releases only."""
        for entry in entries:
            self._write_page(entry)
            if entry.key in self.announcement_keys:
                self.announcements.extend(self._rows(entry.key).grant_announcements)
        previous = self.history.previous if self.history.previous is not None else previous
        current = previous.filter(pc.is_in(previous.column("project_id"), value_set=pa.array(project_ids, pa.string())))
        for batch in current.to_batches(max_chunksize=self.batch):
            self._write_arrow_projects(
                *self.history.apply_unchanged(pa.Table.from_batches([batch], schema=current.schema))
            )

    def _write_arrow_projects(self, projects: pa.Table, changes: list[dict[str, Any]]) -> None:
        self.checks.add_projects(projects.select(self.checks.columns).to_pylist())
        self.project_rows.extend(projects.select(list(REGISTER_COLUMNS)).to_pylist())
        if PROJECTS.name in self.writers:
            self.writers[PROJECTS.name].write_arrow(projects)
        self._write(CHANGES.name, changes)

    def _carry_children(self, project_ids: list[str]) -> None:
        """Projects no page of this run gave (their state lost and rebuilt, their cache and raw body gone, a
        source not crawled whose pages were never cached): their last rows in the child tables stay too."""
        if not project_ids:
            return
        wanted = pa.array(project_ids, pa.string())
        renames = self.history.renames
        for name in CHILD_TABLES:
            if name not in self.writers:
                continue
            for batch in self.out.table_batches(TABLES[name]):
                if renames:
                    ids = [renames.get(pid, pid) for pid in batch.column("project_id").to_pylist()]
                    batch = batch.set_column(
                        batch.schema.get_field_index("project_id"), "project_id", pa.array(ids, pa.string())
                    )
                kept = batch.filter(pc.is_in(batch.column("project_id"), value_set=wanted))
                if not kept.num_rows:
                    continue
                if name == "project_fields" and not self.personal_data:
                    self._write(
                        name, [r for r in kept.to_pylist() if not self._personal(r.get("field"), r.get("raw_value"))]
                    )
                else:
                    self.writers[name].write_arrow(kept)

    def finish(self) -> None:
        self._flush()
        carried: list[str] = []
        for projects, changes in self.history.carried():
            carried += projects.column("project_id").to_pylist()
            self._write_arrow_projects(projects, changes)
        self._carry_children(carried)
        self._write(CHANGES.name, self.history.rename_changes)
        # Announcements come weeks before the project bank shows their projects: linked against every
        # project of the table, in every run.
        for announcement, pid in zip(self.announcements, link_announcements(self.announcements, self.project_rows)):
            announcement["project_id"] = pid
        self._write(GRANT_ANNOUNCEMENTS.name, self.announcements)
