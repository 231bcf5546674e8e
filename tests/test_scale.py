"""The parts that make large crawls fast and the output portable: parsing in worker processes while
the crawl goes on, and output locations given as URLs (fsspec)."""

from __future__ import annotations

from datetime import datetime, timezone

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_assets

# Columns that differ between two runs by design (when they ran).
RUN_TIME = {"fetched_at", "first_seen_at", "last_seen_at", "last_changed_at", "observed_at"}


def _same(frame: pd.DataFrame, expected: pd.DataFrame) -> None:
    columns = [c for c in expected.columns if c not in RUN_TIME]
    left = frame[columns].sort_values(columns[:2]).reset_index(drop=True)
    right = expected[columns].sort_values(columns[:2]).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)


def _materialized(result) -> dict:
    return {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}


def test_pages_parsed_by_worker_processes_during_the_crawl_give_the_same_tables(
    demo_site_url, demo_tables, tmp_path, monkeypatch
):
    import pipeline.parse_step as step

    monkeypatch.setattr(step, "BATCH_SIZE", 2)
    # The demo site is small; real crawls start at 200 pages.
    result = run_assets([demo_site_url], tmp_path / "out", parse_pool_threshold=2)
    assert result.success
    metadata = _materialized(result)
    assert metadata["crawled_pages"]["pages_parsed_during_crawl"].value >= 6
    for name in ("projects", "project_sections", "project_contacts", "parse_issues", "pages"):
        _same(pd.read_parquet(tmp_path / "out" / f"{name}.parquet"), demo_tables[name])
    pages = pd.read_parquet(tmp_path / "out" / "pages.parquet")
    assert pages.loc[pages["status"] == 200, "parsed_in_run"].all()


def test_output_location_as_a_file_url(demo_site_url, demo_tables, tmp_path):
    location = (tmp_path / "out").as_uri()  # file:///...
    assert location.startswith("file:///")
    assert run_assets([demo_site_url], location).success
    _same(pd.read_parquet(tmp_path / "out" / "projects.parquet"), demo_tables["projects"])
    assert list((tmp_path / "out" / "raw").glob("*/*.html"))
    second = run_assets([demo_site_url], location)  # the state is read back through the URL too
    assert second.success
    pages = pd.read_parquet(tmp_path / "out" / "pages.parquet")
    assert not pages["parsed_in_run"].any()  # unchanged pages: rows carried over from the cache


def test_output_location_on_a_non_local_filesystem(demo_site_url, demo_tables, monkeypatch):
    # fsspec's in-memory filesystem takes the code path of object stores (s3://, gs://): no local
    # paths, no rename, writes through fs.open. It lives in one process, so no worker pool is used
    # even when the crawl is large enough for one.
    import pipeline.parse_step as step

    monkeypatch.setattr(step, "BATCH_SIZE", 2)
    fs = fsspec.filesystem("memory")
    result = run_assets([demo_site_url], "memory://esf-test/out", parse_pool_threshold=2)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    path = _materialized(result)["projects"]["path"].value
    assert path.startswith("memory://") and path.endswith("/esf-test/out/projects.parquet")
    projects = pq.read_table("esf-test/out/projects.parquet", filesystem=fs).to_pandas()
    _same(projects, demo_tables["projects"])
    assert not [p for p in fs.find("esf-test/out") if p.endswith(".tmp")]
    fs.rm("esf-test", recursive=True)


def test_a_run_over_an_unchanged_site_keeps_the_published_child_tables(demo_site_url, tmp_path):
    out = tmp_path / "out"
    assert run_assets([demo_site_url], out).success
    sections = (out / "project_sections.parquet").read_bytes()
    first_projects = pd.read_parquet(out / "projects.parquet")
    second = run_assets([demo_site_url], out)
    assert second.success
    metadata = _materialized(second)
    for name in ("project_sections", "project_contacts", "project_fields", "project_municipalities", "parse_issues"):
        assert "kept" in metadata[name], name
        assert metadata[name]["dagster/row_count"].value == pq.read_metadata(out / f"{name}.parquet").num_rows
    assert "kept" not in metadata["projects"] and "kept" not in metadata["pages"]
    assert (out / "project_sections.parquet").read_bytes() == sections
    projects = pd.read_parquet(out / "projects.parquet")
    _same(projects, first_projects)  # the same projects, history columns brought up to date
    assert (projects["last_seen_at"] > first_projects["last_seen_at"]).all() or (
        projects["last_seen_at"] >= first_projects["last_seen_at"]
    ).all()
    assert metadata["parse_issues"]["issues_by_problem"].value  # counted from the kept table


def _stored_pages(out, count: int):
    from pipeline.pages import FetchedPage
    from tests.test_nightly import project_page

    pages = []
    for n in range(count):
        sha = out.put_raw(project_page(f"2020/{n + 1:05d}", f"Ägare {n}"))
        pages.append(
            FetchedPage(
                f"http://127.0.0.1/p{n}.html", "test", 200, None, sha, "text/html; charset=utf-8", key=f"p{n}.html"
            )
        )
    return pages


