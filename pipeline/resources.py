"""Typed Dagster resources: where output goes, how the crawler behaves, what it crawls."""

import asyncio
import sys
from pathlib import Path
from typing import Callable

import dagster as dg
from pydantic import Field, PrivateAttr

from pipeline.crawler import Crawler, CrawlSettings, CrawlStats, RevisitPolicy, Source, validate_start_url
from pipeline.pages import FetchedPage, PageState
from pipeline.storage import OutputDir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SOURCES_FILE = Path(__file__).with_name("sources.toml")

# The CLI sets this to drive its live progress display; Dagster runs log instead.
progress_hook: Callable[[CrawlStats], None] | None = None


class OutputResource(dg.ConfigurableResource):
    """The output directory: Parquet tables, raw pages under raw/, run state under _state/."""

    path: str = Field(default="data", description="Directory or fsspec URL (s3://bucket/esf, file:///srv/esf) the tables and the raw page archive are written to.")
    personal_data: bool = Field(default=True, description="Write project_contacts (names, e-mail, phone). "
                                "False leaves the table out of the output.")
    max_project_drop: float = Field(default=0.5, description="Blocking check: the project count may not fall more "
                                    "than this share below the previous run's.")
    max_unknown_label_share: float = Field(default=0.2, description="Warning check: unknown labels per project.")

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
    delay_seconds: float = Field(default=1.0, description="Minimum delay between requests to one host.")
    concurrency: int = Field(default=2, description="Concurrent requests per host.")
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = Field(default=3, description="Retries for 5xx, 429, timeouts and connection errors.")
    max_bytes: int = Field(default=10_000_000, description="Largest body accepted, after decompression.")
    max_pages: int = Field(default=50_000, description="Upper bound on pages per run.")
    obey_robots: bool = Field(default=True, description="Fetch robots.txt once per host and run, and obey it.")
    ended_grace_days: int = Field(default=365, description="A project that ended more than this many days ago ...")
    ended_revisit_days: int = Field(default=30, description="... is re-checked only every this many days.")

    def crawl(self, sources: list[Source], store: Callable[[bytes], str],
              progress: Callable[[CrawlStats], None] | None = None,
              previous: dict[str, PageState] | None = None,
              on_page: Callable[[FetchedPage], None] | None = None) -> tuple[list[FetchedPage], CrawlStats]:
        settings = CrawlSettings(
            user_agent=self.user_agent, delay_seconds=self.delay_seconds, concurrency=self.concurrency,
            connect_timeout=self.connect_timeout, read_timeout=self.read_timeout, retries=self.retries,
            max_bytes=self.max_bytes, max_pages=self.max_pages, obey_robots=self.obey_robots,
        )
        crawler = Crawler(settings, store, progress, previous,
                          RevisitPolicy(self.ended_grace_days, self.ended_revisit_days), on_page)
        return asyncio.run(crawler.crawl(sources)), crawler.stats


class SourcesResource(dg.ConfigurableResource):
    """What to crawl: explicit start URLs, or the sites listed in pipeline/sources.toml."""

    start_urls: list[str] = Field(default_factory=list, description="Start URLs; empty means pipeline/sources.toml.")

    def sources(self) -> list[Source]:
        if not self.start_urls:
            with open(SOURCES_FILE, "rb") as handle:
                listed = tomllib.load(handle)["sources"]
            return [Source(s["name"], s["start_url"]) for s in listed]
        for url in self.start_urls:
            validate_start_url(url)
        return [Source(f"start_{n}", url) for n, url in enumerate(self.start_urls)]
