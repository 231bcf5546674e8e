"""Operations in Dagster: every check on projects says what it tests, the freshness check flags a source
without a recent complete crawl and tables not published for too long (real runs, real Parquet), and the
run-failure sensor posts one line to a webhook on loopback for a failed run of the real job, within its
deadline whatever the webhook does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import dagster as dg
import pytest

from pipeline.definitions import make_definitions
from pipeline.schema import SOURCES
from pipeline.settings import SettingError, markdown_table
from pipeline.storage import OutputDir
from tests.conftest import ROOT, run_assets
from tests.sitekit import Response, RouteSite, listing, project_page, serve


def _site() -> RouteSite:
    site = RouteSite()
    site.routes["/bank/"] = Response(200, listing(["/bank/p/1.html", "/bank/p/2.html"]))
    site.routes["/bank/p/1.html"] = Response(200, project_page("2024/00001", "Region Uppsala"))
    site.routes["/bank/p/2.html"] = Response(200, project_page("2024/00002", "Region Dalarna"))
    return site


def _checks(result, name: str) -> list:
    return [e for e in result.get_asset_check_evaluations() if e.check_name == name]


# ------------------------------------------------------------------------------------------- check descriptions
def test_every_check_on_projects_says_what_it_tests():
    from assets.tables import CHECK_NAMES
    from pipeline.checks import CHECKS, FRESHNESS, ProjectChecks, RemovalGuard

    graph = make_definitions({}).resolve_asset_graph()
    specs = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys}
    assert {key.asset_key.to_user_string() for key in graph.asset_check_keys} == {"projects"}
    assert set(specs) == set(CHECK_NAMES) | {FRESHNESS.name}
    for name, spec in specs.items():
        description = spec.description or ""
        assert len(description) > 40 and description.lower() != name.replace("_", " "), name
        assert description == (CHECKS.get(name) or FRESHNESS).description
        assert spec.blocking == (CHECKS.get(name) or FRESHNESS).blocking
    # Every outcome the checks compute has its spec (and so its description), and the other way round.
    # (sources_agree and every_source_yields_projects are computed by the publish step, from the export and
    # the sources.)
    outcomes = ProjectChecks().outcomes(previous_active=10, removals=RemovalGuard({}, {}))
    assert [o.name for o in outcomes] + ["sources_agree", "every_source_yields_projects"] == list(CHECKS)
    assert all(o.blocking == CHECKS[o.name].blocking for o in outcomes)


# --------------------------------------------------------------------------------------------------- freshness
def _plant_last_complete(out: Path, source: str, when: datetime) -> None:
    directory = OutputDir(out)
    rows = directory.read_table(SOURCES).to_pylist()
    for row in rows:
        if row["source"] == source:
            row["last_complete_at"] = when
    directory.write_table(SOURCES, rows)


def _check_freshness(out: Path, start_urls: list[str], environ: dict | None = None):
    job = make_definitions(environ or {}, output={"path": str(out)}, start_urls=start_urls).resolve_job_def(
        "check_freshness"
    )
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def test_the_freshness_check_passes_after_a_run_and_flags_an_old_complete_crawl(tmp_path):
    out = tmp_path / "out"
    with serve(_site()) as site:
        urls = [f"bank={site.url('/bank/')}"]
        result = run_assets(urls, out)
    assert result.success
    [evaluation] = _checks(result, "sources_fresh")  # part of the run, after the tables were published
    assert evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["last_complete_crawl"].value["bank"] is not None

    _plant_last_complete(out, "bank", datetime.now(timezone.utc) - timedelta(hours=40))
    result = _check_freshness(out, urls)
    assert result.success  # a warning, not a failed run
    [evaluation] = _checks(result, "sources_fresh")
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    [finding] = evaluation.metadata["stale"].value
    assert finding.startswith("source bank: last complete crawl 40.0 h ago")
    assert evaluation.description == finding

    # Within a longer set age it passes; a nightly source that never was crawled is flagged.
    assert _checks(_check_freshness(out, urls, {"ESF_FRESHNESS_HOURS": "48"}), "sources_fresh")[0].passed
    [evaluation] = _checks(_check_freshness(out, urls + ["other=http://127.0.0.1:9/other/"]), "sources_fresh")
    assert "source other: not in the published tables (never crawled)" in evaluation.metadata["stale"].value


def test_the_freshness_check_flags_tables_not_published_for_too_long(tmp_path, monkeypatch):
    import assets.freshness

    out = tmp_path / "out"
    with serve(_site()) as site:
        urls = [f"bank={site.url('/bank/')}"]
        assert run_assets(urls, out).success
    later = datetime.now(timezone.utc) + timedelta(days=3)
    monkeypatch.setattr(assets.freshness, "clock", lambda: later)
    [evaluation] = _checks(_check_freshness(out, urls), "sources_fresh")
    assert not evaluation.passed
    stale = evaluation.metadata["stale"].value
    assert stale[0].startswith("the tables were last published 3.0 days ago")
    assert stale[1].startswith("source bank: last complete crawl 3.0 days ago")


def test_the_freshness_check_of_an_empty_output_says_so_and_the_check_job_takes_no_lock(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # Another process holds the output, as a crawl writing there does: the check reads beside it.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pipeline.storage import OutputDir; "
            f"OutputDir({str(out)!r}).lock_for_writing(); print('locked', flush=True); time.sleep(60)",
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = _check_freshness(out, ["bank=http://127.0.0.1:9/bank/"])
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert result.success
    [evaluation] = _checks(result, "sources_fresh")
    assert not evaluation.passed and evaluation.metadata["stale"].value == ["no published tables"]


def test_the_freshness_check_itself_on_given_rows():
    from assets.freshness import assess

    now = datetime(2026, 6, 2, 12, tzinfo=timezone.utc)
    rows = [
        {"source": "a", "last_complete_at": now - timedelta(hours=35)},
        {"source": "b", "last_complete_at": None},
        {"source": "gone", "last_complete_at": now - timedelta(days=90)},
    ]  # no longer crawled: not looked at
    found = assess(now - timedelta(hours=1), rows, ["a", "b"], now, timedelta(hours=36))
    assert found.stale == ["source b: no complete crawl yet"]
    naive = now.replace(tzinfo=None) - timedelta(hours=37)  # a timestamp without its zone is UTC
    found = assess(now, [{"source": "a", "last_complete_at": naive}], None, now, timedelta(hours=36))
    assert found.stale == ["source a: last complete crawl 37.0 h ago (2026-05-31 23:00 UTC)"]


# -------------------------------------------------------------------------------------------- alert sensor
class _Receiver:
    def __init__(self, status: int = 200, hang: bool = False) -> None:
        self.posts: list[dict] = []
        self.status, self.hang = status, hang
        self.released = threading.Event()


@contextmanager
def _webhook(receiver: _Receiver) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.posts.append({"content_type": self.headers.get("Content-Type"), "body": json.loads(body)})
            if receiver.hang:
                receiver.released.wait(30)  # an answer that never comes (until the test ends)
            self.send_response(receiver.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000/secret"
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _failed_run(tmp_path: Path, environ: dict):
    """A real failure of the real job: the one source's start URL is unreachable."""
    defs = make_definitions(
        environ,
        crawler={"retries": 0, "delay_seconds": 0.0},
        output={"path": str(tmp_path / "out")},
        start_urls=[f"bank=http://127.0.0.1:{_closed_port()}/bank/"],
    )
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("crawl_and_publish").execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return defs, instance, result


