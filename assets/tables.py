"""Output layer: the Parquet tables analysts read, published only when the blocking checks pass."""

from dataclasses import replace
from datetime import datetime, timezone

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from tabulate import tabulate

from assets.parse import parsed_records
from pipeline import interrupts
from pipeline.assemble import REUSABLE_TABLES, TableAssembler, inputs_fingerprint
from pipeline.checks import CheckOutcome, ProjectChecks, RemovalGuard
from pipeline.codec import StateError
from pipeline.history import History
from pipeline.parse_step import ParseOutcome, content_sources
from assets.resources import OutputResource
from pipeline.run_state import PARSE_OUTCOME, PARSED_FILE, PUBLISHED, PUBLISHED_FILE, SOURCE_STATE, Published, \
    referenced, source_state_name
from parsers.values import valid_org_number
from pipeline.catalog import write_catalog
from pipeline.discrepancies import project_discrepancies, sources_agree
from pipeline.organisations import build_organisations
from pipeline.schema import CHANGES, DISCREPANCIES, OPERATIONS, ORGANISATIONS, PROJECTS, SOURCES, TABLES, Table
from pipeline.storage import OutputDir

CHECK_NAMES = {
    "project_id_unique": True, "required_columns_present": True, "start_not_after_end": True,
    "grant_within_budget": False, "rate_is_fraction": True, "participants_not_negative": True,
    "nuts2_known": True, "unknown_label_share": False, "project_count_not_collapsed": True,
    "removals_within_limit": True, "sources_agree": False, "every_source_yields_projects": False,
}


class PublishConfig(dg.Config):
    """allow_removals: accept a run that removes more than the set share of a source's active projects
    (after checking that the site really removed them)."""

    allow_removals: bool = False


def column_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(f.name, f.type, description=f.description,
                       constraints=dg.TableColumnConstraints(nullable=f.nullable))
        for f in table.fields
    ])


