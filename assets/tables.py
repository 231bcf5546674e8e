"""Output layer: the Parquet tables analysts read, published only when the blocking checks pass."""

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.parse import parsed_records
from datetime import datetime, timezone

from pipeline.checks import project_checks
from pipeline.history import apply_history
from pipeline.resources import OutputResource
from pipeline.schema import CHANGES, PROJECTS, TABLES, Table

CHECK_NAMES = {
    "project_id_unique": True, "required_columns_present": True, "start_not_after_end": True,
    "grant_within_budget": False, "rate_is_fraction": True, "participants_not_negative": True,
    "nuts2_known": True, "unknown_label_share": False, "project_count_not_collapsed": True,
}


def column_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(f.name, str(f.type), description=f.description,
                       constraints=dg.TableColumnConstraints(nullable=f.nullable))
        for f in table.fields
    ])


def _preview(arrow: pa.Table, rows: int = 5) -> str:
    frame = arrow.slice(0, rows).to_pandas()
    text_columns = [c for c in frame.columns if frame[c].dtype == object]
    for c in text_columns:
        frame[c] = frame[c].map(lambda x: x if not isinstance(x, str) or len(x) < 60 else x[:57] + "…")
    return frame.to_markdown(index=False)


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
    """Write every table atomically. A failing blocking check stops the run before anything is
    written, so bad data is never published over good data."""
    out = output.directory()
    parsed = out.load_state("parsed")
    rows = parsed.rows
    previous = out.table_path(PROJECTS)
    previous_projects = pq.read_table(previous).to_pylist() if previous.exists() else []
    previous_count = len(previous_projects) or None
    now = datetime.now(timezone.utc).replace(microsecond=0)
    rows.projects, changes = apply_history(rows.projects, previous_projects, parsed.seen_ids, parsed.removed_ids, now)
    changes_path = out.table_path(CHANGES)
    rows.project_changes = (pq.read_table(changes_path).to_pylist() if changes_path.exists() else []) + changes
    outcomes = {o.name: o for o in project_checks(rows.projects, rows.parse_issues, previous_count,
                                                            output.max_project_drop, output.max_unknown_label_share)}
    blocked = [o for o in outcomes.values() if o.blocking and not o.passed]
    if blocked:
        raise dg.Failure(
            "blocking checks failed, previous tables kept: " + "; ".join(f"{o.name} {o.failures[:5]}" for o in blocked),
            metadata={o.name: dg.MetadataValue.json(o.failures) for o in blocked},
        )
    arrows = {}
    for name, table in TABLES.items():
        if table.personal_data and not output.personal_data:
            out.table_path(table).unlink(missing_ok=True)  # an older file must not outlive the choice
            continue
        arrows[name] = out.write_table(table, getattr(rows, name))
    # Only after every table is in place does the next run start from this run's state.
    out.save_state("pages_state", parsed.states)
    for name, table in TABLES.items():
        if name not in arrows:
            yield dg.MaterializeResult(asset_key=name, metadata={"left_out": "personal data not written (personal_data=False)",
                                                                  "dagster/row_count": 0})
            continue
        arrow = arrows[name]
        checks = []
        if name == PROJECTS.name:
            for check_name in CHECK_NAMES:
                outcome = outcomes.get(check_name)
                checks.append(dg.AssetCheckResult(
                    asset_key=name, check_name=check_name, passed=outcome.passed if outcome else True,
                    severity=dg.AssetCheckSeverity.ERROR if CHECK_NAMES[check_name] else dg.AssetCheckSeverity.WARN,
                    metadata={"failures": dg.MetadataValue.json(outcome.failures if outcome else []),
                              "note": outcome.description if outcome else "no previous run to compare with"},
                ))
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": arrow.num_rows,
                "dagster/column_schema": column_schema(table),
                "path": dg.MetadataValue.path(str(out.table_path(table))),
                "preview": dg.MetadataValue.md(_preview(arrow)),
            },
            check_results=checks,
        )
