"""Parse stored raw pages into the parse cache, and decide which cached rows make up this run.

The parse cache (``_parsed/`` in the output location) holds the rows of one page's content under a
key made of the parser's version, the address, the content hash and the content type. So a page is
parsed once per content and parser version: during the crawl when the crawl is large (the crawl
hands each new body to a process pool, so both cores work while the network waits), otherwise in
the parse asset. A page whose content did not change (a 304, the same hash, or a page the revisit
policy left alone) is not parsed again; its rows are carried over. A page that fails keeps its
previous rows (a failure is never mistaken for a removal); a page that answers 404/410, or is no
longer reached, marks its projects removed while their last known data stays.
"""
from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from lxml import etree

from pipeline.pages import FetchedPage, PageState, ParsedPage
from pipeline.rows import Rows, content_rows, issue_row, page_row
from pipeline.storage import OutputDir

# Below this many pages a process pool costs more than it saves.
PARALLEL_THRESHOLD = 200
# What each parse worker imports before its first page (the forkserver loads it once for all of them).
# The process that runs the assets imports the parser only when it parses a page itself: a run over an
# unchanged site never does.
WORKER_MODULES = ["pipeline.parse_step", "parsers.page"]
# Pages per task sent to a worker: large enough that the hand-over costs little, small enough to
# keep both workers busy to the end.
BATCH_SIZE = 16
GONE = (404, 410)

_PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Everything that decides what rows a page gives: a change here makes every page parse again.
_PARSER_CODE = ("parsers/*.py", "parsers/data/*", "pipeline/rows.py", "pipeline/schema.py")


