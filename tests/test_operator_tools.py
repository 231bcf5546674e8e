"""The operator's command line: parse (one page as JSON, nothing written), reparse, --version, --log-level,
--user-agent, and progress lines without a terminal. Each runs the real console entry point in a subprocess
against sites on loopback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.sitekit import Response, RouteSite, listing, project_page, serve

CONTACT_PAGE = """<html><head><meta charset="utf-8"><title>Projekt Kontakt</title></head><body>
<h1>Projekt Kontakt</h1>
<dl><dt>Projektnummer:</dt><dd>2024/00042</dd><dt>Namn:</dt><dd>Projekt Kontakt</dd>
<dt>Projektägare:</dt><dd>Hälsinge enskild firma</dd>
<dt>Projektägare organisationsnummer:</dt><dd>811228-9874</dd>
<dt>Projektperiod:</dt><dd>2021-01-01 - 2023-06-30</dd><dt>Beviljat ESF-stöd:</dt><dd>1 234 567,50 kr</dd>
<dt>Total projektbudget:</dt><dd>2 000 000</dd>
<dt>Kontaktperson:</dt><dd>Greta Svensson</dd><dt>E-post:</dt><dd>greta.svensson@example.se</dd>
<dt>Mobil 2:</dt><dd>070-123 45 67</dd></dl>
<h2>Syfte</h2><p>Att pröva något nytt i Hälsingland.</p></body></html>""".encode()


def _cli(*args: str, cwd: Path = ROOT, **env_vars: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **env_vars)
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def _one_line_error(done: subprocess.CompletedProcess, code: int) -> str:
    assert done.returncode == code, (done.returncode, done.stderr[-2000:])
    assert done.stdout == ""
    assert done.stderr.strip().count("\n") == 0, done.stderr
    return done.stderr


# ---------------------------------------------------------------------------------------------- --version, --help
def test_version_is_the_distributions():
    from importlib.metadata import version

    import pipeline

    done = _cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"esf-pipeline {pipeline.__version__}" == f"esf-pipeline {version('esf-pipeline')}"


def test_help_names_every_command_and_run_help_the_exit_codes():
    top = _cli("--help")
    assert top.returncode == 0
    for command in ("run", "demo", "reparse", "parse", "gc", "dev"):
        assert re.search(rf"^\s+{command}\s+\S", top.stdout, re.M), command
    assert "--log-level" in top.stdout and "--version" in top.stdout
    run = _cli("run", "--help")
    assert run.returncode == 0
    assert "--user-agent" in run.stdout and "--log-level" in run.stdout
    epilog = run.stdout.split("exit status:")[1]
    for code in ("0", "1", "2", "130", "143"):
        assert re.search(rf"\b{code}\b", epilog), code
    assert "FILE_OR_URL" in _cli("parse", "--help").stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--log-level", "loud", "run"],
        ["run", "--log-level", "verbose"],
        ["run", "--user-agent", ""],
        ["run", "--user-agent", "tab\there"],
        ["parse"],
        ["parse", "ftp://127.0.0.1/x"],
        ["parse", "http://[oops/"],
        ["parse", "page.html", "--url", "nonsense"],
        ["parse", "page.html", "--content-type", " "],
        ["reparse", "--bogus"],
        ["nonsense"],
    ],
)
def test_nonsense_is_a_one_line_usage_error(tmp_path, args):
    done = _cli(*args, cwd=tmp_path)
    _one_line_error(done, 2)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------------------- parse
def test_parse_prints_a_files_records_as_json_and_writes_nothing(tmp_path):
    page = tmp_path / "page.html"
    page.write_bytes(project_page("2024/00001", "Region Uppsala"))
    done = _cli("parse", str(page), "--url", "http://127.0.0.1/bank/p/1.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    assert document["kind"] == "project" and document["family"] == "esf_2014_2020"
    [record] = document["records"]
    assert record["project_id"] == "2024/00001"
    assert record["source_url"] == "http://127.0.0.1/bank/p/1.html"
    # Exact values as strings: the digits of the Decimal, the ISO date.
    assert record["columns"]["esf_grant_sek"] == "1000000.00"
    assert record["columns"]["start_date"] == "2021-01-01" and record["columns"]["end_date"] == "2031-12-31"
    assert {"field": "owner", "label": "Projektägare", "raw": "Region Uppsala"} in record["raw_fields"]
    assert [s["kind"] for s in record["sections"]] == ["purpose"]
    assert record["sections"][0]["text"] == "Att pröva något nytt i Region Uppsala."
    for key in ("municipalities", "contacts", "issues", "extra_fields"):
        assert key in record
    assert document["issues"] == [] and document["announcements"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # nothing written


def test_parse_fetches_a_url_on_loopback_and_leaves_personal_data_out_when_asked(tmp_path):
    site = RouteSite()
    site.routes["/bank/p/42.html"] = Response(200, CONTACT_PAGE, content_type="text/html; charset=utf-8")
    with serve(site):
        url = site.url("/bank/p/42.html")
        full = _cli("parse", url, cwd=tmp_path)
        without = _cli("parse", url, "--without-personal-data", cwd=tmp_path)
    assert full.returncode == 0 and without.returncode == 0, full.stderr + without.stderr
    assert site.hits.count("/bank/p/42.html") == 2 and "/robots.txt" not in site.hits
    [record] = json.loads(full.stdout)["records"]
    assert record["source_url"] == url
    assert record["columns"]["esf_grant_sek"] == "1234567.50"
    assert record["contacts"] and record["contacts"][0]["email"] == "greta.svensson@example.se"
    # A personal identity number (a sole trader's organisation number) is never shown, with or without.
    assert "811228" not in full.stdout and "9874" not in full.stdout
    assert any(i["field"] == "owner_org_number" for i in record["issues"])
    [record] = json.loads(without.stdout)["records"]
    assert "contacts" not in record
    for personal in ("greta.svensson", "Greta Svensson", "070-123", "811228"):
        assert personal not in without.stdout, personal
    assert record["extra_fields"] == {"Mobil 2": None}  # the label stays, its value goes
    assert record["columns"]["owner"] == "Hälsinge enskild firma"
    assert not list(tmp_path.iterdir())


def test_parse_reads_standard_input_and_honours_the_content_type(tmp_path):
    text = "Projektnummer: 2024/00007\nNamn: Rent textprojekt\nProjektägare: Region Gävleborg\n".encode("cp1252")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "parse",
            "-",
            "--content-type",
            "text/plain; charset=cp1252",
            "--url",
            "http://127.0.0.1/p/7.txt",
        ],
        input=text,
        capture_output=True,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [record] = json.loads(done.stdout)["records"]
    assert record["project_id"] == "2024/00007" and record["columns"]["owner"] == "Region Gävleborg"


def test_an_unreadable_file_or_url_is_one_line_and_exit_1(tmp_path):
    site = RouteSite()
    site.routes["/gone.html"] = Response(404, b"<h1>Sidan finns inte</h1>")
    with serve(site):
        assert "HTTP 404" in _one_line_error(_cli("parse", site.url("/gone.html"), cwd=tmp_path), 1)
        base = site.base
    # The server is closed now: nothing listens on its port.
    assert "cannot read" in _one_line_error(_cli("parse", f"{base}/x.html", cwd=tmp_path), 1)
    assert "No such file" in _one_line_error(_cli("parse", str(tmp_path / "missing.html"), cwd=tmp_path), 1)
    assert "Is a directory" in _one_line_error(_cli("parse", str(tmp_path), cwd=tmp_path), 1)


def test_a_url_that_never_finishes_is_cut_at_the_request_deadline(tmp_path):
    from tests.sitekit import trickle

    site = RouteSite()
    site.routes["/slow.html"] = trickle(b"<html>" + b" " * 200 + b"</html>", seconds_per_byte=0.1)
    with serve(site):
        started = time.monotonic()
        done = _cli("parse", site.url("/slow.html"), cwd=tmp_path, ESF_REQUEST_DEADLINE="1")
    assert "within 1 s" in _one_line_error(done, 1)
    assert time.monotonic() - started < 30


# --------------------------------------------------------------------------------------------------------- reparse
def _bank(n: int = 3) -> RouteSite:
    site = RouteSite()
    site.routes["/bank/"] = Response(200, listing([f"/bank/p/{i}.html" for i in range(n)]))
    for i in range(n):
        site.routes[f"/bank/p/{i}.html"] = Response(200, project_page(f"2024/{i:05d}", "Region Uppsala"))
    return site


def test_reparse_rebuilds_the_tables_from_raw_without_the_site(tmp_path):
    out = tmp_path / "out"
    site = _bank()
    with serve(site):
        first = _cli("run", "--start-url", f"bank={site.url('/bank/')}", "--output", str(out), "--delay", "0")
    assert first.returncode == 0, first.stderr[-2000:]
    (out / "projects.parquet").unlink()
    done = _cli("reparse", "--output", str(out))  # the site is gone: a request would fail the run
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Pages re-parsed from raw/: 4 in ")
    assert "Projects: 3" in lines and lines[-1].startswith(f"Tables written to {out}/")
    pages = pd.read_parquet(out / "pages.parquet")
    assert pages["parsed_in_run"].all()
    assert sorted(pd.read_parquet(out / "projects.parquet")["project_id"]) == [f"2024/{i:05d}" for i in range(3)]


def test_reparse_of_an_output_without_a_crawl_is_one_line_and_exit_1(tmp_path):
    message = _one_line_error(_cli("reparse", "--output", str(tmp_path / "empty")), 1)
    assert "holds no crawl to re-parse" in message and "esf-pipeline run" in message
    assert not (tmp_path / "empty").exists()


# ------------------------------------------------------------------------------------------------------ user agent
def _recording_site(agents: list[str]) -> RouteSite:
    site = _bank(1)
    pages = dict(site.routes)

    def recorded(path: str):
        def write(handler) -> None:
            agents.append(handler.headers.get("User-Agent"))
            answer = pages.get(path, Response(404, b""))
            handler.send_response(answer.status)
            handler.send_header("Content-Type", answer.content_type)
            handler.send_header("Content-Length", str(len(answer.body)))
            handler.end_headers()
            handler.wfile.write(answer.body)

        return Response(raw=write)

    for path in ("/robots.txt", "/bank/", "/bank/p/0.html"):
        site.routes[path] = recorded(path)
    return site


@pytest.mark.parametrize(
    "flag, variable, expected",
    [
        ("probe/2.0 (+http://127.0.0.1/contact)", None, "probe/2.0 (+http://127.0.0.1/contact)"),
        (None, "nightly/1.0 (+mailto:ops@example.org)", "nightly/1.0 (+mailto:ops@example.org)"),
        ("flag/1.0", "variable/1.0", "flag/1.0"),
        (None, None, "esf-pipeline/"),
    ],
)
def test_the_user_agent_comes_from_the_flag_then_the_variable(tmp_path, flag, variable, expected):
    agents: list[str] = []
    site = _recording_site(agents)
    env = {"ESF_USER_AGENT": variable} if variable else {}
    with serve(site):
        args = ["run", "--start-url", f"bank={site.url('/bank/')}", "--output", str(tmp_path / "out"), "--delay", "0"]
        done = _cli(*args, *(["--user-agent", flag] if flag else []), **env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(agents) == 3  # robots.txt, the listing, the project page
    assert all(agent.startswith(expected) for agent in agents), agents


# ------------------------------------------------------------------------------------------------------- log level
def test_log_level_sets_the_cli_and_dagster_console_log(tmp_path):
    site = _bank(2)
    with serve(site):

        def run(before: list[str], after: list[str], out: str) -> str:
            args = ["run", "--start-url", f"bank={site.url('/bank/')}", "--output", str(tmp_path / out), "--delay", "0"]
            done = _cli(*before, *args, *after)
            assert done.returncode == 0, done.stderr[-2000:]
            assert done.stdout.startswith("Pages fetched: 3 (0 failed)")  # the summary whatever the level
            return done.stderr

        default = run([], [], "a")
        debug = run(["--log-level", "debug"], [], "b")  # before the command
        info = run([], ["--log-level", "info"], "c")  # after it
        error = run(["--log-level", "debug"], ["--log-level", "error"], "d")  # the command's wins
    # By default the CLI's own lines (the closing crawl line) and nothing of Dagster's log.
    assert "crawl done: 3 pages" in default and " - dagster - " not in default
    assert " - dagster - INFO - crawl_and_publish - " in info and "STEP_SUCCESS" not in info and "crawl done" in info
    assert "STEP_SUCCESS" in debug and " - dagster - DEBUG - " in debug
    assert error.strip() == ""


# -------------------------------------------------------------------------------------------------- progress lines
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (.*)$")


def test_without_a_terminal_progress_lines_are_spaced_and_one_closes_the_crawl(tmp_path):
    every = 0.5
    site = RouteSite()
    site.routes["/bank/"] = Response(200, listing([f"/bank/p/{n}.html" for n in range(160)]))

    def slow(number: str):
        def answer() -> Response:
            time.sleep(0.1)
            return Response(200, project_page(number, "Region Uppsala"))

        return answer

    for n in range(160):
        site.routes[f"/bank/p/{n}.html"] = slow(f"2024/{n:05d}")
    with serve(site):
        args = [
            sys.executable,
            "-m",
            "pipeline",
            "run",
            "--start-url",
            f"bank={site.url('/bank/')}",
            "--output",
            str(tmp_path / "out"),
            "--delay",
            "0",
            "--concurrency",
            "8",
        ]
        env = dict(os.environ, PYTHONPATH=str(ROOT), ESF_PROGRESS_LINE_SECONDS=str(every))
        done = subprocess.run(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300
        )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [(_STAMP.match(line)) for line in done.stderr.splitlines()]
    assert all(lines), done.stderr  # every line is a log line
    progress = [(datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f"), m[2]) for m in lines if "pages done" in m[2]]
    closing = [m[2] for m in lines if m[2].startswith("crawl done")]
    assert len(closing) == 1 and closing[0].startswith("crawl done: 161 pages in "), done.stderr
    assert lines[-1][2] == closing[0]  # the closing line comes last
    assert len(progress) >= 2, done.stderr  # the crawl takes two seconds or more
    # Eight pages in flight when the queue runs dry: each of them once printed a line within milliseconds.
    gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(progress, progress[1:])]
    assert min(gaps) >= every - 0.01, done.stderr  # no bursts
