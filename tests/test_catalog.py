"""The DuckDB catalog beside the Parquet tables (pipeline/catalog.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from pipeline.catalog import CATALOG_FILE, column_comment, write_catalog
from pipeline.schema import TABLES
from tests.conftest import ROOT


@pytest.fixture()
def output(demo_output, tmp_path):
    """A copy of the demo output (the shared one stays as the run left it)."""
    copy = tmp_path / "project" / "data"
    shutil.copytree(demo_output, copy, ignore=shutil.ignore_patterns("raw", "_parsed", "_state"))
    return copy


def test_every_view_and_column_has_its_registry_description(output):
    import duckdb

    path = write_catalog(output)
    assert path == output / CATALOG_FILE and not list(output.glob(".*.tmp*"))
    with duckdb.connect(str(path), read_only=True) as con:
        views = dict(con.execute("SELECT view_name, comment FROM duckdb_views() WHERE NOT internal").fetchall())
        columns = {
            (t, c): comment
            for t, c, comment in con.execute(
                "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal"
            ).fetchall()
        }
        assert views == {name: table.description for name, table in TABLES.items()}
        expected = {(name, f.name): column_comment(f) for name, table in TABLES.items() for f in table.fields}
        assert columns == expected
        assert all(comment for comment in columns.values())
        assert columns[("projects", "esf_grant_sek")].endswith("Unit: SEK.")
        # The views read the tables: the same rows and the documented types.
        assert con.execute("SELECT count(*) FROM projects").fetchone()[0] == 14
        described = dict((r[0], r[1]) for r in con.execute("DESCRIBE projects").fetchall())
        assert described["esf_grant_sek"] == "DECIMAL(18,2)" and described["planned_participants"] == "BIGINT"
        assert dict((r[0], r[1]) for r in con.execute("DESCRIBE organisations").fetchall())["names"] == "VARCHAR[]"


_QUERY = "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True).execute('SELECT count(*) FROM projects').fetchone()[0])"


@pytest.mark.parametrize(
    "cwd, db", [("project", "data/esf.duckdb"), ("project/data", "esf.duckdb"), ("", "project/data/esf.duckdb")]
)
def test_the_views_work_from_the_project_root_and_from_inside_the_directory(output, cwd, db):
    write_catalog(output)
    where = output.parent.parent / cwd
    done = subprocess.run([sys.executable, "-c", _QUERY, db], cwd=where, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "14"


def test_a_moved_directory_is_pointed_at_again(output):
    import duckdb

    write_catalog(output)
    moved = output.parent / "moved"
    output.rename(moved)
    with duckdb.connect(str(moved / CATALOG_FILE), read_only=True) as con, pytest.raises(duckdb.IOException):
        con.execute("SELECT count(*) FROM projects").fetchone()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.catalog", str(moved)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(moved / CATALOG_FILE), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM projects").fetchone()[0] == 14


def test_a_table_without_its_file_has_no_view_and_the_catalog_is_replaced(output):
    import duckdb

    write_catalog(output)
    (output / "project_contacts.parquet").unlink()  # --without-personal-data
    write_catalog(output, ["projects", "project_contacts", "pages"])
    with duckdb.connect(str(output / CATALOG_FILE), read_only=True) as con:
        names = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert names == {"projects", "pages"}


def test_the_catalog_is_written_in_a_process_that_refuses_numpy_and_pandas(output):
    # The console script's process refuses them (pipeline/cli.py _Refused): the catalog must not need them.
    code = (
        "import sys; from pipeline.cli import _Refused; sys.meta_path.insert(0, _Refused()); "
        "from pipeline.catalog import write_catalog; write_catalog(sys.argv[1]); "
        "print(any(m in sys.modules for m in ('numpy', 'pandas')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_missing_directory_is_an_error(tmp_path):
    with pytest.raises(NotADirectoryError):
        write_catalog(tmp_path / "nothing")


def test_pandas_with_the_pyarrow_backend_keeps_integers_integers(demo_output):
    # What the README's examples rely on: the default backend makes a count with gaps float64.
    import pandas as pd

    default = pd.read_parquet(demo_output / "projects.parquet")
    arrow = pd.read_parquet(demo_output / "projects.parquet", dtype_backend="pyarrow")
    assert default["planned_participants"].isna().any() and str(default["planned_participants"].dtype) == "float64"
    assert str(arrow["planned_participants"].dtype) == "int64[pyarrow]"
    assert str(arrow["esf_grant_sek"].dtype) == "decimal128(18, 2)[pyarrow]"
