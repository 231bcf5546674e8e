"""The command line as an operator meets it: nonsense arguments are usage errors, the demo run twice
changes nothing, Ctrl-C and SIGTERM end a run within seconds with its workers and change nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.sitekit import Response, RouteSite, listing, project_page, serve

RUN_TIME = {"fetched_at", "first_seen_at", "last_seen_at", "last_changed_at", "observed_at", "last_complete_at"}


def _cli(*args: str, **env_vars: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **env_vars)
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )


@pytest.mark.parametrize(
    "option, value",
    [
        ("--concurrency", "-1"),
        ("--concurrency", "0"),
        ("--concurrency", "two"),
        ("--delay", "-1"),
        ("--delay", "nan"),
        ("--delay", "inf"),
        ("--max-pages", "0"),
    ],
)
def test_nonsense_arguments_are_usage_errors(tmp_path, option, value):
    done = _cli("run", "--start-url", "http://127.0.0.1:9/x/", "--output", str(tmp_path / "out"), option, value)
    assert done.returncode == 2, done.stderr
    assert option in done.stderr and not (tmp_path / "out").exists()
    assert done.stderr.strip().count("\n") == 0  # one line


def test_two_start_urls_that_would_share_a_name_are_a_usage_error(tmp_path):
    done = _cli(
        "run",
        "--start-url",
        "http://127.0.0.1:9/x/",
        "--start-url",
        "http://127.0.0.1:10/x/",
        "--output",
        str(tmp_path / "out"),
    )
    assert done.returncode == 2 and "NAME=URL" in done.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _frames(out: Path) -> dict[str, pd.DataFrame]:
    frames = {}
    for path in sorted(out.glob("*.parquet")):
        frame = pd.read_parquet(path)
        frames[path.stem] = frame[[c for c in frame.columns if c not in RUN_TIME]]
    return frames


def test_the_demo_run_twice_changes_no_table(tmp_path):
    out, port = tmp_path / "out", str(_free_port())
    first = _cli("demo", "--output", str(out), ESF_DEMO_PORT=port)
    assert first.returncode == 0, first.stderr[-2000:]
    before = _frames(out)
    second = _cli("demo", "--output", str(out), ESF_DEMO_PORT=port)
    assert second.returncode == 0, second.stderr[-2000:]
    after = _frames(out)
    assert set(after) == set(before)
    for frames in (before, after):  # what this run's requests got (304s now), not data
        frames["pages"] = frames["pages"].drop(columns=["status", "fetch_outcome", "parsed_in_run"])
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)
    assert after["project_changes"].empty and set(after["projects"]["status"]) == {"active"}
    assert "Source demo: 14 active; crawl complete" in second.stdout


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_the_run_and_its_workers_within_seconds_and_changes_nothing(tmp_path, signum, code):
    site = RouteSite()
    numbers = [f"2024/{n:05d}" for n in range(400)]
    site.routes["/bank/"] = Response(200, listing([f"/bank/p/{n}.html" for n in range(400)]))

    def slow(number: str):
        def answer() -> Response:
            time.sleep(0.02)
            return Response(200, project_page(number, "Region Uppsala"))

        return answer

    for n, number in enumerate(numbers):
        site.routes[f"/bank/p/{n}.html"] = slow(number)
    out = tmp_path / "out"
    with serve(site):
        args = [
            sys.executable,
            "-m",
            "pipeline",
            "run",
            "--start-url",
            f"bank={site.url('/bank/')}",
            "--output",
            str(out),
            "--delay",
            "0",
            "--concurrency",
            "2",
        ]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2:  # the forkserver and a parse worker
            time.sleep(0.1)
            workers = _descendants(process.pid)
            assert process.poll() is None, process.communicate()[1][-2000:]
        assert len(workers) >= 2, "the parse pool never started"
        sent = time.monotonic()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
        took = time.monotonic() - sent
    assert process.returncode == code, stderr[-2000:]
    assert took < 10
    assert "interrupted; nothing was changed" in stderr.strip().splitlines()[-1]
    time.sleep(0.5)
    assert not [pid for pid in workers if _alive(pid)]
    assert not (out / "projects.parquet").exists()  # nothing was published
    with serve(site):  # the lock went with the process: the next run completes
        done = _cli(
            "run",
            "--start-url",
            f"bank={site.url('/bank/')}",
            "--output",
            str(out),
            "--delay",
            "0",
            "--concurrency",
            "8",
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(pd.read_parquet(out / "projects.parquet")) == 400


def test_a_recovered_state_file_is_named_on_the_command_line(tmp_path):
    out = tmp_path / "out"
    site = RouteSite()
    site.routes["/bank/"] = Response(200, listing(["/bank/p/1.html"]))
    site.routes["/bank/p/1.html"] = Response(200, project_page("2024/00001", "Region Uppsala"))
    with serve(site):
        args = ["run", "--start-url", f"bank={site.url('/bank/')}", "--output", str(out), "--delay", "0"]
        assert _cli(*args).returncode == 0
        state = out / "_state" / "sources" / "bank.json"
        state.write_bytes(state.read_bytes()[:40])
        done = _cli(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        "bank.json is not a readable state file" in done.stderr and "rebuilt from the published tables" in done.stderr
    )
