"""The field registry drives the schemas, the Dagster column schemas and the data dictionary."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from assets.tables import column_schema
from pipeline.dictionary import render
from pipeline.schema import TABLES

DOCS = Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md"


def test_data_dictionary_matches_the_registry():
    assert DOCS.read_text(encoding="utf-8") == render(), "run: python -m pipeline.dictionary > docs/data-dictionary.md"


def test_dagster_column_schema_follows_the_registry():
    for table in TABLES.values():
        schema = column_schema(table)
        assert [c.name for c in schema.columns] == table.column_names
        assert all(c.description for c in schema.columns)


def test_descriptions_are_stored_in_the_parquet_metadata(demo_output):
    for name, table in TABLES.items():
        schema = pq.read_schema(demo_output / f"{name}.parquet")
        for field in table.fields:
            assert schema.field(field.name).metadata[b"description"].decode() == field.description


DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "date32[day]": "DATE",
    "bool": "BOOLEAN",
    "double": "DOUBLE",
    "decimal128(18, 2)": "DECIMAL(18,2)",
    "decimal128(9, 6)": "DECIMAL(9,6)",
    "timestamp[ms, tz=UTC]": "TIMESTAMP WITH TIME ZONE",
    "list<item: string>": "VARCHAR[]",
}


def test_duckdb_and_pandas_read_every_table_with_the_documented_types(demo_output):
    import duckdb
    import pandas as pd

    for name, table in TABLES.items():
        path = demo_output / f"{name}.parquet"
        described = duckdb.sql(f"DESCRIBE SELECT * FROM '{path}'").fetchall()
        assert [(c[0], c[1]) for c in described] == [(f.name, DUCKDB_TYPES[str(f.type)]) for f in table.fields]
        frame = pd.read_parquet(path)
        assert list(frame.columns) == table.column_names
    projects = pd.read_parquet(demo_output / "projects.parquet")
    liv = projects.set_index("project_id").loc["2016/00418"]
    assert liv["esf_grant_sek"] == 4627244 and str(liv["start_date"]) == "2017-02-15"
