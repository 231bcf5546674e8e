"""The commit point (pipeline/storage.py): a run's tables are written under runs/<run>/ and made current in
one step, so a reader never sees two runs mixed; the previous run stays readable until the next commit; a
failed run leaves the current run as it was; an output copied by a tool that follows links, or one of the
older flat layout, goes on. Real runs of the job over a loopback site, real Parquet files."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.schema import PROJECTS
from pipeline.storage import CURRENT_FILE, OutputDir
from tests.conftest import run_assets
from tests.sitekit import Response, RouteSite, listing, project_page, serve

NUMBERS = ["2023/00001", "2023/00002", "2023/00003", "2023/00004", "2023/00005"]


@pytest.fixture
def site():
    site = RouteSite()
    site.routes["/bank/"] = Response(200, listing([f"/bank/p/{n}.html" for n in range(len(NUMBERS))]))
    for n, number in enumerate(NUMBERS):
        site.routes[f"/bank/p/{n}.html"] = Response(200, project_page(number, f"Ägare {n}"))
    with serve(site):
        yield site


def _run(site: RouteSite, out: Path, **options):
    result = run_assets([f"bank={site.url('/bank/')}"], out, **options)
    return result


def _current(out: Path) -> str:
    document = json.loads((out / CURRENT_FILE).read_text())  # docs/state-format.md
    assert document["format"] == "esf-pipeline/current" and document["version"] == 1
    return document["data"]["run"]


def _owners(path: Path) -> dict[str, str]:
    return dict(zip(*pq.read_table(path, columns=["project_id", "owner"]).to_pydict().values()))


def test_each_run_is_made_current_at_once_and_the_previous_one_stays_readable(site, tmp_path):
    out = tmp_path / "out"
    assert _run(site, out).success
    first = _current(out)
    assert os.readlink(out / "current") == os.path.join("runs", first)
    names = sorted(p.name for p in (out / "runs" / first).glob("*.parquet"))
    assert "projects.parquet" in names and "pages.parquet" in names
    for name in names:  # each table at the top is the current run's file
        assert os.readlink(out / name) == os.path.join("current", name)
        assert (out / name).resolve() == (out / "runs" / first / name).resolve()
    opened = (out / "projects.parquet").resolve()  # what a reader that started before the next run holds

    site.routes["/bank/p/0.html"] = Response(200, project_page(NUMBERS[0], "Ny ägare"))
    assert _run(site, out).success
    second = _current(out)
    assert second != first and os.readlink(out / "current") == os.path.join("runs", second)
    assert _owners(out / "projects.parquet")[NUMBERS[0]] == "Ny ägare"
    assert _owners(opened)[NUMBERS[0]] == "Ägare 0"  # the previous run, whole, until the next commit

    assert _run(site, out).success  # nothing changed: the tables it does not rewrite are carried over
    third = _current(out)
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted([second, third])
    carried = [
        p.name
        for p in (out / "runs" / third).glob("*.parquet")
        if p.stat().st_ino == (out / "runs" / second / p.name).stat().st_ino
    ]
    assert "parse_issues.parquet" in carried and "pages.parquet" not in carried  # linked, not copied
    assert OutputDir(out).current_run() == third


def test_a_failed_run_leaves_the_current_run_and_its_files_as_they_were(site, tmp_path):
    out = tmp_path / "out"
    assert _run(site, out).success
    run, before = _current(out), (out / "projects.parquet").read_bytes()
    for n in range(4):  # four of five projects gone: the removal guard stops the run before the commit
        site.routes[f"/bank/p/{n}.html"] = Response(410, b"")
    assert not _run(site, out).success
    assert _current(out) == run and (out / "projects.parquet").read_bytes() == before
    assert [p.name for p in (out / "runs").iterdir()] == [run]  # the failed run's folder is gone


def test_the_folder_of_a_killed_run_is_never_current_and_goes_at_the_next_commit(site, tmp_path):
    out = tmp_path / "out"
    assert _run(site, out).success
    first = _current(out)
    directory = OutputDir(out)
    orphan = directory.new_run(datetime.now(timezone.utc))
    writer = directory.table_writer(PROJECTS, orphan)
    writer.write([])
    writer.close()
    writer.publish()  # written into its folder, never committed: a run killed before its commit
    assert directory.current_run() == first and _owners(out / "projects.parquet")

    assert _run(site, out).success
    second = _current(out)
    # The previous committed run is kept for its readers; the killed run's folder is not.
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted([first, second])


def test_an_output_copied_with_its_links_followed_goes_on(site, tmp_path):
    out, copy = tmp_path / "out", tmp_path / "copy"
    assert _run(site, out).success
    shutil.copytree(out, copy, symlinks=False)  # cp -rL, a sync tool: `current` is a real folder now
    assert (copy / "current").is_dir() and not (copy / "current").is_symlink()
    before = _owners(copy / "projects.parquet")
    result = _run(site, copy)
    assert result.success
    assert (copy / "current").is_symlink() and (copy / "projects.parquet").is_symlink()
    assert _owners(copy / "projects.parquet") == before
    statuses = pq.read_table(copy / "projects.parquet", columns=["status"]).column(0).to_pylist()
    assert statuses == ["active"] * len(NUMBERS)


def test_an_output_of_the_flat_layout_is_read_and_moved_to_run_folders(site, tmp_path):
    out = tmp_path / "out"
    assert _run(site, out).success
    # The flat layout of earlier versions: each table a plain file at the top, no runs/, no CURRENT.json.
    for link in [p for p in out.glob("*.parquet") if p.is_symlink()]:
        data = link.read_bytes()
        link.unlink()
        link.write_bytes(data)
    shutil.rmtree(out / "runs")
    (out / "current").unlink()
    (out / CURRENT_FILE).unlink()
    assert OutputDir(out).current_run() is None

    result = _run(site, out)
    assert result.success
    assert (out / "projects.parquet").is_symlink() and OutputDir(out).current_run() == _current(out)
    table = pq.read_table(out / "projects.parquet").to_pandas()
    assert sorted(table["project_id"]) == NUMBERS and set(table["status"]) == {"active"}
    changes = pq.read_table(out / "project_changes.parquet").to_pandas()
    assert changes.empty  # the flat layout's projects were read as the previous run: nothing new, nothing gone