def _preview(batch: pa.RecordBatch | None, table: Table) -> str:
    """The first rows as a Markdown table (tabulate, not pandas: importing pandas costs half a second
    of every run)."""
    rows = batch.to_pylist() if batch is not None else []

    def short(value: object) -> object:
        return value if not isinstance(value, str) or len(value) < 60 else value[:57] + "…"

    return tabulate([[short(row[c]) for c in table.column_names] for row in rows], headers=table.column_names,
                    tablefmt="pipe")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(name, deps=[parsed_records], group_name="output", kinds={"parquet"},
                     owners=["team:data-engineering"], description=table.description,
                     metadata={"dagster/column_schema": column_schema(table)})
        for name, table in TABLES.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(name, asset=PROJECTS.name, blocking=blocking, description=name.replace("_", " "))
        for name, blocking in CHECK_NAMES.items()
    ],
    can_subset=False,
)
def output_tables(context: dg.AssetExecutionContext, config: PublishConfig, output: OutputResource):
    """Write every table in batches to temporary files, then publish them all. A failing blocking
    check stops the run before anything is published, so bad data never replaces good data."""
    out = output.directory()
    for leftover in out.remove_stale_temp_files():
        context.log.info(f"removed {leftover}, left by a run that was killed while writing")
    try:
        parsed = out.load_state(PARSED_FILE, PARSE_OUTCOME, ParseOutcome)
    except StateError as exc:
        raise dg.Failure(f"{exc}: materialise parsed_records first", allow_retries=False) from None
    previous = out.read_table(PROJECTS) if out.has_table(PROJECTS) else None
    now = datetime.now(timezone.utc).replace(microsecond=0)
    checks = ProjectChecks()
    kept = {name: table for name, table in TABLES.items() if output.personal_data or not table.personal_data}
    # The official export's rows: this run's, or those published last (an export is a snapshot: a run
    # without one keeps it, so the organisation numbers it gave do not come and go).
    operations = parsed.operations if parsed.operations is not None else \
        (out.read_table(OPERATIONS).to_pylist() if out.has_table(OPERATIONS) else [])
    fingerprint = inputs_fingerprint(parsed.entries, output.personal_data, parsed.sources, operations)
    # Unchanged: no page was parsed in this run (a re-parse rewrites the cache under the same keys)
    # and the entries are those of the published run.
    unchanged = (previous is not None and not parsed.counts.get("parsed") and not parsed.id_renames
                 and _published_fingerprint(out) == fingerprint
                 and all(out.has_table(TABLES[name]) for name in REUSABLE_TABLES if name in kept))
    writers = {name: out.table_writer(table) for name, table in kept.items()
               if not (unchanged and name in REUSABLE_TABLES)}
    source_crawl = {run.name: "complete" if run.complete else "partial: " + "; ".join(run.reasons) for run in parsed.sources}
    history = History(previous, parsed.seen_ids, parsed.removed_ids, now, parsed.id_renames)
    try:
        for batch in out.table_batches(CHANGES):  # the history so far, then this run's changes
            writers[CHANGES.name].write_arrow(_renamed(batch, parsed.id_renames))
        assembler = TableAssembler(out, writers, history, checks, personal_data=output.personal_data,
                                   contents=content_sources(parsed.states), source_crawl=source_crawl,
                                   announcement_keys={page.parsed.key for state in parsed.states.values()
                                                      for page in state.pages.values()
                                                      if page.parsed is not None and page.parsed.kind == "press_release"},
                                   aliases=parsed.aliases,
                                   export_orgs={op["project_id"]: op["owner_org_number"] for op in operations
                                                if op.get("project_id") and valid_org_number(op.get("owner_org_number"))})
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
                    assembler.add_issue({"url": run.start_url, "problem": "crawl_partial", "severity": "warning",
                                         "raw_value": None, "note": f"source {run.name}: " + "; ".join(run.reasons)
                                         + "; nothing was removed for want of a complete crawl"})
        assembler.finish()
        agreement = _write_registers(writers, assembler, operations, parsed.export_issues)
        _write_sources(writers.get(SOURCES.name), parsed, checks)
        for writer in writers.values():
            writer.close()
        guard = RemovalGuard(parsed.removed_by_source, parsed.active_before, output.max_removed_share, config.allow_removals)
        # Allowed removals may lower the active count as far as they go.
        previous_active = None if config.allow_removals else _active_count(history.previous)
        outcomes = {o.name: o for o in checks.outcomes(previous_active, output.max_project_drop,
                                                       output.max_unknown_label_share, guard)}
        if agreement is not None:
            outcomes[agreement.name] = agreement
        outcomes["every_source_yields_projects"] = _every_source_yields(parsed, checks)
        blocked = [o for o in outcomes.values() if o.blocking and not o.passed]
        if blocked:
            raise dg.Failure(_blocked_message(blocked), metadata={o.name: dg.MetadataValue.json(o.failures) for o in blocked},
                             allow_retries=False)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    for note in assembler.rebuilt_entries[:1]:
        context.log.warning(f"{len(assembler.rebuilt_entries)} parse cache entries were missing or unreadable "
                            f"(first: {out.url('_parsed', note[:2], note + '.json')}); parsed again from raw/")
    if assembler.lost_entries:
        context.log.warning(f"{len(assembler.lost_entries)} parse cache entries could not be made again (raw body "
                            "missing): their projects keep their last rows, and the pages are fetched in full next run")
        _refetch(parsed, set(assembler.lost_entries))
    with interrupts.publishing():  # Ctrl-C and SIGTERM wait for these renames and state files
        out.remove_state(PUBLISHED_FILE)  # a run killed while publishing must not be taken as unchanged
        for writer in writers.values():
            writer.publish()
        for name, table in TABLES.items():
            if name not in kept:
                out.remove_table(table)  # an older file must not outlive the choice
        # Only after every table is in place does the next run start from this run's state.
        for name, state in parsed.states.items():
            state.saved_at = now
            out.save_state(source_state_name(name), SOURCE_STATE, state)
        out.save_state(PUBLISHED_FILE, PUBLISHED, Published(fingerprint, now))
    if out.local:  # a DuckDB catalog of views over the tables, with every description (pipeline/catalog.py)
        write_catalog(out.root, [table for name, table in TABLES.items() if name in kept])
    removed = out.remove_legacy_pickles()
    if removed:
        context.log.info(f"removed {removed} pickle files of an earlier version (never loaded)")
    files, freed = out.prune(*referenced(parsed.states), output.retention_days)
    if files:
        out.save_state(PUBLISHED_FILE, PUBLISHED, Published(fingerprint, now, files, freed))
        context.log.info(f"retention: deleted {files} raw bodies and cache entries no state refers to, older than "
                         f"{output.retention_days:g} days ({freed / 1e6:.1f} MB)")
    for name, table in TABLES.items():
        if name not in kept:
            yield dg.MaterializeResult(asset_key=name, metadata={"left_out": "personal data not written (personal_data=False)",
                                                                  "dagster/row_count": 0})
            continue
        results = []
        if name == PROJECTS.name:
            for check_name, blocking in CHECK_NAMES.items():
                outcome = outcomes.get(check_name)
                results.append(dg.AssetCheckResult(
                    asset_key=name, check_name=check_name, passed=outcome.passed if outcome else True,
                    severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
                    metadata={"failures": dg.MetadataValue.json(outcome.failures if outcome else []),
                              "note": outcome.description if outcome else "no previous run to compare with"},
                ))
        metadata = {
            "dagster/row_count": writers[name].rows if name in writers else out.table_rows(table),
            "dagster/column_schema": column_schema(table),
            "path": dg.MetadataValue.path(out.url(f"{name}.parquet")),
            "preview": dg.MetadataValue.md(_preview(next(out.table_batches(table, batch_size=5), None), table)),
        }
        if name not in writers:
            metadata["kept"] = "the pages' content and issues did not change since the published run: file kept as it was"
        if name == "parse_issues":
            metadata["issues_by_problem"] = dg.MetadataValue.json(dict(assembler.problems))
        yield dg.MaterializeResult(asset_key=name, metadata=metadata, check_results=results)


