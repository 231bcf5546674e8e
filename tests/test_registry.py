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