@functools.cache
def parser_version() -> str:
    # The HTML parser's own version too: a libxml2 upgrade can build a different tree from the same bytes.
    digest = hashlib.sha256(repr((etree.LXML_VERSION, etree.LIBXML_VERSION)).encode())
    for pattern in _PARSER_CODE:
        for path in sorted(_PROJECT_ROOT.glob(pattern)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def parse_key(url: str, sha: str, content_type: str | None) -> str:
    text = "\0".join((parser_version(), url, sha, content_type or ""))
    return hashlib.sha256(text.encode()).hexdigest()


def parse_into_cache(out: OutputDir, url: str, sha: str, content_type: str | None) -> ParsedPage:
    """Parse one stored page and keep its rows in the cache. Never raises for a bad page: the
    exception becomes the page's error (a parse_failed issue). A failure that is not the page's
    own (the archive cannot be read, memory ran out) is not cached, so the next run tries again."""
    from parsers.page import parse_page

    key = parse_key(url, sha, content_type)
    try:
        body = out.get_raw(sha)
    except OSError as exc:
        return ParsedPage(key, None, None, None, error=f"raw body not readable: {type(exc).__name__}: {exc}", retry=True)
    try:
        result = parse_page(body, url, content_type)
        rows = content_rows(result, url)
        ends = [p["end_date"] for p in rows.projects if p.get("end_date")]
        summary = ParsedPage(key, result.kind, result.family, result.encoding,
                             tuple(p["project_id"] for p in rows.projects), max(ends) if ends else None)
    except MemoryError as exc:
        return ParsedPage(key, None, None, None, error=f"MemoryError: {exc}", retry=True)
    except Exception as exc:  # a broken page is a row in parse_issues, never the end of the run
        rows, summary = Rows(), ParsedPage(key, None, None, None, error=f"{type(exc).__name__}: {exc}")
    out.put_parsed(key, (summary, rows))
    return summary


@functools.lru_cache(maxsize=4)
def _output(location: str) -> OutputDir:
    return OutputDir(location)


def _parse_batch(location: str, items: list[tuple[str, str, str | None]]) -> list[ParsedPage]:
    out = _output(location)
    return [parse_into_cache(out, *item) for item in items]


class ParsePool:
    """Pages handed in one by one are parsed into the cache by worker processes, once there are
    enough of them to pay for the pool; ``finish`` waits for them (and, if asked, parses the rest
    in this process)."""

    def __init__(self, out: OutputDir, workers: int | None = None, min_pages: int | None = None) -> None:
        self.out = out
        self.workers = workers or min(os.cpu_count() or 1, 8)
        if not out.shared_between_processes:
            self.workers = 1
        self.min_pages = PARALLEL_THRESHOLD if min_pages is None else min_pages
        self.pending: list[tuple[str, str, str | None]] = []
        self.futures: list[tuple[Future, list[tuple[str, str, str | None]]]] = []
        self.pool: ProcessPoolExecutor | None = None
        self.lost: list[tuple[str, str, str | None]] = []  # batches of a worker that died
        self.broken = False  # the pool lost a worker: the remaining pages are parsed without it

    def add(self, url: str, sha: str, content_type: str | None) -> None:
        self.pending.append((url, sha, content_type))
        if self.pool is None and self.workers > 1 and len(self.pending) >= self.min_pages:
            # forkserver: the workers start from a small clean process, not a copy of this one.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(WORKER_MODULES)
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        while self.pool is not None and not self.broken and len(self.pending) >= BATCH_SIZE:
            batch, self.pending = self.pending[:BATCH_SIZE], self.pending[BATCH_SIZE:]
            self._submit(batch)

    def _submit(self, batch: list[tuple[str, str, str | None]]) -> None:
        try:
            self.futures.append((self.pool.submit(_parse_batch, self.out.location, batch), batch))  # type: ignore[union-attr]
        except BrokenProcessPool:  # a worker died (killed, out of memory): no more pages go to the pool
            self.broken = True
            self.lost.extend(batch)

    def finish(self, parse_rest_here: bool) -> dict[str, ParsedPage]:
        """The pages parsed so far. Pages of a worker that died, and pages never sent to one, are
        parsed here when asked; otherwise they are left to the parse step."""
        done: dict[str, ParsedPage] = {}
        if self.pool is not None:
            if self.pending and not self.broken:
                batch, self.pending = self.pending, []
                self._submit(batch)
            try:
                for future, batch in self.futures:
                    try:
                        done.update((p.key, p) for p in future.result())
                    except BrokenProcessPool:
                        self.lost.extend(batch)
            finally:
                self.pool.shutdown(cancel_futures=True)
                self.pool = None
                self.futures = []
        if parse_rest_here:
            self.pending, self.lost = self.lost + self.pending, []
            done.update((p.key, p) for p in _parse_batch(self.out.location, self.pending))
            self.pending = []
        return done


@dataclass
class Entry:
    """One address's part of this run's tables: the cached content rows under ``key``, its pages
    row (None when it was not reached in this run), and issues of this run (fetch failures ...)."""
    url: str
    key: str | None
    page: dict[str, Any] | None
    issues: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ParseOutcome:
    entries: list[Entry]
    states: dict[str, PageState]
    seen_ids: set[str] = field(default_factory=set)  # projects confirmed on the site in this run
    removed_ids: set[str] = field(default_factory=set)  # projects whose page is gone or no longer reached
    counts: Counter = field(default_factory=Counter)


def _state(page: FetchedPage, parsed: ParsedPage | None) -> PageState:
    return PageState(url=page.url, source=page.source, content_sha256=page.content_sha256,
                     content_type=page.content_type, status=page.status, etag=page.etag,
                     last_modified=page.last_modified, checked_at=page.fetched_at, parsed=parsed, links=page.links,
                     links_scope=page.links_scope)


def _page_row(page: FetchedPage, parsed: ParsedPage | None, parsed_in_run: bool, error: str | None = None) -> dict[str, Any]:
    return page_row(page, parsed.kind if parsed else None, parsed.family if parsed else None,
                    len(parsed.project_ids) if parsed else 0, parsed.encoding if parsed else None,
                    error or (parsed.error if parsed else None), parsed=parsed_in_run)


def parse_pages(pages: Iterable[FetchedPage], output: OutputDir, previous: dict[str, PageState] | None = None,
                reparse_all: bool = False, workers: int | None = None, crawled_sources: set[str] | None = None,
                parsed_during_crawl: dict[str, ParsedPage] | None = None) -> ParseOutcome:
    pages = list(pages)
    previous = previous or {}
    # What the crawl's workers parsed, except failures that were not the page's own (parsed again here).
    known: dict[str, ParsedPage] = {} if reparse_all else {
        key: parsed for key, parsed in (parsed_during_crawl or {}).items() if not parsed.retry}
    fresh = set(known)  # keys parsed in this run (during the crawl, or below)
    outcome = ParseOutcome([], {})
    pool = ParsePool(output, workers)

    # 1. Which content each page has, and which of it is not in the cache yet.
    content_key: dict[str, str] = {}
    for page in pages:
        prev = previous.get(page.url)
        if page.content_sha256 and not page.error:
            key = parse_key(page.url, page.content_sha256, page.content_type)
            content_key[page.url] = key
            if key in known:
                continue
            if not reparse_all and prev is not None and prev.parsed is not None and prev.parsed.key == key:
                known[key] = prev.parsed
            elif not reparse_all and output.has_parsed(key):
                known[key] = output.get_parsed(key)[0]  # parsed in an earlier run, e.g. content that came back
            else:
                pool.add(page.url, page.content_sha256, page.content_type)
                known[key] = None  # type: ignore[assignment]  # being parsed
    parsed_now = pool.finish(parse_rest_here=True)
    known.update(parsed_now)
    fresh.update(parsed_now)

    # 2. Each page's entry and state.
    for page in pages:
        prev = previous.get(page.url)
        before = prev.parsed if prev is not None and prev.parsed is not None else None
        if page.status in GONE and before is not None:
            outcome.entries.append(Entry(page.url, before.key, _page_row(page, before, False, page.error),
                                         [issue_row(page.url, "page_gone", f"HTTP {page.status}: projects marked removed")]))
            outcome.removed_ids.update(before.project_ids)
            outcome.states[page.url] = _state(page, before)
            outcome.counts["removed"] += 1
        elif page.error and before is not None:
            note = f"{page.error}; previous values kept"
            outcome.entries.append(Entry(page.url, before.key, _page_row(page, before, False, note),
                                         [issue_row(page.url, "fetch_failed", note)]))
            outcome.states[page.url] = replace(prev)  # type: ignore[arg-type]  # validators and hash as they were
            outcome.counts["kept_after_failure"] += 1
        elif page.url in content_key:
            now = known[content_key[page.url]]
            if now.retry:  # not the page's fault: what it said before stays, and the next run parses it again
                note = f"{now.error}; parsed again in the next run" + ("; previous values kept" if before else "")
                outcome.entries.append(Entry(page.url, before.key if before else None,
                                             _page_row(page, before, False, note), [issue_row(page.url, "parse_failed", note)]))
                outcome.states[page.url] = replace(prev) if prev is not None else _state(page, None)  # type: ignore[arg-type]
                outcome.counts["parse_failed_retry"] += 1
                continue
            if before is not None and before.kind == "project" and now.kind != "project":
                # A 200 that is really an error or maintenance page: keep what the page said before.
                note = "the page no longer shows its project labels; previous values kept"
                outcome.entries.append(Entry(page.url, before.key, _page_row(page, before, False, note),
                                             [issue_row(page.url, "page_lost_labels", note)]))
                outcome.states[page.url] = _state(page, before)
                outcome.counts["kept_after_failure"] += 1
                continue
            parsed_in_run = now.key in fresh
            issues = [issue_row(page.url, "parse_failed", now.error)] if now.error else []
            outcome.entries.append(Entry(page.url, now.key, _page_row(page, now, parsed_in_run), issues))
            outcome.states[page.url] = _state(page, now)
            outcome.counts["parsed" if parsed_in_run else "carried_over"] += 1
            if page.outcome != "revisit_skipped":
                outcome.seen_ids.update(now.project_ids)
        else:  # failed, disallowed, or an error page never seen before
            issues = [issue_row(page.url, "fetch_failed", page.error)] if page.error else []
            outcome.entries.append(Entry(page.url, None, _page_row(page, None, False), issues))
            if prev is not None:
                outcome.states[page.url] = replace(prev)
            elif page.status is not None:
                outcome.states[page.url] = _state(page, None)
            outcome.counts["failed"] += page.error is not None

    # 3. Addresses known before but not reached in this run: their projects are no longer listed.
    reached = {page.url for page in pages}
    for url, prev in previous.items():
        if url in reached or prev.parsed is None or not prev.parsed.project_ids:
            continue
        outcome.entries.append(Entry(url, prev.parsed.key, None))
        outcome.states[url] = prev
        if crawled_sources is None or prev.source in crawled_sources:
            outcome.removed_ids.update(prev.parsed.project_ids)
            outcome.counts["no_longer_listed"] += 1
        else:  # a source not crawled in this run keeps its pages as they were
            outcome.counts["other_source_kept"] += 1
    outcome.seen_ids -= outcome.removed_ids
    # Address order, not the order pages happened to arrive in: the same site gives the same tables
    # (and the same "first kept" among duplicates) in every run.
    outcome.entries.sort(key=lambda entry: entry.url)
    return outcome
