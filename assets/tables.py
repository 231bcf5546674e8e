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
from pipeline.checks import CHECKS, ProjectChecks, RemovalGuard
from pipeline.codec import StateError
from pipeline.history import History
from pipeline.parse_step import ParseOutcome, content_sources
from assets.resources import OutputResource
from pipeline.run_state import PARSE_OUTCOME, PARSED_FILE, PUBLISHED, PUBLISHED_FILE, SOURCE_STATE, Published, \
    referenced, source_state_name
from pipeline.schema import CHANGES, PROJECTS, SOURCES, TABLES, Table
from pipeline.storage import OutputDir

CHECK_NAMES = {name: spec.blocking for name, spec in CHECKS.items()}  # name -> blocking


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
        dg.AssetCheckSpec(spec.name, asset=PROJECTS.name, blocking=spec.blocking, description=spec.description)
        for spec in CHECKS.values()
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
    fingerprint = inputs_fingerprint(parsed.entries, output.personal_data, parsed.sources)
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
                                   aliases=parsed.aliases)
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
        _write_sources(writers.get(SOURCES.name), parsed, checks)
        for writer in writers.values():
            writer.close()
        guard = RemovalGuard(parsed.removed_by_source, parsed.active_before, output.max_removed_share, config.allow_removals)
        # Allowed removals may lower the active count as far as they go.
        previous_active = None if config.allow_removals else _active_count(history.previous)
        outcomes = {o.name: o for o in checks.outcomes(previous_active, output.max_project_drop,
                                                       output.max_unknown_label_share, guard)}
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
        })
    writer.write(rows)


def _refetch(parsed: ParseOutcome, lost_keys: set[str]) -> None:
    """Pages whose content could not be read back: no validators, so the next run fetches them in full."""
    for state in parsed.states.values():
        for key, page in state.pages.items():
            if page.parsed is not None and page.parsed.key in lost_keys:
                state.pages[key] = replace(page, etag=None, last_modified=None, content_sha256=None)


def _problem_counts(out: OutputDir) -> dict[str, int]:
    problems = out.read_table(TABLES["parse_issues"], columns=["problem"]).column("problem")
    return {row["values"]: row["counts"] for row in pc.value_counts(problems).to_pylist()}
