"""The publish step of a run: every table assembled from the parse outcome, written to temporary files,
checked, and moved into place together with the state for the next run; or, when a blocking check
fails, nothing published at all. Plain Python: the Dagster asset (assets/tables.py) only turns the
result into materialisations and check results, and tests call it directly."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

from parsers.values import valid_org_number
from pipeline import interrupts
from pipeline.assemble import REUSABLE_TABLES, TableAssembler, inputs_fingerprint
from pipeline.catalog import write_catalog
from pipeline.checks import CheckOutcome, ProjectChecks, RemovalGuard
from pipeline.codec import StateError
from pipeline.discrepancies import project_discrepancies, sources_agree
from pipeline.history import History
from pipeline.organisations import build_organisations
from pipeline.parse_step import ParseOutcome, content_sources
from pipeline.run_state import (
    PARSE_OUTCOME,
    PARSED_FILE,
    PUBLISHED,
    PUBLISHED_FILE,
    SOURCE_STATE,
    Published,
    referenced,
    source_state_name,
)
from pipeline.schema import CHANGES, DISCREPANCIES, OPERATIONS, ORGANISATIONS, PROJECTS, SOURCES, TABLES
from pipeline.storage import OutputDir


class PublishBlocked(Exception):
    """A blocking check failed: nothing was published. ``outcomes`` are the failing checks."""

    def __init__(self, message: str, outcomes: list[CheckOutcome]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


class NothingToPublish(Exception):
    """The parse step's outcome is missing or unreadable (named in the message)."""


@dataclass
class PublishPolicy:
    """What the output resource decides for every run, and what the run's config allows."""

    personal_data: bool = True
    max_project_drop: float = 0.5
    max_unknown_label_share: float = 0.2
    max_removed_share: float = 0.1
    retention_days: float = 30.0
    allow_removals: bool = False


@dataclass
class Published_:
    """What a publish did: the tables written (name -> rows; None for a table kept as it was), the
    check outcomes, the issues by problem, the tables left out (personal data)."""

    written: dict[str, int | None] = field(default_factory=dict)
    outcomes: dict[str, CheckOutcome] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)


