"""Output layer: the Parquet tables analysts read, published only when the blocking checks pass."""

from datetime import datetime, timezone

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from tabulate import tabulate

from assets.parse import parsed_records
from pipeline.assemble import REUSABLE_TABLES, TableAssembler, inputs_fingerprint
from pipeline.checks import ProjectChecks
from pipeline.history import History
from pipeline.parse_step import ParseOutcome
from pipeline.resources import OutputResource
from pipeline.schema import CHANGES, PROJECTS, TABLES, Table
from pipeline.storage import OutputDir

CHECK_NAMES = {
    "project_id_unique": True, "required_columns_present": True, "start_not_after_end": True,
    "grant_within_budget": False, "rate_is_fraction": True, "participants_not_negative": True,
    "nuts2_known": True, "unknown_label_share": False, "project_count_not_collapsed": True,
}


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
def output_tables(context: dg.AssetExecutionContext, output: OutputResource):
    """Write every table in batches to temporary files, then publish them all. A failing blocking
    check stops the run before anything is published, so bad data never replaces good data."""
    out = output.directory()
    for leftover in out.remove_stale_temp_files():
        context.log.info(f"removed {leftover}, left by a run that was killed while writing")
    parsed = out.load_state("parsed")
    previous = out.read_table(PROJECTS) if out.has_table(PROJECTS) else None
    now = datetime.now(timezone.utc).replace(microsecond=0)
    checks = ProjectChecks()
    kept = {name: table for name, table in TABLES.items() if output.personal_data or not table.personal_data}
    fingerprint = inputs_fingerprint(parsed.entries, output.personal_data)
    # Unchanged: no page was parsed in this run (a re-parse rewrites the cache under the same keys)
    # and the entries are those of the published run.
    unchanged = (previous is not None and not parsed.counts.get("parsed") and out.has_state("published_inputs")
                 and out.load_state("published_inputs") == fingerprint
                 and all(out.has_table(TABLES[name]) for name in REUSABLE_TABLES if name in kept))
    writers = {name: out.table_writer(table) for name, table in kept.items()
               if not (unchanged and name in REUSABLE_TABLES)}
    try:
        for batch in out.table_batches(CHANGES):  # the history so far, then this run's changes
            writers[CHANGES.name].write_arrow(batch)
        assembler = TableAssembler(out, writers, History(previous, parsed.seen_ids, parsed.removed_ids, now), checks,
                                   personal_data=output.personal_data)
        if unchanged:
            assembler.add_unchanged(parsed.entries, _project_ids(parsed), previous)  # type: ignore[arg-type]
            counts = _problem_counts(out)
            checks.add_problem_counts(counts)
            assembler.problems.update(counts)
        else:
            for entry in parsed.entries:
                assembler.add(entry)
        assembler.finish()
        for writer in writers.values():
            writer.close()
        outcomes = {o.name: o for o in checks.outcomes(previous.num_rows if previous is not None and previous.num_rows else None,
                                                       output.max_project_drop, output.max_unknown_label_share)}
        blocked = [o for o in outcomes.values() if o.blocking and not o.passed]
        if blocked:
            raise dg.Failure(
                "blocking checks failed, previous tables kept: " + "; ".join(f"{o.name} {o.failures[:5]}" for o in blocked),
                metadata={o.name: dg.MetadataValue.json(o.failures) for o in blocked},
            )
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    if out.has_state("published_inputs"):
        out.remove_state("published_inputs")  # a run killed while publishing must not be taken as unchanged
    for writer in writers.values():
        writer.publish()
    for name, table in TABLES.items():
        if name not in kept:
            out.remove_table(table)  # an older file must not outlive the choice
    # Only after every table is in place does the next run start from this run's state.
    out.save_state("pages_state", parsed.states)
    out.save_state("published_inputs", fingerprint)
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
    ids: dict[str, None] = {}
    for entry in parsed.entries:
        state = parsed.states.get(entry.url)
        if entry.key and state is not None and state.parsed is not None and state.parsed.key == entry.key:
            ids.update(dict.fromkeys(state.parsed.project_ids))
    return list(ids)


def _problem_counts(out: OutputDir) -> dict[str, int]:
    problems = out.read_table(TABLES["parse_issues"], columns=["problem"]).column("problem")
    return {row["values"]: row["counts"] for row in pc.value_counts(problems).to_pylist()}
