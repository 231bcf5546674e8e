"""What the crawl records about each address, handed from asset to asset and kept between runs.
Plain data without httpx, so that the parse workers import it without the HTTP stack; every class
here is written to disk as typed JSON (pipeline/codec.py, docs/state-format.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass
class FetchedPage:
    url: str
    source: str
    status: int | None
    fetched_at: datetime | None
    content_sha256: str | None = None
    content_type: str | None = None
    error: str | None = None
    retries: int = 0
    is_start: bool = False
    # fetched | not_modified | revisit_skipped | disallowed | failed | redirected | moved (a start URL that
    # moved for good; the source follows it) | canonical | duplicate | sitemap | not_sampled (--limit)
    outcome: str = "fetched"
    etag: str | None = None
    last_modified: str | None = None
    links: tuple[str, ...] | None = None  # the in-scope addresses this page led to; None when not followed
    links_scope: tuple[str, str] | None = None  # the source's scope those links were cut to
    key: str = ""  # the page's identity within its source (pipeline.sources.Source.page_key)
    # start | link (found on a page or a redirect) | sitemap | list (--urls-from) | export (the official
    # export's project addresses) | known (a page of the state, --full-refresh)
    via: str = "link"
    # redirected, canonical (the page names another address as its own) or duplicate (the same content
    # as a shorter address of the source): the address whose content stands for this one.
    redirect_to: str | None = None
    depth: int = 0  # links followed from the start page to reach it
    malformed_links: tuple[str, ...] = ()  # hrefs on the page that lead nowhere
    pagination: tuple[str, ...] = ()  # the links that page through a listing (fetched ahead of project pages)
    shape: str | None = None  # a paginating page's content without its numbers, hashed (parsers.links._shape)
    document: str = "page"  # page, or sitemap (read for its addresses, not stored or parsed)


@dataclass(frozen=True)
class ParsedPage:
    """What one parse of a page's content gave; its rows are in the parse cache under ``key``."""

    key: str
    kind: str | None  # project | listing | other; None when parsing failed
    family: str | None
    encoding: str | None
    project_ids: tuple[str, ...] = ()
    latest_end_date: date | None = None
    error: str | None = None  # the exception, when the parser failed on the page
    retry: bool = False  # the failure was not the page's (raw archive unreadable, out of memory): parse again next run


# Why a page no longer gives its projects: it answered 404/410, or complete crawls stopped reaching it.
GONE, UNLISTED = "gone", "unlisted"


@dataclass
class PageState:
    """What the last successful run knew about one page of a source (kept in _state/sources/)."""

    url: str
    source: str
    key: str
    content_sha256: str | None
    content_type: str | None
    status: int | None
    etag: str | None
    last_modified: str | None
    checked_at: datetime | None
    parsed: ParsedPage | None = None  # the rows of the page, carried over when it did not change
    links: tuple[str, ...] | None = None  # a followed page's in-scope links, reused when it answers 304 ...
    links_scope: tuple[str, str] | None = None  # ... and the scope they were cut to (a wider one reads the page again)
    pagination: tuple[str, ...] = ()  # ... those of its links that page through a listing (discovery first)
    shape: str | None = None  # ... and its content without numbers, hashed (the barren-pagination guard)
    missed_runs: int = 0  # complete crawls of the source in a row that did not reach the page
    content_run: int = 0  # the source's run (SourceState.runs) that last read the content in ``parsed``
    # A listing that now leads to no project page (an empty 200, a maintenance page): the content it shows
    # instead, and for how many runs in a row; after ``removal_confirmations`` runs it is believed.
    suspect_sha256: str | None = None
    suspect_runs: int = 0
    removed: str | None = None  # None while the page gives its projects; GONE or UNLISTED (last content kept)

    @property
    def page_kind(self) -> str | None:
        return self.parsed.kind if self.parsed else None

    @property
    def latest_end_date(self) -> date | None:
        return self.parsed.latest_end_date if self.parsed else None

    @property
    def live_project_ids(self) -> tuple[str, ...]:
        return self.parsed.project_ids if self.parsed is not None and self.removed is None else ()


@dataclass
class SourceState:
    """Everything kept between runs about one source: its pages by key."""

    name: str
    start_url: str
    pages: dict[str, PageState] = field(default_factory=dict)
    root: str = ""  # the directory the page keys are relative to (pipeline.sources.Source.key_root)
    saved_at: datetime | None = None
    runs: int = 0  # crawls so far
    complete_runs: int = 0  # complete crawls so far
    last_complete_at: datetime | None = None
    # Rebuilt from the published tables (no state file, an unreadable one, or an upgrade): no validators,
    # and each page's parse cache entry is checked before it is trusted.
    rebuilt: bool = False
    # Ids of projects without a number of their own, as a page now gives them -> the id they had before
    # their page moved (a new address, a new root): the project keeps its identity and its history.
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass
class SourceRun:
    """One source's crawl in this run: complete (every discovery page fetched and read, no budget or
    limit reached) or partial, and why. Only a complete crawl may count a page as no longer listed."""

    name: str
    start_url: str
    complete: bool
    reasons: list[str] = field(default_factory=list)
    pages: int = 0
    root: str = ""
    start_ok: bool = True  # the start page was reached (a typo'd start URL is not adopted as the source's)