def publish_tables(
    out: OutputDir,
    policy: PublishPolicy,
    now: datetime,
    warn: Callable[[str], None] = lambda message: None,
    info: Callable[[str], None] = lambda message: None,
) -> Published_:
    """Write every table in batches to temporary files, then publish them all. A failing blocking check
    raises PublishBlocked before anything is published, so bad data never replaces good data."""
    for leftover in out.remove_stale_temp_files():
        info(f"removed {leftover}, left by a run that was killed while writing")
    try:
        parsed = out.load_state(PARSED_FILE, PARSE_OUTCOME, ParseOutcome)
    except StateError as exc:
        raise NothingToPublish(f"{exc}: materialise parsed_records first") from None
    previous = out.read_table(PROJECTS) if out.has_table(PROJECTS) else None
    checks = ProjectChecks()
    kept = {name: table for name, table in TABLES.items() if policy.personal_data or not table.personal_data}
    # The official export's rows: this run's, or those published last (an export is a snapshot: a run
    # without one keeps it, so the organisation numbers it gave do not come and go).
    operations = (
        parsed.operations
        if parsed.operations is not None
        else (out.read_table(OPERATIONS).to_pylist() if out.has_table(OPERATIONS) else [])
    )
    fingerprint = inputs_fingerprint(parsed.entries, policy.personal_data, parsed.sources, operations)
    # Unchanged: no page was parsed in this run (a re-parse rewrites the cache under the same keys)
    # and the entries are those of the published run.
    unchanged = (
        previous is not None
        and not parsed.counts.get("parsed")
        and not parsed.id_renames
        and _published_fingerprint(out) == fingerprint
        and all(out.has_table(TABLES[name]) for name in REUSABLE_TABLES if name in kept)
    )
    folder = out.new_run(now)  # this run's tables are written here, invisible until the commit
    writers = {
        name: out.table_writer(table, folder)
        for name, table in kept.items()
        if not (unchanged and name in REUSABLE_TABLES)
    }
    source_crawl = {
        run.name: "complete" if run.complete else "partial: " + "; ".join(run.reasons) for run in parsed.sources
    }
    history = History(previous, parsed.seen_ids, parsed.removed_ids, now, parsed.id_renames)
    try:
        for batch in out.table_batches(CHANGES):  # the history so far, then this run's changes
            writers[CHANGES.name].write_arrow(_renamed(batch, parsed.id_renames))
        assembler = TableAssembler(
            out,
            writers,
            history,
            checks,
            personal_data=policy.personal_data,
            contents=content_sources(parsed.states),
            source_crawl=source_crawl,
            announcement_keys={
                page.parsed.key
                for state in parsed.states.values()
                for page in state.pages.values()
                if page.parsed is not None and page.parsed.kind == "press_release"
            },
            aliases=parsed.aliases,
            export_orgs={
                op["project_id"]: op["owner_org_number"]
                for op in operations
                if op.get("project_id") and valid_org_number(op.get("owner_org_number"))
            },
        )
        if unchanged:
            assembler.add_unchanged(parsed.entries, _project_ids(parsed), previous)  # type: ignore[arg-type]
            counts = _problem_counts(out)
            checks.add_problem_counts(counts)
            assembler.problems.update(counts)
        else:
            for entry in parsed.entries:
                assembler.add(entry)
            for run in parsed.sources:
                if not run.complete:
                    assembler.add_issue(
                        {
                            "url": run.start_url,
                            "problem": "crawl_partial",
                            "severity": "warning",
                            "raw_value": None,
                            "note": f"source {run.name}: "
                            + "; ".join(run.reasons)
                            + "; nothing was removed for want of a complete crawl",
                        }
                    )
        assembler.finish()
        agreement = _write_registers(writers, assembler, operations, parsed.export_issues)
        _write_sources(writers.get(SOURCES.name), parsed, checks)
        for writer in writers.values():
            writer.close()
        guard = RemovalGuard(
            parsed.removed_by_source, parsed.active_before, policy.max_removed_share, policy.allow_removals
        )
        # Allowed removals may lower the active count as far as they go.
        previous_active = None if policy.allow_removals else _active_count(history.previous)
        outcomes = {
            o.name: o
            for o in checks.outcomes(previous_active, policy.max_project_drop, policy.max_unknown_label_share, guard)
        }
        if agreement is not None:
            outcomes[agreement.name] = agreement
        outcomes["every_source_yields_projects"] = _every_source_yields(parsed, checks)
        blocked = [o for o in outcomes.values() if o.blocking and not o.passed]
        if blocked:
            raise PublishBlocked(_blocked_message(blocked), blocked)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        out.fs.rm(out.path("runs", folder), recursive=True)
        raise
    for note in assembler.rebuilt_entries[:1]:
        warn(
            f"{len(assembler.rebuilt_entries)} parse cache entries were missing or unreadable "
            f"(first: {out.url('_parsed', note[:2], note + '.json')}); parsed again from raw/"
        )
    if assembler.lost_entries:
        warn(
            f"{len(assembler.lost_entries)} parse cache entries could not be made again (raw body "
            "missing): their projects keep their last rows, and the pages are fetched in full next run"
        )
        _refetch(parsed, set(assembler.lost_entries))
    with interrupts.publishing():  # Ctrl-C and SIGTERM wait for these renames and state files
        out.remove_state(PUBLISHED_FILE)  # a run killed while publishing must not be taken as unchanged
        for writer in writers.values():
            writer.publish()  # into the run's folder: still invisible
        for name in kept:
            if name not in writers:
                out.carry_table(TABLES[name], folder)  # unchanged since the published run
        # The commit point: every table of the run becomes current at once (a table left out, personal
        # data, is not in the run: its file goes with the old run).
        out.commit(folder, list(kept), now)
        # Only after the tables are current does the next run start from this run's state.
        for name, state in parsed.states.items():
            state.saved_at = now
            out.save_state(source_state_name(name), SOURCE_STATE, state)
        out.save_state(PUBLISHED_FILE, PUBLISHED, Published(fingerprint, now))
    if out.local:  # a DuckDB catalog of views over the tables, with every description (pipeline/catalog.py)
        write_catalog(out.root, [table for name, table in TABLES.items() if name in kept])
    removed = out.remove_legacy_pickles()
    if removed:
        info(f"removed {removed} pickle files of an earlier version (never loaded)")
    files, freed = out.prune(*referenced(parsed.states), policy.retention_days)
    if files:
        out.save_state(PUBLISHED_FILE, PUBLISHED, Published(fingerprint, now, files, freed))
        info(
            f"retention: deleted {files} raw bodies and cache entries no state refers to, older than "
            f"{policy.retention_days:g} days ({freed / 1e6:.1f} MB)"
        )
    return Published_(
        written={name: (writers[name].rows if name in writers else None) for name in kept},
        outcomes=outcomes,
        problems=dict(assembler.problems),
        left_out=[name for name in TABLES if name not in kept],
    )


def _project_ids(parsed: ParseOutcome) -> list[str]:
    """The run's projects, in page order (each page's state names the projects its content gave)."""
    by_key = {
        page.parsed.key: page.parsed.project_ids
        for state in parsed.states.values()
        for page in state.pages.values()
        if page.parsed is not None
    }
    ids: dict[str, None] = {}
    for entry in parsed.entries:
        if entry.key:
            ids.update(dict.fromkeys(by_key.get(entry.key, ())))
    return list(ids)