def test_an_unreadable_raw_body_is_reported_and_parsed_again_next_run(tmp_path):
    import os

    from pipeline.parse_step import page_parse_key, parse_pages
    from pipeline.storage import OutputDir

    out = OutputDir(tmp_path / "out")
    out.ensure()
    [page] = _stored_pages(out, 1)
    raw = out.raw_path(page.content_sha256)
    body = open(raw, "rb").read()
    os.remove(raw)  # the archive lost the body (a disk error, a half-restored backup)
    first = parse_pages([page], out)
    [entry] = first.entries
    assert entry.issues and entry.issues[0]["problem"] == "parse_failed" and "not readable" in entry.issues[0]["note"]
    assert not out.has_parsed(page_parse_key(page))  # not cached
    assert first.states["test"].pages[page.key].parsed is None
    with open(raw, "wb") as handle:
        handle.write(body)
    second = parse_pages([page], out, first.states)
    assert second.counts["parsed"] == 1 and not second.entries[0].issues
    assert second.states["test"].pages[page.key].parsed.project_ids == ("2020/00001",)


@pytest.mark.parametrize("parse_rest_here", [True, False])
def test_pages_of_a_worker_that_died_are_parsed_in_this_process(tmp_path, monkeypatch, parse_rest_here):
    import os
    from concurrent.futures.process import BrokenProcessPool

    import pipeline.parse_step as step
    from pipeline.parse_step import ParsePool, page_id, parse_key
    from pipeline.storage import OutputDir

    monkeypatch.setattr(step, "BATCH_SIZE", 2)
    out = OutputDir(tmp_path / "out")
    out.ensure()
    pages = [(p.url, p.content_sha256, p.content_type, page_id(p.source, p.key)) for p in _stored_pages(out, 9)]
    pool = ParsePool(out, workers=2, min_pages=1)
    pool.add(*pages[0])  # starts the pool
    assert pool.pool is not None
    death = pool.pool.submit(os._exit, 1)  # a worker killed (out of memory, say) while it held pages 1 and 2
    assert isinstance(death.exception(timeout=120), BrokenProcessPool)
    pool.futures.append((death, pages[1:3]))
    for page in pages[3:]:
        pool.add(*page)  # the pool is broken: no error, the pages wait
    done = pool.finish(parse_rest_here=parse_rest_here)
    after_death = {parse_key(*page) for page in pages[1:]}
    if parse_rest_here:  # the parse step: every page parsed, here
        assert after_death <= set(done) and all(done[key].project_ids for key in after_death)
    else:  # during the crawl: left to the parse step, which parses what is not in the cache
        assert not after_death & set(done)
        assert not any(out.has_parsed(key) for key in after_death)


def test_history_of_unchanged_rows_in_arrow_matches_the_row_by_row_rule(demo_output):
    from datetime import date, datetime, timezone

    import pyarrow as pa

    from pipeline.history import HISTORY_COLUMNS, History
    from pipeline.schema import PROJECTS

    previous = pq.read_table(demo_output / "projects.parquet").cast(PROJECTS.schema)
    ids = previous.column("project_id").to_pylist()
    # Rows 3-6 were removed before (row 3 without a date); 3 stays removed, 4 comes back and is seen,
    # 5 comes back unseen, 6 stays removed with its date. Row 7 has no status at all (seen), row 8 neither (gone).
    status = [
        None if n in (7, 8) else "removed" if n in (3, 4, 5, 6) else s
        for n, s in enumerate(previous.column("status").to_pylist())
    ]
    removed_at = [date(2029, 5, 1) if n in (4, 5, 6) else None for n in range(len(ids))]
    for name, values in (("status", status), ("removed_at", removed_at)):
        field = PROJECTS.schema.field(name)
        previous = previous.set_column(previous.schema.get_field_index(name), field, pa.array(values, field.type))
    removed = {ids[1], ids[3], ids[6], ids[8]}
    seen = set(ids[::2]) - removed  # some seen, some gone, the rest neither (as the parse step gives them)
    assert len(ids) > 8
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    by_rows, by_arrow = History(previous, seen, removed, now), History(previous, seen, removed, now)
    rows = previous.to_pylist()
    row_changes = by_rows.apply(rows)
    table, arrow_changes = by_arrow.apply_unchanged(previous)
    assert arrow_changes == row_changes and {c["field"] for c in row_changes} == {"status"}
    assert table.select(list(HISTORY_COLUMNS)).to_pylist() == [{c: r[c] for c in HISTORY_COLUMNS} for r in rows]
    assert table.drop_columns(list(HISTORY_COLUMNS)).equals(previous.drop_columns(list(HISTORY_COLUMNS)))
    assert by_rows.current_ids == by_arrow.current_ids == set(ids)
    empty, no_changes = History(previous, seen, removed, now).apply_unchanged(previous.slice(0, 0))
    assert empty.num_rows == 0 and empty.schema.equals(previous.schema) and no_changes == []


