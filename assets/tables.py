"""Output layer: the Parquet tables analysts read, published only when the blocking checks pass."""

from datetime import datetime, timezone

import dagster as dg
import pyarrow as pa
from tabulate import tabulate

from assets.logs import warn
from assets.parse import parsed_records
from assets.resources import OutputResource
from pipeline.checks import CHECKS
from pipeline.publish import NothingToPublish, PublishBlocked, PublishPolicy, publish_tables
from pipeline.schema import PROJECTS, TABLES, Table

CHECK_NAMES = {name: spec.blocking for name, spec in CHECKS.items()}  # name -> blocking


class PublishConfig(dg.Config):
    """allow_removals: accept a run that removes more than the set share of a source's active projects
    (after checking that the site really removed them)."""

    allow_removals: bool = False


def column_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                f.name, f.type, description=f.description, constraints=dg.TableColumnConstraints(nullable=f.nullable)
            )
            for f in table.fields
        ]
    )


def _preview(batch: pa.RecordBatch | None, table: Table) -> str:
    """The first rows as a Markdown table (tabulate, not pandas: importing pandas costs half a second
    of every run)."""
    rows = batch.to_pylist() if batch is not None else []

    def short(value: object) -> object:
        return value if not isinstance(value, str) or len(value) < 60 else value[:57] + "…"

    return tabulate(
        [[short(row[c]) for c in table.column_names] for row in rows], headers=table.column_names, tablefmt="pipe"
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            name,
            deps=[parsed_records],
            group_name="output",
            kinds={"parquet"},
            owners=["team:data-engineering"],
            description=table.description,
            metadata={"dagster/column_schema": column_schema(table)},
        )
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
    policy = PublishPolicy(
        output.personal_data,
        output.max_project_drop,
        output.max_unknown_label_share,
        output.max_removed_share,
        output.retention_days,
        config.allow_removals,
    )
    try:
        done = publish_tables(
            out,
            policy,
            datetime.now(timezone.utc).replace(microsecond=0),
            warn=lambda message: warn(context, message),
            info=context.log.info,
        )
    except NothingToPublish as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    except PublishBlocked as exc:
        raise dg.Failure(
            str(exc), metadata={o.name: dg.MetadataValue.json(o.failures) for o in exc.outcomes}, allow_retries=False
        ) from None
    outcomes, kept = done.outcomes, [name for name in TABLES if name not in done.left_out]
    for name, table in TABLES.items():
        if name not in kept:
            yield dg.MaterializeResult(
                asset_key=name,
                metadata={"left_out": "personal data not written (personal_data=False)", "dagster/row_count": 0},
            )
            continue
        results = []
        if name == PROJECTS.name:
            for check_name, blocking in CHECK_NAMES.items():
                outcome = outcomes.get(check_name)
                results.append(
                    dg.AssetCheckResult(
                        asset_key=name,
                        check_name=check_name,
                        passed=outcome.passed if outcome else True,
                        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
                        metadata={
                            "failures": dg.MetadataValue.json(outcome.failures if outcome else []),
                            "note": outcome.description if outcome else "no previous run to compare with",
                        },
                    )
                )
        metadata = {
            "dagster/row_count": done.written[name] if done.written.get(name) is not None else out.table_rows(table),
            "dagster/column_schema": column_schema(table),
            "path": dg.MetadataValue.path(out.url(f"{name}.parquet")),
            "preview": dg.MetadataValue.md(_preview(next(out.table_batches(table, batch_size=5), None), table)),
        }
        if done.written.get(name) is None:
            metadata["kept"] = (
                "the pages' content and issues did not change since the published run: file kept as it was"
            )
        if name == "parse_issues":
            metadata["issues_by_problem"] = dg.MetadataValue.json(done.problems)
        yield dg.MaterializeResult(asset_key=name, metadata=metadata, check_results=results)
