"""A table written in batches to Parquet with the registry's exact schema."""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schema import Table

if TYPE_CHECKING:
    from pipeline.storage import OutputDir


class TableWriter:
    """A table written in batches to a temporary file beside its final name; ``publish`` moves it
    into place, ``abort`` removes it. Memory holds one batch, however large the table."""

    def __init__(self, out: OutputDir, table: Table, batch_rows: int = 2000, run: str | None = None) -> None:
        self.out, self.table, self.batch_rows = out, table, batch_rows
        self.final = out.table_path(table, run)  # without a run: the current run's file, in place
        folder = self.final.rsplit("/", 1)[0]
        self.temp = f"{folder}/.{table.name}.parquet.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
        self.rows = 0
        self._pending: list[dict[str, Any]] = []
        self._handle = out.fs.open(self.temp, "wb")
        self._writer = pq.ParquetWriter(self._handle, table.schema, compression="zstd", write_statistics=True)

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        self._pending.extend(rows)
        if len(self._pending) >= self.batch_rows:
            self._flush()

    def write_arrow(self, batch: pa.RecordBatch | pa.Table) -> None:
        self._flush()
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        self._writer.write_table(table.select(self.table.column_names).cast(self.table.schema))
        self.rows += table.num_rows

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(to_arrow(self.table, self._pending), row_group_size=1 << 20)
            self.rows += len(self._pending)
            self._pending = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
        self._handle.close()

    def publish(self) -> None:
        if self.out.local:
            os.replace(self.temp, self.final)
        else:
            self.out.fs.mv(self.temp, self.final)

    def abort(self) -> None:
        try:
            self._writer.close()
            self._handle.close()
        except Exception:  # already closed or broken: removing the file is what matters
            pass
        if self.out.fs.exists(self.temp):
            self.out.fs.rm(self.temp)


def to_arrow(table: Table, rows: Iterable[dict[str, Any]]) -> pa.Table:
    """Rows -> an Arrow table with the registry's exact schema (also when there are no rows)."""
    rows = list(rows)
    columns = {name: [row.get(name) for row in rows] for name in table.column_names}
    return pa.Table.from_pydict(columns, schema=table.schema)
