"""Every setting of the pipeline, defined once: its name, default, type, bounds, environment variable and
meaning. The Dagster resources take their fields' defaults and descriptions from here, the engine's
dataclasses their defaults, the definitions factory and the command line their values from the
environment, and the README's table of variables is generated from it (tests/test_settings.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping


class SettingError(ValueError):
    """A value that does not fit its setting (from the environment or the command line)."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    env: str | None = None
    kind: str = "str"  # str | int | float | bool | list (comma-separated in the environment)
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, text: str) -> Any:
        """A value as written in the environment -> its typed value; SettingError when it does not fit."""
        where = self.env or self.name
        try:
            if self.kind == "bool":
                lowered = text.strip().lower()
                if lowered not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                    raise ValueError("expected true or false")
                return lowered in ("1", "true", "yes", "on")
            if self.kind == "list":
                return tuple(part.strip() for part in text.split(",") if part.strip())
            value = {"int": int, "float": float, "str": str}[self.kind](text.strip() if self.kind != "str" else text)
        except ValueError as exc:
            raise SettingError(f"{where}={text!r}: {exc}") from None
        return self.check(value)

    def check(self, value: Any) -> Any:
        where = self.env or self.name
        if self.kind in ("int", "float"):
            if isinstance(value, float) and not math.isfinite(value):
                raise SettingError(f"{where}={value!r}: must be a finite number")
            if self.minimum is not None and value < self.minimum:
                raise SettingError(f"{where}={value!r}: must be {self.minimum:g} or more")
            if self.maximum is not None and value > self.maximum:
                raise SettingError(f"{where}={value!r}: must be {self.maximum:g} or less")
        return value


USER_AGENT = "esf-pipeline/0.1 (+https://github.com/esf-pipeline/esf-pipeline; open data research)"

