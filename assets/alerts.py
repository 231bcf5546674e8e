"""A failed run said at once where the operator looks: one line posted to a webhook (ESF_ALERT_WEBHOOK) in
the shape Slack and Teams incoming webhooks accept, ``{"text": "..."}``.

The sensor is defined only when the variable is set (pipeline/definitions.py), and then it is on by default:
setting the variable is the choice. One post per failed run, with a deadline; a post that fails is logged in
the sensor's tick and not tried again (the sensor does not raise, so its cursor moves on and the next tick
does not post the same failure again)."""

from __future__ import annotations

import threading
from typing import Any, Sequence
from urllib.parse import urlsplit

import dagster as dg

from pipeline.settings import SettingError

# Wrappers Dagster puts around the error a step raised: the message the operator needs is their cause's.
_WRAPPERS = ("DagsterExecutionStepExecutionError", "DagsterResourceFunctionError", "DagsterUserCodeExecutionError")
MAX_LINE = 300


def failure_line(step_failures: Sequence[Any]) -> str:
    """The first failed step's error, one line: the message of what the step raised, not of Dagster's wrappers."""
    for event in step_failures:
        error = event.step_failure_data.error
        while (
            error is not None
            and error.cause is not None
            and (error.cls_name in _WRAPPERS or "DagsterExecutionStepExecutionError" in error.message)
        ):
            error = error.cause
        if error is not None:
            message = error.message.strip().splitlines()[0] if error.message.strip() else error.cls_name
            return message.removeprefix("dagster._core.definitions.events.Failure: ")
    return "the run failed"


def alert_text(job_name: str, run_id: str, failure: str, webserver_url: str = "") -> str:
    """One line: the job, the run, why it failed, and where to read more when the UI's address is known."""
    failure = " ".join(failure.split())
    if len(failure) > MAX_LINE:
        failure = failure[: MAX_LINE - 1] + "…"
    text = f"esf-pipeline: {job_name} failed (run {run_id[:8]}): {failure}"
    if webserver_url:
        text += f" {webserver_url.rstrip('/')}/runs/{run_id}"
    return text


def check_webhook(url: str) -> str:
    """The webhook address, or SettingError: an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError("ESF_ALERT_WEBHOOK: not an http(s) URL")  # the address itself may hold a secret token
    return url


def post_alert(url: str, text: str, deadline_seconds: float) -> str | None:
    """POST ``{"text": text}`` once; None when the webhook took it (2xx), otherwise why not. Returns within
    ``deadline_seconds`` whatever the other end does (a post still hanging then is left to its own timeouts,
    on a daemon thread)."""
    import httpx

    outcome: list[str | None] = []

    def send() -> None:
        try:
            with httpx.Client(timeout=deadline_seconds, follow_redirects=False) as client:
                response = client.post(url, json={"text": text})
            outcome.append(None if response.is_success else f"HTTP {response.status_code}")
        except httpx.HTTPError as exc:
            outcome.append(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    sender = threading.Thread(target=send, name="esf-alert", daemon=True)
    sender.start()
    sender.join(deadline_seconds)
    if not outcome:
        return f"no answer within {deadline_seconds:g} s"
    return outcome[0]


def alert_sensor(webhook: str, deadline_seconds: float, webserver_url: str = "") -> dg.SensorDefinition:
    """The run-failure sensor of every job of the code location, posting to ``webhook``."""
    check_webhook(webhook)
    host = urlsplit(webhook).hostname

    @dg.run_failure_sensor(
        name="alert_on_failure",
        description="Posts one line on every failed run (job, run id, why, link) to the webhook of "
        'ESF_ALERT_WEBHOOK, as {"text": ...}; one try per run, at most ESF_ALERT_TIMEOUT seconds.',
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def alert_on_failure(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        failure = failure_line(context.get_step_failure_events())
        if failure == "the run failed" and context.failure_event.message:
            failure = context.failure_event.message
        problem = post_alert(webhook, alert_text(run.job_name, run.run_id, failure, webserver_url), deadline_seconds)
        if problem is None:
            context.log.info(f"alert for run {run.run_id} posted to {host}")
        else:
            context.log.warning(f"alert for run {run.run_id} not posted to {host}: {problem} (not tried again)")

    return alert_on_failure
