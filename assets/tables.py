"""Output layer: the Parquet tables analysts read, published only when the blocking checks pass."""

from collections import Counter
from datetime import datetime, timezone
from typing import Any

import dagster as dg
import pyarrow as pa

from assets.parse import parsed_records
from pipeline.checks import ProjectChecks
from pipeline.history import History
from pipeline.parse_step import Entry
from pipeline.resources import OutputResource
from pipeline.rows import Rows
from pipeline.schema import CHANGES, PROJECTS, TABLES, Table
from pipeline.storage import OutputDir, TableWriter

CHILD_TABLES = ("project_contacts", "project_sections", "project_municipalities", "project_fields")

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


def _preview(batch: pa.RecordBatch | None, table: Table) -> str:
    frame = (batch if batch is not None else table.schema.empty_table()).to_pandas()
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
    """Write every table in batches to temporary files, then publish them all. A failing blocking
    check stops the run before anything is published, so bad data never replaces good data."""
    out = output.directory()
    parsed = out.load_state("parsed")
    previous = out.read_table(PROJECTS) if out.has_table(PROJECTS) else None
    now = datetime.now(timezone.utc).replace(microsecond=0)
    checks = ProjectChecks()
    kept = {name: table for name, table in TABLES.items() if output.personal_data or not table.personal_data}
    writers = {name: out.table_writer(table) for name, table in kept.items()}
    try:
        for batch in out.table_batches(CHANGES):  # the history so far, then this run's changes
            writers[CHANGES.name].write_arrow(batch)
        assembler = TableAssembler(out, writers, History(previous, parsed.seen_ids, parsed.removed_ids, now), checks)
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
    for writer in writers.values():
        writer.publish()
    for name, table in TABLES.items():
        if name not in kept:
            out.remove_table(table)  # an older file must not outlive the choice
    # Only after every table is in place does the next run start from this run's state.
    out.save_state("pages_state", parsed.states)
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
            "dagster/row_count": writers[name].rows,
            "dagster/column_schema": column_schema(table),
            "path": dg.MetadataValue.path(out.url(f"{name}.parquet")),
            "preview": dg.MetadataValue.md(_preview(next(out.table_batches(table, batch_size=5), None), table)),
        }
        if name == "parse_issues":
            metadata["issues_by_problem"] = dg.MetadataValue.json(dict(assembler.problems))
        yield dg.MaterializeResult(asset_key=name, metadata=metadata, check_results=results)


class TableAssembler:
    """Builds the rows of every table from the run's entries (each page's cached rows), one page at
    a time: a project seen at two addresses is kept once (the first) and reported; projects get
    their history columns in batches."""

    def __init__(self, out: OutputDir, writers: dict[str, TableWriter], history: History, checks: ProjectChecks,
                 batch: int = 1000) -> None:
        self.out, self.writers, self.history, self.checks, self.batch = out, writers, history, checks, batch
        self.first_url: dict[str, str] = {}
        self.projects: list[dict[str, Any]] = []
        self.problems: Counter = Counter()

    def _write(self, name: str, rows: list[dict[str, Any]]) -> None:
        if name in self.writers and rows:
            self.writers[name].write(rows)

    def add(self, entry: Entry) -> None:
        rows = self.out.get_parsed(entry.key)[1] if entry.key else Rows()
        if entry.page is not None:
            self._write("pages", [entry.page])
        issues = rows.parse_issues + entry.issues
        dropped: set[str] = set()
        kept_here: set[str] = set()
        for project in rows.projects:
            pid = project["project_id"]
            first = self.first_url.setdefault(pid, entry.url)
            if first == entry.url and pid not in kept_here:
                kept_here.add(pid)
                self.projects.append(project)
                continue
            issues.append({"url": project["source_url"], "project_id": pid, "field": "project_id", "raw_value": pid,
                           "problem": "duplicate_project", "severity": "warning", "note": f"also at {first}; first kept"})
            if first != entry.url:
                dropped.add(pid)  # child rows follow the kept project
        for name in CHILD_TABLES:
            self._write(name, [r for r in getattr(rows, name) if r["project_id"] not in dropped])
        self._write("parse_issues", issues)
        self.checks.add_issues(issues)
        self.problems.update(i["problem"] for i in issues)
        if len(self.projects) >= self.batch:
            self._flush()

    def _flush(self) -> None:
        changes = self.history.apply(self.projects)
        self._publish_projects(self.projects, changes)
        self.projects = []

    def _publish_projects(self, projects: list[dict[str, Any]], changes: list[dict[str, Any]]) -> None:
        self.checks.add_projects(projects)
        self._write(PROJECTS.name, projects)
        self._write(CHANGES.name, changes)

    def finish(self) -> None:
        self._flush()
        for rows, changes in self.history.vanished():
            self._publish_projects(rows, changes)
