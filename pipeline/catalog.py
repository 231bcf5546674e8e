"""A DuckDB catalog beside the Parquet tables: ``esf.duckdb`` holds one view per table and the registry's
descriptions as comments, so ``duckdb data/esf.duckdb`` lists the tables and ``duckdb_columns()`` (and
``duckdb_views()``) show what every column means.

The views read the Parquet files by their ABSOLUTE paths. DuckDB resolves a relative path in a view against
the working directory of the process that queries it, never against the database file (duckdb/duckdb#2342;
``file_search_path`` is a setting of the session, not stored in the file). So a relative path works from one
directory only: ``projects.parquet`` from inside ``data/``, ``data/projects.parquet`` from the project root,
and no single relative path or glob works from both. An absolute path works from anywhere on the machine that
wrote it; the catalog is written again by every run, and after the directory is moved or copied,
``python -m pipeline.catalog DIR`` writes it again for its new place (the Parquet files need nothing).

Written to a temporary file in the same directory and renamed over ``esf.duckdb``: a reader never sees a
half-written catalog. Local directories only (DuckDB writes its database files itself).
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Iterable

from pipeline.schema import TABLES, Field, Table

CATALOG_FILE = "esf.duckdb"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def column_comment(field: Field) -> str:
    """A column's comment: its registry description, and its unit where it has one."""
    return field.description + (f" Unit: {field.unit}." if field.unit else "")


def write_catalog(output_dir: str | os.PathLike[str], tables: Iterable[Table | str] | None = None) -> Path:
    """Create or replace ``<output_dir>/esf.duckdb`` with a view (and its comments) for each of ``tables``
    (registry tables or their names; every registry table when None) whose Parquet file is in the directory.
    A table whose file is absent (project_contacts with --without-personal-data) gets no view. Returns the
    catalog's path."""
    import duckdb

    directory = Path(output_dir).expanduser().resolve()
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a directory")
    chosen = [TABLES[t] if isinstance(t, str) else t for t in (TABLES.values() if tables is None else tables)]
    final = directory / CATALOG_FILE
    temp = directory / f".{CATALOG_FILE}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        connection = duckdb.connect(str(temp))
        try:
            # One transaction: statement by statement, each COMMENT ON is committed on its own, three times
            # slower (docs/measurements.md).
            connection.execute("BEGIN")
            for table in chosen:
                parquet = directory / f"{table.name}.parquet"
                if not parquet.is_file():
                    continue
                # The file itself (runs/<run>/…): every view of one catalog reads one run, whatever is
                # committed while a query runs.
                parquet = parquet.resolve()
                view = _identifier(table.name)
                connection.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet({_literal(str(parquet))})")
                connection.execute(f"COMMENT ON VIEW {view} IS {_literal(table.description)}")
                for field in table.fields:
                    connection.execute(
                        f"COMMENT ON COLUMN {view}.{_identifier(field.name)} IS {_literal(column_comment(field))}"
                    )
            connection.execute("COMMIT")
            connection.execute("CHECKPOINT")
        finally:
            connection.close()
        os.replace(temp, final)
    finally:
        for leftover in (temp, Path(f"{temp}.wal")):
            leftover.unlink(missing_ok=True)
    return final


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.catalog DIR``: write DIR/esf.duckdb for the tables in DIR (after moving it)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m pipeline.catalog OUTPUT_DIR", file=sys.stderr)
        return 2
    try:
        path = write_catalog(args[0])
    except NotADirectoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