CRAWLER = (
    Setting("user_agent", USER_AGENT, "User-Agent with a contact URL, sent with every request.", "ESF_USER_AGENT"),
    Setting(
        "delay_seconds",
        1.0,
        "Minimum delay between the starts of two requests to one host (the floor of the adaptive throttle).",
        "ESF_DELAY_SECONDS",
        "float",
        0,
    ),
    Setting(
        "concurrency",
        2,
        "Most requests in flight to one host (the ceiling of the adaptive throttle).",
        "ESF_CONCURRENCY",
        "int",
        1,
    ),
    Setting("connect_timeout", 10.0, "Longest wait for a connection.", "ESF_CONNECT_TIMEOUT", "float", 0.001),
    Setting("read_timeout", 30.0, "Longest wait for any one read.", "ESF_READ_TIMEOUT", "float", 0.001),
    Setting(
        "request_deadline_seconds",
        60.0,
        "Longest a request may take, connect to last byte (robots.txt included); a page that trickles is cut there.",
        "ESF_REQUEST_DEADLINE",
        "float",
        0.001,
    ),
    Setting("retries", 3, "Retries for 5xx, 429, timeouts, resets and protocol errors.", "ESF_RETRIES", "int", 0),
    Setting(
        "backoff_seconds",
        1.0,
        "First wait before a retry; doubled each time, with jitter.",
        "ESF_BACKOFF_SECONDS",
        "float",
        0,
    ),
    Setting(
        "max_retry_after", 120.0, "Longest wait a Retry-After header can ask for.", "ESF_MAX_RETRY_AFTER", "float", 0
    ),
    Setting(
        "retry_statuses", (429, 500, 502, 503, 504), "HTTP statuses that are tried again.", "ESF_RETRY_STATUSES", "list"
    ),
    Setting("max_bytes", 10_000_000, "Largest body accepted, after decompression.", "ESF_MAX_BYTES", "int", 1),
    Setting(
        "robots_max_bytes",
        512_000,
        "Largest robots.txt read, after decompression (RFC 9309 asks for at least 500 KiB).",
        "ESF_ROBOTS_MAX_BYTES",
        "int",
        1,
    ),
    Setting(
        "max_pages",
        50_000,
        "Most addresses per run; a crawl that reaches it is partial (it removes nothing).",
        "ESF_MAX_PAGES",
        "int",
        1,
    ),
    Setting(
        "max_depth",
        10_000,
        "Most links followed from a start page; a crawl that reaches it (an endless pagination) is partial.",
        "ESF_MAX_DEPTH",
        "int",
        1,
    ),
    Setting(
        "max_barren_pages",
        25,
        "Most pagination steps in a row whose pages show what the page before showed, but for numbers, and link "
        "nothing it did not; a listing that pages on past its end (empty pages, or its last page again, still "
        "linking a next one) stops there, and the crawl is partial.",
        "ESF_MAX_BARREN_PAGES",
        "int",
        1,
    ),
    Setting("max_redirects", 5, "Most redirects in a row.", "ESF_MAX_REDIRECTS", "int", 0),
    Setting(
        "slow_response_seconds",
        5.0,
        "An answer slower than this makes the host's delay grow.",
        "ESF_SLOW_RESPONSE_SECONDS",
        "float",
        0,
    ),
    Setting("obey_robots", True, "Fetch robots.txt once per host and run, and obey it.", "ESF_OBEY_ROBOTS", "bool"),
    Setting(
        "tracking_parameters",
        ("utm_*", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_ga", "_gl", "yclid", "igshid"),
        "Query parameters dropped from every address (shell patterns): they say where a visitor came from, not "
        "which page it is.",
        "ESF_TRACKING_PARAMETERS",
        "list",
    ),
    Setting(
        "ended_grace_days",
        365,
        "A project that ended more than this many days ago ...",
        "ESF_ENDED_GRACE_DAYS",
        "int",
        0,
    ),
    Setting(
        "ended_revisit_days",
        30,
        "... is checked again only every this many days (--full-refresh checks it anyway).",
        "ESF_ENDED_REVISIT_DAYS",
        "int",
        0,
    ),
    Setting(
        "throttle_start",
        2,
        "Requests in flight to a host at first; more after each window of answers near "
        "the host's fastest, halved when it struggles, never above the concurrency.",
        "ESF_THROTTLE_START",
        "int",
        1,
    ),
    Setting(
        "throttle_slow_factor",
        3.0,
        "An answer slower than this many times the host's fastest (plus the margin) counts as the host struggling.",
        "ESF_THROTTLE_SLOW_FACTOR",
        "float",
        1,
    ),
    Setting(
        "throttle_slow_margin",
        0.25,
        "Seconds added to that bound (a dropped connection waits a second for its SYN to be sent again).",
        "ESF_THROTTLE_SLOW_MARGIN",
        "float",
        0,
    ),
    Setting(
        "parse_pool_threshold",
        200,
        "New pages in one crawl from which they are parsed by worker processes while the crawl goes on.",
        "ESF_PARSE_POOL_THRESHOLD",
        "int",
        1,
    ),
)

OUTPUT = (
    Setting(
        "path",
        "data",
        "Directory or fsspec URL (s3://bucket/esf, file:///srv/esf) of the tables, the raw page archive and the state.",
        "ESF_OUTPUT_DIR",
    ),
    Setting(
        "personal_data",
        True,
        "Write project_contacts (names, e-mail, phone); false leaves personal data out.",
        "ESF_PERSONAL_DATA",
        "bool",
    ),
    Setting(
        "max_project_drop",
        0.5,
        "Blocking check: the active projects may not fall more than this share below the previous run's.",
        "ESF_MAX_PROJECT_DROP",
        "float",
        0,
        1,
    ),
    Setting(
        "max_unknown_label_share",
        0.2,
        "Warning check: unknown labels per project.",
        "ESF_MAX_UNKNOWN_LABEL_SHARE",
        "float",
        0,
    ),
    Setting(
        "max_removed_share",
        0.1,
        "Blocking check: one run may remove at most this share of a source's active "
        "projects (more than one), unless removals are allowed for the run.",
        "ESF_MAX_REMOVED_SHARE",
        "float",
        0,
        1,
    ),
    Setting(
        "removal_confirmations",
        2,
        "Complete crawls in a row that must miss a page before its projects count as no longer listed.",
        "ESF_REMOVAL_CONFIRMATIONS",
        "int",
        1,
    ),
    Setting(
        "retention_days",
        30.0,
        "Raw bodies and parse cache entries no state refers to are deleted after a "
        "successful run once they are this many days old.",
        "ESF_RETENTION_DAYS",
        "float",
        0,
    ),
)

SOURCES = (
    Setting(
        "start_urls",
        (),
        "Start URLs, each URL or NAME=URL; empty means pipeline/sources.toml.",
        "ESF_START_URLS",
        "list",
    ),
)

ORCHESTRATION = (
    Setting("schedule_cron", "0 2 * * 1-6", "The nightly run (Europe/Stockholm).", "ESF_SCHEDULE_CRON"),
    Setting(
        "full_refresh_cron", "0 2 * * 0", "The weekly run that checks every known page again.", "ESF_FULL_REFRESH_CRON"
    ),
    Setting(
        "step_retries",
        2,
        "Tries again of a step that failed unexpectedly (a full disk, a network fault at the "
        "wrong moment); a failure with a cause (an unreachable start URL, a blocking check) is not tried again.",
        "ESF_STEP_RETRIES",
        "int",
        0,
    ),
    Setting(
        "step_retry_delay",
        30.0,
        "Seconds before the first try again of a step (doubled each time).",
        "ESF_STEP_RETRY_DELAY",
        "float",
        0,
    ),
    Setting(
        "crawl_pool", "esf_crawl", "Dagster concurrency pool of the crawl: one crawl at a time per instance.", None
    ),
    Setting(
        "progress_log_seconds",
        10.0,
        "A progress line in the run log at most this often.",
        "ESF_PROGRESS_LOG_SECONDS",
        "float",
        0,
    ),
    Setting(
        "progress_line_seconds",
        5.0,
        "Without a terminal (nightly runs, CI), the command line prints a progress "
        "line at most this often while it crawls, then one closing line.",
        "ESF_PROGRESS_LINE_SECONDS",
        "float",
        0,
    ),
    Setting(
        "freshness_hours",
        36.0,
        "Warning check sources_fresh: a source the nightly run crawls whose last "
        "complete crawl, or tables whose last publish, is older than this many hours is flagged.",
        "ESF_FRESHNESS_HOURS",
        "float",
        0,
    ),
    Setting(
        "freshness_cron",
        "0 * * * *",
        "The schedule that runs sources_fresh on its own, so stale tables are "
        "flagged even when no run publishes (off by default, like the nightly runs).",
        "ESF_FRESHNESS_CRON",
    ),
    Setting(
        "alert_webhook",
        "",
        'A webhook (Slack, Teams or any that takes {"text": ...}) that hears of every failed '
        "run, one line each; empty: no alert sensor.",
        "ESF_ALERT_WEBHOOK",
    ),
    Setting(
        "alert_timeout_seconds",
        10.0,
        "Longest an alert may take to post; one try, a post that fails is logged and not tried again.",
        "ESF_ALERT_TIMEOUT",
        "float",
        0.001,
    ),
    Setting(
        "webserver_url",
        "",
        "The Dagster UI's address (http://host:3000), for the link to the run in an alert; "
        "empty: no link (esf-pipeline dev sets its own).",
        "ESF_WEBSERVER_URL",
    ),
    Setting(
        "demo_port",
        8765,
        "Port of the demo site (make run, make dev); another free port when it is taken.",
        "ESF_DEMO_PORT",
        "int",
        0,
        65535,
    ),
)

GROUPS: dict[str, tuple[Setting, ...]] = {
    "crawler": CRAWLER,
    "output": OUTPUT,
    "sources": SOURCES,
    "orchestration": ORCHESTRATION,
}
_BY_NAME = {(group, s.name): s for group, settings in GROUPS.items() for s in settings}


def setting(group: str, name: str) -> Setting:
    return _BY_NAME[(group, name)]


def default(group: str, name: str) -> Any:
    return setting(group, name).default


def from_environment(group: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """The group's values set in the environment, typed and checked (SettingError names the variable)."""
    return {s.name: s.parse(environ[s.env]) for s in GROUPS[group] if s.env and environ.get(s.env, "") != ""}


def values(group: str, environ: Mapping[str, str], **overrides: Any) -> dict[str, Any]:
    """Defaults, then the environment, then explicit values (the command line's), all checked."""
    merged = {s.name: s.default for s in GROUPS[group]}
    merged.update(from_environment(group, environ))
    for name, value in overrides.items():
        if value is not None:
            merged[name] = setting(group, name).check(value)
    return merged


def markdown_table() -> str:
    """The README's table of environment variables."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for settings in GROUPS.values():
        for s in settings:
            if s.env:
                shown = (
                    ",".join(map(str, s.default))
                    if isinstance(s.default, tuple)
                    else str(s.default).lower()
                    if isinstance(s.default, bool)
                    else str(s.default)
                )
                shown = "esf-pipeline/0.1 (+…)" if s.name == "user_agent" else shown or "(empty)"
                meaning = s.help + (" Comma-separated." if s.kind == "list" else "")
                lines.append(f"| `{s.env}` | `{shown}` | {meaning} |")
    return "\n".join(lines)