def _project_ids(parsed: ParseOutcome) -> list[str]:
    """The run's projects, in page order (each page's state names the projects its content gave)."""
    by_key = {page.parsed.key: page.parsed.project_ids for state in parsed.states.values()
              for page in state.pages.values() if page.parsed is not None}
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
            parts.append("this run would remove " + "; ".join(outcome.failures) + " (more than "
                         + outcome.description.split("more than ")[1].split(" of")[0] + "); if the site really removed "
                         "them, run again with --allow-removals (allow_removals in the output_tables config)")
        else:
            parts.append(f"{outcome.name} {outcome.failures[:5]}")
    return "blocking checks failed, previous tables kept: " + "; ".join(parts)


def _write_registers(writers: dict, assembler: TableAssembler, operations: list[dict],
                     export_issues: list[dict]):
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
        rows.append({
            "source": name, "start_url": run.start_url if run else (state.start_url if state else None),
            "crawled_in_run": run is not None, "crawl_complete": run.complete if run else None,
            "partial_reason": "; ".join(run.reasons) if run and not run.complete else None,
            "pages_reached": run.pages if run else 0,
            "projects_active": checks.by_source.get((name, "active"), 0),
            "projects_removed": checks.by_source.get((name, "removed"), 0),
            "removed_in_run": len(parsed.removed_by_source.get(name, ())),
            "last_complete_at": state.last_complete_at if state else None,
            "note": NO_PROJECTS_HINT if run is not None and not _yields(name, checks) else None,
        })
    writer.write(rows)


# What a source that yields no project is told (the summary, sources.note, the check).
NO_PROJECTS_HINT = ("no page of projects was reached: if its listing is a search form, or drawn by JavaScript, give "
                    "its sitemap, a list of addresses (--urls-from) or the official export (--export with --project-url)")


def _yields(name: str, checks: ProjectChecks) -> bool:
    return bool(checks.by_source.get((name, "active"), 0) or checks.by_source.get((name, "removed"), 0))


def _every_source_yields(parsed: ParseOutcome, checks: ProjectChecks) -> CheckOutcome:
    empty = sorted(run.name for run in parsed.sources if not _yields(run.name, checks))
    return CheckOutcome("every_source_yields_projects", not empty, False,
                        "every source crawled in the run gives at least one project", empty)


def _refetch(parsed: ParseOutcome, lost_keys: set[str]) -> None:
    """Pages whose content could not be read back: no validators, so the next run fetches them in full."""
    for state in parsed.states.values():
        for key, page in state.pages.items():
            if page.parsed is not None and page.parsed.key in lost_keys:
                state.pages[key] = replace(page, etag=None, last_modified=None, content_sha256=None)


def _problem_counts(out: OutputDir) -> dict[str, int]:
    problems = out.read_table(TABLES["parse_issues"], columns=["problem"]).column("problem")
    return {row["values"]: row["counts"] for row in pc.value_counts(problems).to_pylist()}