def _evaluate(defs, instance, result) -> float:
    sensor = defs.resolve_sensor_def("alert_on_failure")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    started = time.monotonic()
    sensor(context)
    return time.monotonic() - started


def test_a_failed_run_of_the_real_job_is_posted_as_one_line(tmp_path):
    receiver = _Receiver()
    with _webhook(receiver) as url:
        defs, instance, result = _failed_run(
            tmp_path, {"ESF_ALERT_WEBHOOK": url, "ESF_WEBSERVER_URL": "http://127.0.0.1:3000/"}
        )
        _evaluate(defs, instance, result)
    [post] = receiver.posts
    assert post["content_type"] == "application/json"
    assert list(post["body"]) == ["text"]
    text = post["body"]["text"]
    run_id = result.dagster_run.run_id
    assert text.startswith(f"esf-pipeline: crawl_and_publish failed (run {run_id[:8]}): ")
    assert "bank" in text and "unreachable" in text  # the step's own message, not Dagster's wrapper
    assert "DagsterExecutionStepExecutionError" not in text
    assert text.endswith(f" http://127.0.0.1:3000/runs/{run_id}")
    assert "\n" not in text and len(text) < 500


@pytest.mark.parametrize("receiver", [_Receiver(hang=True), _Receiver(status=500)], ids=["no answer", "500"])
def test_a_webhook_that_fails_is_tried_once_within_the_deadline_and_the_sensor_goes_on(tmp_path, receiver):
    with _webhook(receiver) as url:
        defs, instance, result = _failed_run(tmp_path, {"ESF_ALERT_WEBHOOK": url, "ESF_ALERT_TIMEOUT": "1"})
        took = _evaluate(defs, instance, result)  # does not raise: the tick succeeds, its cursor moves on
    assert len(receiver.posts) == 1
    assert took < 5


def test_the_alert_sensor_exists_only_with_a_webhook_and_a_bad_one_is_named():
    assert not list(make_definitions({}).sensors or [])
    [sensor] = make_definitions({"ESF_ALERT_WEBHOOK": "https://hooks.example.org/x"}).sensors
    assert sensor.name == "alert_on_failure" and sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with pytest.raises(SettingError, match="ESF_ALERT_WEBHOOK") as raised:
        make_definitions({"ESF_ALERT_WEBHOOK": "hooks.example.org/secret-token"})
    assert "secret-token" not in str(raised.value)


# ------------------------------------------------------------------------------------------------- schedules, README
def test_the_freshness_schedule_runs_the_check_job_and_is_off_by_default():
    defs = make_definitions({"ESF_FRESHNESS_CRON": "15 * * * *"})
    schedule = defs.resolve_schedule_def("freshness")
    assert schedule.job_name == "check_freshness" and schedule.cron_schedule == "15 * * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_the_readme_table_of_variables_is_the_settings():
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme
