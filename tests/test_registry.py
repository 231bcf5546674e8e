"""The field registry drives the schemas, the Dagster column schemas and the data dictionary, and every
field the parser's vocabulary reads lands in a column (or is declared internal, with the reason)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from assets.tables import column_schema
from parsers.lookups import vocabulary
from pipeline import schema
from pipeline.dictionary import render
from pipeline.schema import INTERNAL_FIELDS, TABLES, column_sources, unmapped_vocabulary_fields

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


def test_every_vocabulary_field_fills_a_column_or_is_declared_internal():
    """A field the parser reads and no table keeps would vanish silently: each one is a column's source=,
    a column of projects of its own name, or in INTERNAL_FIELDS with the reason."""
    fields = vocabulary()["fields"]
    unmapped = unmapped_vocabulary_fields(fields)
    assert unmapped == [], (
        f"vocabulary fields no column comes from: {unmapped} (add a column, a source= on the column "
        "they fill, or an entry with the reason in INTERNAL_FIELDS in pipeline/schema.py)"
    )
    mapped = {s for table in TABLES.values() for sources in column_sources(table, fields).values() for s in sources}
    for name, reason in INTERNAL_FIELDS.items():
        assert name in fields and reason, f"INTERNAL_FIELDS[{name!r}]: not a vocabulary field, or no reason"
        assert name not in mapped, f"INTERNAL_FIELDS[{name!r}]: a column comes from it, it is not internal"


def test_a_vocabulary_field_without_a_column_is_named_unless_declared_internal(monkeypatch):
    fields = [*vocabulary()["fields"], "target_group"]
    assert unmapped_vocabulary_fields(fields) == ["target_group"]
    monkeypatch.setitem(schema.INTERNAL_FIELDS, "target_group", "only tells the family apart")
    assert unmapped_vocabulary_fields(fields) == []


def test_every_source_names_a_vocabulary_field():
    fields = vocabulary()["fields"]
    for table in TABLES.values():
        for field in table.fields:
            assert set(field.source) <= set(fields), f"{table.name}.{field.name}: source={field.source}"


def test_contacts_and_the_period_fill_columns_through_their_sources():
    fields = vocabulary()["fields"]
    contacts = column_sources(TABLES["project_contacts"], fields)
    assert contacts == {"name": ("contact_name",), "email": ("contact_email",), "phone": ("contact_phone",)}
    projects = column_sources(TABLES["projects"], fields)
    assert {c for c, sources in projects.items() if "period" in sources} == {
        "start_date",
        "end_date",
        "period_precision",
        "period_raw",
    }
