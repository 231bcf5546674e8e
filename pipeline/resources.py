"""Typed Dagster resources: where output goes, how the crawler behaves, what it crawls."""

import asyncio
import math
from typing import Callable

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator

from pipeline.crawl.crawler import Crawler, CrawlSettings, CrawlStats
from pipeline.crawl.revisit import RevisitPolicy
from pipeline.pages import FetchedPage, SourceState
from pipeline.sources import Source, configured_sources, sources_from_arguments
from pipeline.storage import OutputDir

# The CLI sets this to drive its live progress display; Dagster runs log instead.
progress_hook: Callable[[CrawlStats], None] | None = None


class OutputResource(dg.ConfigurableResource):
    """The output directory: Parquet tables, raw pages under raw/, run state under _state/."""

    path: str = Field(default="data", description="Directory or fsspec URL (s3://bucket/esf, file:///srv/esf) the tables and the raw page archive are written to.")
    personal_data: bool = Field(default=True, description="Write project_contacts (names, e-mail, phone). "
                                "False leaves the table out of the output.")
    max_project_drop: float = Field(default=0.5, ge=0, le=1, description="Blocking check: the number of active "
                                    "projects may not fall more than this share below the previous run's.")
    max_unknown_label_share: float = Field(default=0.2, ge=0, description="Warning check: unknown labels per project.")
    max_removed_share: float = Field(default=0.1, ge=0, le=1, description="Blocking check: one run may remove at "
                                     "most this share of a source's active projects (more than one project), unless "
                                     "the run allows removals (allow_removals in the output_tables config, "
                                     "--allow-removals on the command line).")
    removal_confirmations: int = Field(default=2, ge=1, description="Complete crawls in a row that must miss a page "
                                       "before its projects count as no longer listed.")
    retention_days: float = Field(default=30, ge=0, description="Raw bodies and parse cache entries no state refers "
                                  "to are deleted after a successful run once they are this many days old.")

    _held: OutputDir | None = PrivateAttr(default=None)

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

    user_agent: str = Field(default=CrawlSettings.user_agent, description="User-Agent with a contact URL.")
    delay_seconds: float = Field(default=1.0, ge=0, description="Minimum delay between requests to one host.")
    concurrency: int = Field(default=2, description="Concurrent requests per host (1 or more).")
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0, description="Longest wait for any one read.")
    request_deadline_seconds: float = Field(default=60.0, gt=0, description="Longest a request may take, connect "
                                            "to last byte (robots.txt included); a page that trickles is cut there.")
    retries: int = Field(default=3, ge=0, description="Retries for 5xx, 429, timeouts and connection errors.")
    max_bytes: int = Field(default=10_000_000, ge=1, description="Largest body accepted, after decompression.")
    max_pages: int = Field(default=50_000, ge=1, description="Upper bound on pages per run; a crawl that reaches it "
                           "is partial (it removes nothing).")
    max_depth: int = Field(default=500, ge=1, description="Links followed from a start page; a crawl that reaches "
                           "it (an endless pagination) is partial.")
    obey_robots: bool = Field(default=True, description="Fetch robots.txt once per host and run, and obey it.")
    ended_grace_days: int = Field(default=365, ge=0, description="A project that ended more than this many days ago ...")
    ended_revisit_days: int = Field(default=30, ge=0, description="... is re-checked only every this many days.")

    @field_validator("delay_seconds")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number of seconds")
        return value

    @field_validator("concurrency", mode="before")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        # An EnvVar (an int subclass standing for the variable) is checked when it is read.
        if type(value) is int and value < 1:
            raise ValueError("must be 1 or more")
        return value

    def crawl(self, sources: list[Source], store: Callable[[bytes], str],
              progress: Callable[[CrawlStats], None] | None = None,
              previous: dict[str, SourceState] | None = None,
              on_page: Callable[[FetchedPage], None] | None = None,
              full_refresh: bool = False) -> tuple[list[FetchedPage], CrawlStats]:
        settings = CrawlSettings(
            user_agent=self.user_agent, delay_seconds=self.delay_seconds, concurrency=self.concurrency,
            connect_timeout=self.connect_timeout, read_timeout=self.read_timeout, retries=self.retries,
            max_bytes=self.max_bytes, max_pages=self.max_pages, obey_robots=self.obey_robots,
            full_refresh=full_refresh, request_deadline=self.request_deadline_seconds, max_depth=self.max_depth,
        )
        crawler = Crawler(settings, store, progress, previous,
                          RevisitPolicy(self.ended_grace_days, self.ended_revisit_days), on_page)
        return asyncio.run(crawler.crawl(sources)), crawler.stats


class SourcesResource(dg.ConfigurableResource):
    """What to crawl: explicit start URLs (``URL`` or ``NAME=URL``), or the sites listed in pipeline/sources.toml."""

    start_urls: list[str] = Field(default_factory=list, description="Start URLs, each URL or NAME=URL; empty means "
                                  "pipeline/sources.toml. A source's name is its identity: NAME, the name of the "
                                  "configured source with that start URL, or one derived from the address.")

    def sources(self) -> list[Source]:
        return sources_from_arguments(self.start_urls) if self.start_urls else configured_sources()
