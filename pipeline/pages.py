"""What the crawl records about each address, handed from asset to asset and kept between runs.
Plain data without httpx, so that the parse workers import it without the HTTP stack."""
from __future__ import annotations

from dataclasses import dataclass
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
    outcome: str = "fetched"  # fetched | not_modified | revisit_skipped | disallowed | failed
    etag: str | None = None
    last_modified: str | None = None
    links: tuple[str, ...] | None = None  # the in-scope addresses this page led to; None when not followed
    links_scope: tuple[str, str] | None = None  # the source's scope those links were cut to


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


@dataclass
class PageState:
    """What the previous successful run knew about one address (kept in _state/ between runs)."""
    url: str
    source: str
    content_sha256: str | None
    content_type: str | None
    status: int | None
    etag: str | None
    last_modified: str | None
    checked_at: datetime | None
    parsed: ParsedPage | None = None  # the rows of the page, carried over when it did not change
    links: tuple[str, ...] | None = None  # a followed page's in-scope links, reused when it answers 304 ...
    links_scope: tuple[str, str] | None = None  # ... and the scope they were cut to (a wider one reads the page again)

    @property
    def page_kind(self) -> str | None:
        return self.parsed.kind if self.parsed else None

    @property
    def latest_end_date(self) -> date | None:
        return self.parsed.latest_end_date if self.parsed else None