def _published_fingerprint(out: OutputDir) -> str | None:
    try:
        return out.load_state(PUBLISHED_FILE, PUBLISHED, Published).fingerprint
    except StateError:
        return None


def _renamed(batch: pa.RecordBatch, renames: dict[str, str]) -> pa.RecordBatch:
    if not renames:
        return batch
    ids = pa.array([renames.get(pid, pid) for pid in batch.column("project_id").to_pylist()], pa.string())
    return batch.set_column(batch.schema.get_field_index("project_id"), "project_id", ids)


def _active_count(previous: pa.Table | None) -> int | None:
    if previous is None or previous.num_rows == 0:
        return None
    return pc.sum(pc.equal(previous.column("status"), "active")).as_py() or 0


def _blocked_message(blocked: list) -> str:
    parts = []
    for outcome in blocked:
        if outcome.name == "removals_within_limit":
            parts.append(
                "this run would remove "
                + "; ".join(outcome.failures)
                + " (more than "
                + outcome.description.split("more than ")[1].split(" of")[0]
                + "); if the site really removed "
                "them, run again with --allow-removals (allow_removals in the output_tables config)"
            )
        else:
            parts.append(f"{outcome.name} {outcome.failures[:5]}")
    return "blocking checks failed, previous tables kept: " + "; ".join(parts)


def _write_registers(writers: dict, assembler: TableAssembler, operations: list[dict], export_issues: list[dict]):
    """operations (the official export), project_discrepancies (where it and the pages disagree) and
    organisations (one row per organisation number); their issues go to parse_issues. Returns the
    outcome of the sources_agree check, or None without an export."""
    for issue in export_issues:
        assembler.add_issue(issue)
    if OPERATIONS.name in writers:
        writers[OPERATIONS.name].write(operations)
    organisations, issues = build_organisations(assembler.project_rows, operations)
    for issue in issues:
        assembler.add_issue(issue)
    if ORGANISATIONS.name in writers:
        writers[ORGANISATIONS.name].write(organisations)
    if not operations:
        return None
    rows, summary = project_discrepancies(assembler.project_rows, operations)
    if DISCREPANCIES.name in writers:
        writers[DISCREPANCIES.name].write(rows)
    return sources_agree(summary)


def _write_sources(writer, parsed: ParseOutcome, checks: ProjectChecks) -> None:
    if writer is None:
        return
    runs = {run.name: run for run in parsed.sources}
    rows = []
    for name in sorted(set(parsed.states) | set(runs)):
        run, state = runs.get(name), parsed.states.get(name)
        rows.append(
            {
                "source": name,
                "start_url": run.start_url if run else (state.start_url if state else None),
                "crawled_in_run": run is not None,
                "crawl_complete": run.complete if run else None,
                "partial_reason": "; ".join(run.reasons) if run and not run.complete else None,
                "pages_reached": run.pages if run else 0,
                "projects_active": checks.by_source.get((name, "active"), 0),
                "projects_removed": checks.by_source.get((name, "removed"), 0),
                "removed_in_run": len(parsed.removed_by_source.get(name, ())),
                "last_complete_at": state.last_complete_at if state else None,
                "note": NO_PROJECTS_HINT if run is not None and not _yields(name, checks) else None,
            }
        )
    writer.write(rows)


# What a source that yields no project is told (the summary, sources.note, the check).
NO_PROJECTS_HINT = (
    "no page of projects was reached: if its listing is a search form, or drawn by JavaScript, give "
    "its sitemap, a list of addresses (--urls-from) or the official export (--export with --project-url)"
)


def _yields(name: str, checks: ProjectChecks) -> bool:
    return bool(checks.by_source.get((name, "active"), 0) or checks.by_source.get((name, "removed"), 0))


def _every_source_yields(parsed: ParseOutcome, checks: ProjectChecks) -> CheckOutcome:
    empty = sorted(run.name for run in parsed.sources if not _yields(run.name, checks))
    return CheckOutcome(
        "every_source_yields_projects",
        not empty,
        False,
        "every source crawled in the run gives at least one project",
        empty,
    )


def _refetch(parsed: ParseOutcome, lost_keys: set[str]) -> None:
    """Pages whose content could not be read back: no validators, so the next run fetches them in full."""
    for state in parsed.states.values():
        for key, page in state.pages.items():
            if page.parsed is not None and page.parsed.key in lost_keys:
                state.pages[key] = replace(page, etag=None, last_modified=None, content_sha256=None)


def _problem_counts(out: OutputDir) -> dict[str, int]:
    problems = out.read_table(TABLES["parse_issues"], columns=["problem"]).column("problem")
    return {row["values"]: row["counts"] for row in pc.value_counts(problems).to_pylist()}
