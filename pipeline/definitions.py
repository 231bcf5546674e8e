"""The one place where global policy lives, and the one factory of Definitions that the Dagster UI, the
command line and the tests all use: assets, resources, jobs, schedules, retries, concurrency."""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Mapping

import dagster as dg

from assets.alerts import alert_sensor
from assets.crawl import crawled_pages
from assets.freshness import sources_fresh
from assets.jobs import jobs, schedules
from assets.parse import parsed_records
from assets.resources import CrawlerResource, OutputResource, ProgressReporter, PublishedTablesResource, SourcesResource
from assets.tables import output_tables
from pipeline.settings import values

ALL_ASSETS = [crawled_pages, parsed_records, output_tables]
ASSET_CHECKS = [sources_fresh]


def make_definitions(
    environ: Mapping[str, str] | None = None,
    *,
    crawler: Mapping[str, Any] | None = None,
    output: Mapping[str, Any] | None = None,
    start_urls: list[str] | None = None,
    progress: Callable[..., None] | None = None,
    discovery: Mapping[str, Any] | None = None,
) -> dg.Definitions:
    """Definitions from the settings: their defaults, then ``environ`` (the ESF_* variables), then the
    explicit values given here (the command line's, a test's). SettingError names a bad variable."""
    environ = os.environ if environ is None else environ
    orchestration = values("orchestration", environ)
    crawl_and_publish, reparse, check_freshness = jobs(orchestration["step_retries"], orchestration["step_retry_delay"])
    source_values = values("sources", environ)
    output_values = values("output", environ, **(output or {}))
    # A failed run posted to a webhook: only when one is set (a sensor that could do nothing is not shown).
    sensors = (
        [
            alert_sensor(
                orchestration["alert_webhook"], orchestration["alert_timeout_seconds"], orchestration["webserver_url"]
            )
        ]
        if orchestration["alert_webhook"]
        else []
    )
    with warnings.catch_warnings():
        # Code references are a beta feature; the warning says nothing the operator can act on.
        warnings.simplefilter("ignore")
        assets = dg.with_source_code_references(ALL_ASSETS)
    return dg.Definitions(
        assets=assets,
        asset_checks=ASSET_CHECKS,
        jobs=[crawl_and_publish, reparse, check_freshness],
        schedules=schedules(
            crawl_and_publish,
            orchestration["schedule_cron"],
            orchestration["full_refresh_cron"],
            check_freshness,
            orchestration["freshness_cron"],
        ),
        sensors=sensors,
        resources={
            "output": OutputResource(**_listed(output_values)),
            "published": PublishedTablesResource(
                path=output_values["path"], freshness_hours=orchestration["freshness_hours"]
            ),
            "crawler": CrawlerResource(**_listed(values("crawler", environ, **(crawler or {})))),
            "sources": SourcesResource(
                start_urls=list(start_urls if start_urls is not None else source_values["start_urls"]),
                **{k: v for k, v in (discovery or {}).items() if v is not None},
            ),
            "progress": dg.ResourceDefinition.hardcoded_resource(ProgressReporter(progress)),
        },
    )


def _listed(settings: dict[str, Any]) -> dict[str, Any]:
    """Tuples (list settings) as lists, as Dagster's config types want them."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in settings.items()}


defs = make_definitions()
