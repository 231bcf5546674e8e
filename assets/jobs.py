"""Jobs and schedules over the asset graph: the nightly crawl, the weekly full refresh, the re-parse, and the
freshness check on its own."""

from __future__ import annotations

import dagster as dg

from assets.freshness import sources_fresh
from assets.parse import parsed_records
from assets.tables import output_tables


def jobs(step_retries: int, step_retry_delay: float) -> tuple[dg.UnresolvedAssetJobDefinition, ...]:
    """crawl_and_publish, reparse_from_raw, check_freshness."""
    # A step that failed unexpectedly (a full disk, a network fault at the wrong moment) is tried again; a
    # failure with a cause (dg.Failure with allow_retries=False) is not.
    retries = dg.RetryPolicy(max_retries=step_retries, delay=step_retry_delay, backoff=dg.Backoff.EXPONENTIAL)
    crawl_and_publish = dg.define_asset_job(
        "crawl_and_publish",
        selection=dg.AssetSelection.all(),
        description="Crawl every source, parse, normalise and publish the Parquet tables.",
        tags={"esf/crawl": "true"},
        op_retry_policy=retries,
    )
    reparse = dg.define_asset_job(
        "reparse_from_raw",
        selection=dg.AssetSelection.assets(parsed_records, output_tables),
        description="Rebuild the tables from the stored raw pages, without fetching anything.",
        config={"ops": {"parsed_records": {"config": {"reparse_all": True}}}},
    )
    # The freshness check alone: it reads the published tables (no lock, no crawl), so it runs beside a crawl.
    check_freshness = dg.define_asset_job(
        "check_freshness",
        selection=dg.AssetSelection.checks(sources_fresh),
        description="Check that every nightly source had a complete crawl, and the tables a publish, recently.",
    )
    return crawl_and_publish, reparse, check_freshness


def schedules(
    job: dg.UnresolvedAssetJobDefinition,
    nightly_cron: str,
    full_refresh_cron: str,
    freshness_job: dg.UnresolvedAssetJobDefinition | None = None,
    freshness_cron: str = "0 * * * *",
) -> list[dg.ScheduleDefinition]:
    nightly = dg.ScheduleDefinition(
        name="nightly",
        job=job,
        cron_schedule=nightly_cron,
        execution_timezone="Europe/Stockholm",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    # Once a week the night's run checks every known page again, whatever the revisit policy says: a page
    # that is no longer linked but answers 404 is found, and its project removed.
    weekly = dg.ScheduleDefinition(
        name="weekly_full_refresh",
        job=job,
        cron_schedule=full_refresh_cron,
        execution_timezone="Europe/Stockholm",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        run_config={"ops": {"crawled_pages": {"config": {"full_refresh": True}}}},
    )
    if freshness_job is None:
        return [nightly, weekly]
    freshness = dg.ScheduleDefinition(
        name="freshness",
        job=freshness_job,
        cron_schedule=freshness_cron,
        execution_timezone="Europe/Stockholm",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    return [nightly, weekly, freshness]
