"""Typed Dagster resources: where output goes, how the crawler behaves, what it crawls, and who hears
the crawl's progress. Every field's default and description comes from pipeline/settings.py."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator

from pipeline.crawl.crawler import Crawler, CrawlSettings, CrawlStats
from pipeline.crawl.revisit import RevisitPolicy
from pipeline.pages import FetchedPage, SourceState
from pipeline.settings import GROUPS, setting
from pipeline.sources import Source, configured_sources, sources_from_arguments, with_discovery
from pipeline.storage import OutputDir


def _field(group: str, name: str) -> Any:
    spec = setting(group, name)
    if isinstance(spec.default, tuple):
        return Field(default_factory=lambda: list(spec.default), description=spec.help)
    return Field(default=spec.default, description=spec.help)


class OutputResource(dg.ConfigurableResource):
    """The output directory: Parquet tables, raw pages under raw/, run state under _state/."""

    path: str = _field("output", "path")
    personal_data: bool = _field("output", "personal_data")
    max_project_drop: float = _field("output", "max_project_drop")
    max_unknown_label_share: float = _field("output", "max_unknown_label_share")
    max_removed_share: float = _field("output", "max_removed_share")
    removal_confirmations: int = _field("output", "removal_confirmations")
    retention_days: float = _field("output", "retention_days")

    _held: OutputDir | None = PrivateAttr(default=None)

    @field_validator(
        "max_project_drop", "max_unknown_label_share", "max_removed_share", "removal_confirmations", "retention_days"
    )
    @classmethod
    def _in_bounds(cls, value: Any, info: Any) -> Any:
        return setting("output", info.field_name).check(value)

    def directory(self) -> OutputDir:
        return OutputDir(self.path)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # One run at a time per output location (OutputDir.lock_for_writing): held for the run in one
        # process (the CLI, in-process runs), for each step under the multiprocess executor.
        out = self.directory()
        out.ensure()
        out.lock_for_writing()
        self._held = out

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._held is not None:
            self._held.unlock_for_writing()
            self._held = None


class CrawlerResource(dg.ConfigurableResource):
    """Politeness and limits of the crawler (defaults are for real public sites)."""

    user_agent: str = _field("crawler", "user_agent")
    delay_seconds: float = _field("crawler", "delay_seconds")
    concurrency: int = _field("crawler", "concurrency")
    connect_timeout: float = _field("crawler", "connect_timeout")
    read_timeout: float = _field("crawler", "read_timeout")
    request_deadline_seconds: float = _field("crawler", "request_deadline_seconds")
    retries: int = _field("crawler", "retries")
    backoff_seconds: float = _field("crawler", "backoff_seconds")
    max_retry_after: float = _field("crawler", "max_retry_after")
    retry_statuses: list[int] = _field("crawler", "retry_statuses")
    max_bytes: int = _field("crawler", "max_bytes")
    robots_max_bytes: int = _field("crawler", "robots_max_bytes")
    max_pages: int = _field("crawler", "max_pages")
    max_depth: int = _field("crawler", "max_depth")
    max_barren_pages: int = _field("crawler", "max_barren_pages")
    max_redirects: int = _field("crawler", "max_redirects")
    slow_response_seconds: float = _field("crawler", "slow_response_seconds")
    obey_robots: bool = _field("crawler", "obey_robots")
    tracking_parameters: list[str] = _field("crawler", "tracking_parameters")
    ended_grace_days: int = _field("crawler", "ended_grace_days")
    ended_revisit_days: int = _field("crawler", "ended_revisit_days")
    parse_pool_threshold: int = _field("crawler", "parse_pool_threshold")
    throttle_start: int = _field("crawler", "throttle_start")
    throttle_slow_factor: float = _field("crawler", "throttle_slow_factor")
    throttle_slow_margin: float = _field("crawler", "throttle_slow_margin")

    @field_validator(*[s.name for s in GROUPS["crawler"] if s.kind in ("int", "float")])
    @classmethod
    def _in_bounds(cls, value: Any, info: Any) -> Any:
        return setting("crawler", info.field_name).check(value)

    def settings(self, full_refresh: bool = False) -> CrawlSettings:
        return CrawlSettings(
            user_agent=self.user_agent,
            delay_seconds=self.delay_seconds,
            concurrency=self.concurrency,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            request_deadline_seconds=self.request_deadline_seconds,
            retries=self.retries,
            backoff_seconds=self.backoff_seconds,
            max_retry_after=self.max_retry_after,
            retry_statuses=tuple(self.retry_statuses),
            max_bytes=self.max_bytes,
            robots_max_bytes=self.robots_max_bytes,
            max_pages=self.max_pages,
            max_depth=self.max_depth,
            max_barren_pages=self.max_barren_pages,
            max_redirects=self.max_redirects,
            slow_response_seconds=self.slow_response_seconds,
            obey_robots=self.obey_robots,
            full_refresh=full_refresh,
            tracking_parameters=tuple(self.tracking_parameters),
            throttle_start=self.throttle_start,
            throttle_slow_factor=self.throttle_slow_factor,
            throttle_slow_margin=self.throttle_slow_margin,
        )

    def crawl(
        self,
        sources: list[Source],
        store: Callable[[bytes], str],
        progress: Callable[[CrawlStats], None] | None = None,
        previous: dict[str, SourceState] | None = None,
        on_page: Callable[[FetchedPage], None] | None = None,
        full_refresh: bool = False,
        sample_projects: int | None = None,
    ) -> tuple[list[FetchedPage], CrawlStats]:
        settings = self.settings(full_refresh)
        settings.sample_projects = sample_projects
        crawler = Crawler(
            settings, store, progress, previous, RevisitPolicy(self.ended_grace_days, self.ended_revisit_days), on_page
        )
        return asyncio.run(crawler.crawl(sources)), crawler.stats


class SourcesResource(dg.ConfigurableResource):
    """What to crawl: explicit start URLs (``URL`` or ``NAME=URL``), or the sites listed in pipeline/sources.toml."""

    start_urls: list[str] = _field("sources", "start_urls")
    urls_from: str | None = Field(
        default=None,
        description="A file of addresses, one per line, fetched besides what the listings and sitemaps lead to.",
    )
    export: str | None = Field(
        default=None,
        description="The official export (a path or a URL), read as the "
        "operations table; its projects are fetched through project_url.",
    )
    project_url: str | None = Field(
        default=None, description="A project page's address, {dnr} standing for the export's Diarienummer."
    )

    def sources(self) -> list[Source]:
        listed = sources_from_arguments(self.start_urls) if self.start_urls else configured_sources()
        return with_discovery(listed, self.urls_from, self.export, self.project_url)


class ProgressReporter:
    """Who hears the crawl's progress: the command line's live display, or nobody (the run log has its own
    lines, at most every ``progress_log_seconds``)."""

    def __init__(self, listener: Callable[[CrawlStats], None] | None = None) -> None:
        self.listener = listener

    def __call__(self, stats: CrawlStats) -> None:
        if self.listener is not None:
            self.listener(stats)


class PublishedTablesResource(dg.ConfigurableResource):
    """The published tables, read only: what the freshness check reads. It takes no lock, so the check runs
    beside a crawl that is writing (each table is replaced whole by a rename)."""

    path: str = _field("output", "path")
    freshness_hours: float = _field("orchestration", "freshness_hours")

    @field_validator("freshness_hours")
    @classmethod
    def _in_bounds(cls, value: Any, info: Any) -> Any:
        return setting("orchestration", info.field_name).check(value)

    def directory(self) -> OutputDir:
        return OutputDir(self.path)