@pytest.mark.parametrize("env, expected", [({}, "jemalloc"), ({"ARROW_DEFAULT_MEMORY_POOL": "system"}, "system")])
def test_arrow_memory_pool_is_chosen_before_pyarrow_loads(env, expected):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    environment = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"} | env
    done = subprocess.run(
        [sys.executable, "-c", "import pipeline.cli, pyarrow; print(pyarrow.default_memory_pool().backend_name)"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_a_cli_run_needs_neither_pandas_nor_numpy(tmp_path):
    """The console script refuses pandas, numpy and httpx's command line (imported only to look around):
    a whole demo run still writes every table, and none of them is ever imported."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    script = (
        "import sys\n"
        "from pipeline import cli\n"
        "sys.meta_path.insert(0, cli._Refused())\n"
        f"code = cli.main(['demo', '--output', {str(tmp_path)!r}])\n"
        "import pyarrow.parquet as pq\n"
        f"rows = pq.ParquetFile({str(tmp_path / 'projects.parquet')!r}).metadata.num_rows\n"
        "refused = []\n"
        "for name in ('pandas', 'numpy'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ModuleNotFoundError:\n"
        "        refused.append(name)\n"
        "print(code, rows, ','.join(refused), any(m in sys.modules for m in ('pandas', 'numpy', 'httpx._main')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    code, rows, refused, imported = done.stdout.split()[-4:]
    assert (code, refused, imported) == ("0", "pandas,numpy", "False") and int(rows) >= 10


def test_the_parse_workers_import_neither_pyarrow_nor_the_http_stack():
    """The forkserver and every parse worker import WORKER_MODULES, and each worker runs the parent's main
    script again as __mp_main__ (the console script imports pipeline.cli). With pyarrow, numpy and httpx
    the forkserver took 118 MB and each worker 63 MB; without them 32 and 45 MB."""
    import ast
    import subprocess
    import sys

    from tests.conftest import ROOT

    script = (
        "import importlib, sys\nfrom pipeline.parse_step import WORKER_MODULES\n"
        "for name in [*WORKER_MODULES, 'pipeline.cli']:\n    importlib.import_module(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    imported = set(ast.literal_eval(done.stdout))
    assert "lxml" in imported and "parsers" in imported
    assert not imported & {"pyarrow", "numpy", "pandas", "httpx", "httpcore", "anyio", "dagster"}


@pytest.mark.parametrize(
    "info",
    [
        {"mtime": 1_700_000_000.0},  # local
        {"LastModified": datetime.fromtimestamp(1_700_000_000, timezone.utc)},  # s3fs
        {"updated": "2023-11-14T22:13:20Z"},  # gcsfs
        {"last_modified": "2023-11-14T22:13:20+00:00"},  # adlfs
    ],
)
def test_modification_times_of_every_filesystem_are_read(info):
    from pipeline.storage import _modified_at

    assert _modified_at(info) == 1_700_000_000.0
    assert _modified_at({"size": 3}) is None


def test_a_state_is_handed_to_the_next_asset_without_reading_its_file_unless_the_file_changed(tmp_path, monkeypatch):
    from pipeline import codec
    from pipeline.codec import StateError
    from pipeline.storage import OutputDir

    out = OutputDir(tmp_path)
    out.ensure()
    value = {"pages": [1, 2, 3]}
    out.save_state("run/crawl", "test", value)
    reads = []
    real_loads = codec.loads
    monkeypatch.setattr(codec, "loads", lambda *args: reads.append(args) or real_loads(*args))
    assert OutputDir(tmp_path).load_state("run/crawl", "test", dict[str, list[int]]) is value and not reads
    # Handed over once: a later load reads the file, and keeps what it read for the load after it.
    assert out.load_state("run/crawl", "test", dict[str, list[int]]) == value and len(reads) == 1
    kept = out.load_state("run/crawl", "test", dict[str, list[int]])
    assert kept == value and len(reads) == 1
    # Another process replaces the file: the new content is read, not a value kept from before.
    out.load_state("run/crawl", "test", dict[str, list[int]])
    assert len(reads) == 2
    path = tmp_path / "_state" / "run" / "crawl.json"
    (path.parent / "new").write_bytes(codec.dumps("test", {"pages": [4]}))
    (path.parent / "new").replace(path)
    assert out.load_state("run/crawl", "test", dict[str, list[int]]) == {"pages": [4]} and len(reads) == 3
    out.save_state("run/crawl", "test", value)
    out.remove_state("run/crawl")
    with pytest.raises(StateError, match="crawl.json is missing"):
        out.load_state("run/crawl", "test", dict[str, list[int]])
