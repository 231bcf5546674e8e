"""Are the published tables fresh? An asset check on ``projects`` (sources_fresh, severity WARN, not blocking)
that flags a source the nightly run crawls whose last complete crawl is older than ``freshness_hours``
(sources.parquet: ``last_complete_at``), and tables whose last publish is (the published run's time, else
projects.parquet's file time).

Dagster's own freshness (FreshnessPolicy, build_last_update_freshness_checks) looks at when an asset was last
materialised; here every run materialises ``projects``, also one whose crawls were all partial, so the age
that matters is each source's last complete crawl, which only the tables know. The check runs after each
publish (it is part of the jobs that materialise ``projects``) and on its own in the ``check_freshness`` job,
which the ``freshness`` schedule runs (hourly, off by default like the nightly runs): a nightly run that stops
publishing is flagged too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import dagster as dg

from assets.resources import PublishedTablesResource, SourcesResource
from pipeline.checks import FRESHNESS
from pipeline.codec import StateError
from pipeline.run_state import PUBLISHED, PUBLISHED_FILE, Published
from pipeline.schema import PROJECTS, SOURCES
from pipeline.sources import SourceError
from pipeline.storage import OutputDir

# The check's clock (tests move it; the check itself never does).
clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731


@dataclass
class Freshness:
    published_at: datetime | None
    last_complete: dict[str, datetime | None]  # source -> its last complete crawl (None: never)
    stale: list[str]  # one line per finding; empty: fresh


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _age(now: datetime, then: datetime) -> str:
    hours = (now - then).total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


def assess(
    published_at: datetime | None,
    rows: list[dict[str, Any]],
    nightly: list[str] | None,
    now: datetime,
    max_age: timedelta,
) -> Freshness:
    """The findings, from the published run's time, the rows of sources.parquet and the names of the sources
    the nightly run crawls (None: every source in the table)."""
    stale = []
    published_at = _utc(published_at)
    if published_at is None:
        stale.append("no published tables")
    elif now - published_at > max_age:
        stale.append(
            f"the tables were last published {_age(now, published_at)} ago ({published_at:%Y-%m-%d %H:%M} UTC)"
        )
    by_name = {row["source"]: _utc(row.get("last_complete_at")) for row in rows}
    names = sorted(by_name) if nightly is None else nightly
    last_complete = {}
    for name in names:
        if published_at is not None and name not in by_name:
            stale.append(f"source {name}: not in the published tables (never crawled)")
            continue
        last = by_name.get(name)
        last_complete[name] = last
        if published_at is None:
            continue
        if last is None:
            stale.append(f"source {name}: no complete crawl yet")
        elif now - last > max_age:
            stale.append(f"source {name}: last complete crawl {_age(now, last)} ago ({last:%Y-%m-%d %H:%M} UTC)")
    return Freshness(published_at, last_complete, stale)


def published_at(out: OutputDir) -> datetime | None:
    """When the published tables were written: the published run's time, else projects.parquet's file time."""
    try:
        return out.load_state(PUBLISHED_FILE, PUBLISHED, Published).published_at
    except StateError:
        pass
    if not out.has_table(PROJECTS):
        return None
    seconds = out.table_modified_at(PROJECTS)
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


@dg.asset_check(
    asset=PROJECTS.name, name=FRESHNESS.name, description=FRESHNESS.description, blocking=FRESHNESS.blocking
)
def sources_fresh(published: PublishedTablesResource, sources: SourcesResource) -> dg.AssetCheckResult:
    out = published.directory()
    try:
        nightly: list[str] | None = [source.name for source in sources.sources()]
    except SourceError:
        nightly = None  # the configuration is broken (the runs say so): every source of the table is looked at
    rows = out.read_table(SOURCES, columns=["source", "last_complete_at"]).to_pylist() if out.has_table(SOURCES) else []
    now = clock()
    found = assess(published_at(out), rows, nightly, now, timedelta(hours=published.freshness_hours))
    return dg.AssetCheckResult(
        passed=not found.stale,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(found.stale) or None,
        metadata={
            "stale": dg.MetadataValue.json(found.stale),
            "max_age_hours": published.freshness_hours,
            "published_at": found.published_at.isoformat() if found.published_at else "never",
            "last_complete_crawl": dg.MetadataValue.json(
                {name: when.isoformat() if when else None for name, when in found.last_complete.items()}
            ),
            "checked_at": now.isoformat(),
        },
    )
