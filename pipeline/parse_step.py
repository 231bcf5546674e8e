"""Parse stored raw pages into the parse cache, and decide which cached rows make up this run.

The parse cache (``_parsed/`` in the output location) holds the rows of one page's content under a
key made of the parser's version, the address, the content hash and the content type. So a page is
parsed once per content and parser version: during the crawl when the crawl is large (the crawl
hands each new body to a process pool, so both cores work while the network waits), otherwise in
the parse asset. A page whose content did not change (a 304, the same hash, or a page the revisit
policy left alone) is not parsed again; its rows are carried over. A page that fails keeps its
previous rows (a failure is never mistaken for a removal).

Removal needs proof (README, "History, never loss"): a page that answers 404/410 no longer gives its
projects; a page that complete crawls of its source stopped reaching for ``confirmations`` runs in a
row no longer gives them either; a page read in full that no longer shows a project no longer gives
it. A project is removed when it lost a page in this way in this run and no page gives it any more.
A page that failed, a source whose crawl was partial, a source not crawled: nothing is removed.
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
from typing import Annotated, Any, Iterable

from lxml import etree

from pipeline import interrupts
from pipeline.codec import StateError, TableRow
from pipeline.pages import GONE, UNLISTED, FetchedPage, PageState, ParsedPage, SourceRun, SourceState
from pipeline.rows import CacheEntry, Rows, content_rows, issue_row, page_row
from pipeline.settings import default
from pipeline.sources import Source
from pipeline.storage import OutputDir
from pipeline.worker_guard import end_with_parent

# Below this many pages a process pool costs more than it saves (pipeline/settings.py).
PARALLEL_THRESHOLD = default("crawler", "parse_pool_threshold")
# What each parse worker imports before its first page (the forkserver loads it once for all of them).
# The process that runs the assets imports the parser only when it parses a page itself: a run over an
# unchanged site never does.
WORKER_MODULES = ["pipeline.worker_guard", "pipeline.parse_step", "parsers.page"]
# Pages per task sent to a worker: large enough that the hand-over costs little, small enough to
# keep both workers busy to the end.
BATCH_SIZE = 16
# Answers that prove a page is gone (after the crawler's retries).
GONE_STATUSES = (404, 410)
# Outcomes of a page whose content stands at another address of its source (redirect_to).
MOVED = ("redirected", "moved", "canonical", "duplicate")

_PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Everything that decides what rows a page gives: a change here makes every page parse again.
_PARSER_CODE = (
    "parsers/**/*.py",
    "parsers/data/**/*.toml",
    "parsers/data/**/*.csv",
    "pipeline/rows.py",
    "pipeline/schema.py",
)


@functools.cache
def parser_version() -> str:
    # The HTML parser's own version too: a libxml2 upgrade can build a different tree from the same bytes.
    digest = hashlib.sha256(repr((etree.LXML_VERSION, etree.LIBXML_VERSION)).encode())
    for pattern in _PARSER_CODE:
        for path in sorted(_PROJECT_ROOT.glob(pattern)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def page_id(source: str, key: str) -> str:
    """A page's identity across runs and site moves: its source's name and its key in the source."""
    return f"{source}:{key}"


def parse_key(url: str, sha: str, content_type: str | None, identity: str) -> str:
    text = "\0".join((parser_version(), identity, url, sha, content_type or ""))
    return hashlib.sha256(text.encode()).hexdigest()


def page_parse_key(page: FetchedPage | PageState) -> str:
    return parse_key(page.url, page.content_sha256 or "", page.content_type, page_id(page.source, page.key))


def parse_into_cache(out: OutputDir, url: str, sha: str, content_type: str | None, identity: str) -> ParsedPage:
    """Parse one stored page and keep its rows in the cache. Never raises for a bad page: the
    exception becomes the page's error (a parse_failed issue). A failure that is not the page's
    own (the archive cannot be read, memory ran out) is not cached, so the next run tries again."""
    from parsers.page import parse_page

    key = parse_key(url, sha, content_type, identity)
    try:
        body = out.get_raw(sha)
    except OSError as exc:
        return ParsedPage(
            key, None, None, None, error=f"raw body not readable: {type(exc).__name__}: {exc}", retry=True
        )
    try:
        result = parse_page(body, url, content_type, page_id=identity)
        rows = content_rows(result, url)
        ends = [p["end_date"] for p in rows.projects if p.get("end_date")]
        summary = ParsedPage(
            key,
            result.kind,
            result.family,
            result.encoding,
            tuple(p["project_id"] for p in rows.projects),
            max(ends) if ends else None,
        )
    except MemoryError as exc:
        return ParsedPage(key, None, None, None, error=f"MemoryError: {exc}", retry=True)
    except Exception as exc:  # a broken page is a row in parse_issues, never the end of the run
        rows, summary = Rows(), ParsedPage(key, None, None, None, error=f"{type(exc).__name__}: {exc}")
    out.put_parsed(key, CacheEntry(summary, rows))
    return summary


@functools.lru_cache(maxsize=4)
def _output(location: str) -> OutputDir:
    return OutputDir(location)


Item = tuple[str, str, "str | None", str]  # url, content hash, content type, page identity


def _parse_batch(location: str, items: list[Item]) -> list[ParsedPage]:
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
        self.pending: list[Item] = []
        self.futures: list[tuple[Future, list[Item]]] = []
        self.pool: ProcessPoolExecutor | None = None
        self.lost: list[Item] = []  # batches of a worker that died
        self.broken = False  # the pool lost a worker: the remaining pages are parsed without it

    def add(self, url: str, sha: str, content_type: str | None, identity: str) -> None:
        self.pending.append((url, sha, content_type, identity))
        if self.pool is None and self.workers > 1 and len(self.pending) >= self.min_pages:
            # forkserver: the workers start from a small clean process, not a copy of this one.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(WORKER_MODULES)
            # The forkserver and every worker end when this process does (pipeline/worker_guard.py).
            os.environ["ESF_PIPELINE_MAIN_PID"] = str(os.getpid())
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=end_with_parent)
            interrupts.block()  # starting processes may have unblocked the signals a command-line run waits for
        while self.pool is not None and not self.broken and len(self.pending) >= BATCH_SIZE:
            batch, self.pending = self.pending[:BATCH_SIZE], self.pending[BATCH_SIZE:]
            self._submit(batch)

    def _submit(self, batch: list[Item]) -> None:
        try:
            self.futures.append((self.pool.submit(_parse_batch, self.out.location, batch), batch))  # type: ignore[union-attr]
        except BrokenProcessPool:  # a worker died (killed, out of memory): no more pages go to the pool
            self.broken = True
            self.lost.extend(batch)

    def abandon(self) -> None:
        """The run is stopping: cancel what was not parsed yet and end the workers without waiting."""
        if self.pool is not None:
            processes = list(getattr(self.pool, "_processes", {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.kill()
            self.pool = None
        self.futures, self.pending, self.lost = [], [], []

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


# The order of entries in the tables: pages whose content was read in this run first, then pages whose
# content is kept from earlier runs (failed, not reached) and that still give their projects, then pages
# that no longer do (their last content, for removed projects).
REACHED, KEPT, REMOVED = 0, 1, 2


@dataclass
class Entry:
    """One address's part of this run's tables: the cached content rows under ``key``, its pages
    row (None when it was not reached in this run), and issues of this run (fetch failures ...)."""

    url: str
    source: str
    key: str | None
    page: Annotated[dict[str, Any], TableRow("pages")] | None
    issues: list[Annotated[dict[str, Any], TableRow("parse_issues")]] = field(default_factory=list)
    rank: int = REACHED


@dataclass
class ParseOutcome:
    entries: list[Entry]
    states: dict[str, SourceState]  # every source's state for the next run, by name
    seen_ids: set[str] = field(default_factory=set)  # projects confirmed on the site in this run
    removed_ids: set[str] = field(default_factory=set)  # projects removed in this run, each with proof
    counts: dict[str, int] = field(default_factory=dict)
    sources: list[SourceRun] = field(default_factory=list)  # the sources crawled in this run
    active_before: dict[str, int] = field(default_factory=dict)  # source -> projects its pages gave before the run
    removed_by_source: dict[str, list[str]] = field(default_factory=dict)  # source -> projects it removed
    id_renames: dict[str, str] = field(default_factory=dict)  # old -> new project id (upgrade of the id scheme)
    aliases: dict[str, str] = field(
        default_factory=dict
    )  # derived id a page gives -> the project's id (pages that moved)
    operations: list[Annotated[dict[str, Any], TableRow("operations")]] | None = None  # None: no export read
    export_issues: list[Annotated[dict[str, Any], TableRow("parse_issues")]] = field(default_factory=list)


def _state(page: FetchedPage, parsed: ParsedPage | None, removed: str | None = None) -> PageState:
    return PageState(
        url=page.url,
        source=page.source,
        key=page.key,
        content_sha256=page.content_sha256,
        content_type=page.content_type,
        status=page.status,
        etag=page.etag,
        last_modified=page.last_modified,
        checked_at=page.fetched_at,
        parsed=parsed,
        links=page.links,
        links_scope=page.links_scope,
        pagination=page.pagination if page.links is not None else (),
        shape=page.shape if page.links is not None else None,
        removed=removed,
    )


def _page_row(
    page: FetchedPage, parsed: ParsedPage | None, parsed_in_run: bool, error: str | None = None
) -> dict[str, Any]:
    kind = "sitemap" if page.document == "sitemap" else parsed.kind if parsed else None
    return page_row(
        page,
        kind,
        parsed.family if parsed else None,
        len(parsed.project_ids) if parsed else 0,
        parsed.encoding if parsed else None,
        error or (parsed.error if parsed else None),
        parsed=parsed_in_run,
    )


def parse_pages(
    pages: Iterable[FetchedPage],
    output: OutputDir,
    previous: dict[str, SourceState] | None = None,
    runs: list[SourceRun] | None = None,
    reparse_all: bool = False,
    workers: int | None = None,
    parsed_during_crawl: dict[str, ParsedPage] | None = None,
    confirmations: int = 2,
    id_renames: dict[str, str] | None = None,
) -> ParseOutcome:
    """This run's pages (and every known page not reached) -> table entries, the next run's state per
    source, and the projects seen and removed, each removal with its proof."""
    pages = list(pages)
    previous = previous or {}
    runs = runs or []
    run_by_name = {run.name: run for run in runs}

    def before_state(page: FetchedPage) -> PageState | None:
        state = previous.get(page.source)
        return state.pages.get(page.key) if state is not None else None

    # What the crawl's workers parsed, except failures that were not the page's own (parsed again here).
    known: dict[str, ParsedPage] = (
        {} if reparse_all else {key: parsed for key, parsed in (parsed_during_crawl or {}).items() if not parsed.retry}
    )
    fresh = set(known)  # keys parsed in this run (during the crawl, or below)
    pool = ParsePool(output, workers)

    # 1. Which content each page has, and which of it is not in the cache yet.
    content_key: dict[int, str] = {}
    for n, page in enumerate(pages):
        if not page.content_sha256 or page.error:
            continue
        key = page_parse_key(page)
        content_key[n] = key
        if key in known:
            continue
        prev = before_state(page)
        cached = None
        if (
            not reparse_all
            and prev is not None
            and prev.parsed is not None
            and prev.parsed.key == key
            and not previous[page.source].rebuilt
        ):
            cached = prev.parsed
        elif not reparse_all:
            try:
                cached = output.get_parsed(key)[0]  # content that came back, or a state rebuilt from the tables
            except StateError:
                cached = None
        if cached is not None:
            known[key] = cached  # parsed in an earlier run (unchanged, or content that came back)
        else:
            pool.add(page.url, page.content_sha256, page.content_type, page_id(page.source, page.key))
            known[key] = None  # type: ignore[assignment]  # being parsed
    parsed_now = pool.finish(parse_rest_here=True)
    known.update(parsed_now)
    fresh.update(parsed_now)

    outcome = ParseOutcome(
        [],
        {name: replace(state, pages={}, aliases=dict(state.aliases)) for name, state in previous.items()},
        sources=runs,
        id_renames=dict(id_renames or {}),
    )
    aliases = _moved_projects(pages, content_key, known, previous)
    for name, found in aliases.items():
        outcome.states.setdefault(name, SourceState(name, "")).aliases.update(found)
    for state in outcome.states.values():
        outcome.aliases.update(state.aliases)

    def aliased(parsed: ParsedPage) -> ParsedPage:
        if not outcome.aliases or not any(pid in outcome.aliases for pid in parsed.project_ids):
            return parsed
        return replace(parsed, project_ids=tuple(dict.fromkeys(outcome.aliases.get(p, p) for p in parsed.project_ids)))

    counts: Counter = Counter()
    lost: dict[str, set[str]] = {}  # source -> projects that lost a page in this run, with proof

    def lose(source: str, ids: Iterable[str]) -> None:
        lost.setdefault(source, set()).update(ids)

    def keep(state: PageState) -> None:
        outcome.states.setdefault(state.source, SourceState(state.source, "")).pages[state.key] = state

    # 2. Each page reached in this run: its content, or why what it said before stays.
    read_ok: dict[tuple[str, str], ParsedPage] = {}  # (source, address) -> the content read in full in this run
    redirects: list[tuple[FetchedPage, PageState | None]] = []
    contents: list[tuple[FetchedPage, PageState | None, ParsedPage]] = []  # pages whose content was read
    for n, page in enumerate(pages):
        prev = before_state(page)
        before = prev.parsed if prev is not None else None
        live_before = prev.live_project_ids if prev is not None else ()
        rank = REMOVED if prev is not None and prev.removed is not None else KEPT  # unless the content is read now
        if page.malformed_links:  # one issue row each; the page itself is read as usual
            outcome.entries.append(
                Entry(
                    page.url,
                    page.source,
                    None,
                    None,
                    [
                        issue_row(
                            page.url,
                            "malformed_link",
                            "a link on the page leads nowhere; not followed",
                            "warning",
                            href,
                        )
                        for href in page.malformed_links
                    ],
                )
            )
        if page.outcome in MOVED:
            redirects.append((page, prev))
            continue
        if page.status in GONE_STATUSES:
            note = f"HTTP {page.status}: the page is gone" + (
                "; its projects are removed unless another page gives them" if live_before else ""
            )
            outcome.entries.append(
                Entry(
                    page.url,
                    page.source,
                    before.key if before else None,
                    _page_row(page, before, False, f"HTTP {page.status}"),
                    [issue_row(page.url, "page_gone" if before else "fetch_failed", note)],
                    REMOVED if before else REACHED,
                )
            )
            keep(
                replace(
                    prev, status=page.status, checked_at=page.fetched_at, etag=None, last_modified=None, removed=GONE
                )
                if prev is not None
                else _state(page, None, GONE)
            )
            lose(page.source, live_before)
            counts["gone"] += 1
        elif page.error:
            note = f"{page.error}; previous values kept" if before is not None else page.error
            issues = (
                [] if page.outcome == "disallowed" and before is None else [issue_row(page.url, "fetch_failed", note)]
            )
            outcome.entries.append(
                Entry(
                    page.url,
                    page.source,
                    before.key if before else None,
                    _page_row(page, before, False, note if before else None),
                    issues,
                    rank,
                )
            )
            if prev is not None:
                keep(replace(prev))  # validators, hash and content as they were
            counts["kept_after_failure" if before is not None else "failed"] += 1
        elif n in content_key:
            now = aliased(known[content_key[n]])
            if now.retry:  # not the page's fault: what it said before stays, and the next run parses it again
                note = f"{now.error}; parsed again in the next run" + ("; previous values kept" if before else "")
                outcome.entries.append(
                    Entry(
                        page.url,
                        page.source,
                        before.key if before else None,
                        _page_row(page, before, False, note),
                        [issue_row(page.url, "parse_failed", note)],
                        rank,
                    )
                )
                keep(replace(prev) if prev is not None else _state(page, None))
                counts["parse_failed_retry"] += 1
                continue
            if before is not None and before.kind == "project" and now.kind != "project":
                # A 200 that is really an error or maintenance page: keep what the page said before.
                note = "the page no longer shows its project labels; previous values kept"
                outcome.entries.append(
                    Entry(
                        page.url,
                        page.source,
                        before.key,
                        _page_row(page, before, False, note),
                        [issue_row(page.url, "page_lost_labels", note)],
                        rank,
                    )
                )
                keep(replace(prev, checked_at=page.fetched_at))  # type: ignore[arg-type]
                counts["kept_after_failure"] += 1
                continue
            contents.append((page, prev, now))
            parsed_in_run = now.key in fresh
            issues = [issue_row(page.url, "parse_failed", now.error)] if now.error else []
            outcome.entries.append(Entry(page.url, page.source, now.key, _page_row(page, now, parsed_in_run), issues))
            state = previous.get(page.source)
            new_state = replace(_state(page, now), content_run=(state.runs if state is not None else 0) + 1)
            if page.via == "known" and prev is not None:
                # Checked again by --full-refresh, not linked: its values are refreshed, and a 404 would be
                # proof, but it is not listed: it stays as listed or unlisted as it was.
                new_state = replace(new_state, removed=prev.removed, missed_runs=prev.missed_runs)
            keep(new_state)
            counts["parsed" if parsed_in_run else "carried_over"] += 1
            if page.outcome != "revisit_skipped":  # left alone, not checked: kept, not seen
                if page.via != "known":
                    outcome.seen_ids.update(now.project_ids)
                read_ok[(page.source, page.url)] = now
                lose(page.source, set(live_before) - set(now.project_ids))
        else:  # an answer without content (a 3xx without a target, say) and no error
            outcome.entries.append(
                Entry(page.url, page.source, before.key if before else None, _page_row(page, before, False), [], rank)
            )
            keep(replace(prev) if prev is not None else _state(page, None))

    # The content shows more partial crawls: a page that led to project pages and now leads to none (an
    # empty 200, a maintenance or login page, also behind a redirect: only links to known non-project
    # pages, the menus, are left), a start page that leads nowhere. Such a page keeps what it said before.
    redirected_from = {(p.source, p.redirect_to): before_state(p) for p in pages if p.outcome in MOVED}
    starts = {(p.source, p.redirect_to) for p in pages if p.is_start and p.outcome in MOVED}
    suspect: set[tuple[str, str]] = set()
    # Sources whose pages were found besides the links (sitemaps, a list, the export): a start page that
    # leads nowhere (a listing drawn by JavaScript) is then no sign of a partial crawl.
    discovered = {p.source for p in pages if p.via in ("sitemap", "list", "export") and not p.error}
    for page, prev, now in contents:
        run = run_by_name.get(page.source)
        if run is None:
            continue
        start = page.is_start or (page.source, page.url) in starts
        was = prev if prev is not None and prev.links else redirected_from.get((page.source, page.url))
        reason = None
        if (
            was is not None
            and was.links
            and _leads_to_projects(previous.get(page.source), run, was.links, known_only=True)
            and not _leads_to_projects(previous.get(page.source), run, page.links or (), known_only=False)
        ):
            reason = f"{page.url} led to project pages before and now to none"
        elif now.kind == "listing" and page.links is None and page.outcome == "fetched":
            reason = f"{page.url} reads as a listing but its links were not followed"
        elif now.kind == "project" and start:
            if _others_known(previous.get(page.source), {p.key for p in pages if p.source == page.source}):
                reason = (
                    "the start page is a page of projects, not a listing: the crawl cannot tell what is no "
                    "longer listed"
                )
        elif start and not page.links and now.kind not in ("listing", "project") and page.source not in discovered:
            reason = (
                "the start page leads to no page of the source (a maintenance page, or a listing drawn by JavaScript?)"
            )
        if reason is not None and prev is not None and reason.endswith("now to none"):
            # The same content again and again: after more than ``confirmations`` runs it is believed (a
            # listing that really became empty), not a maintenance page any more; what it no longer lists
            # then needs ``confirmations`` complete runs more.
            runs_seen = prev.suspect_runs + 1 if prev.suspect_sha256 == page.content_sha256 else 1
            if runs_seen > confirmations:
                reason = None
            else:
                keep(replace(prev, suspect_sha256=page.content_sha256, suspect_runs=runs_seen))
        elif reason is not None and prev is not None:
            keep(replace(prev))
        if reason is not None:
            run.complete = False
            run.reasons.append(reason)
            suspect.add((page.source, page.url))

    # 3. Redirects: the content moved to the target; what the old address gave is given up only when the
    # target was read in full in this run (a failed or suspect target keeps the old address's content).
    for page, prev in redirects:
        before = prev.parsed if prev is not None else None
        target = read_ok.get((page.source, page.redirect_to or ""))
        if prev is not None and (
            (page.source, page.redirect_to) in suspect
            or (target is not None and prev.page_kind == "project" and target.kind != "project")
        ):
            target = None  # a maintenance or login page at the end of a redirect is no proof of anything
        if target is not None or prev is None:
            outcome.entries.append(Entry(page.url, page.source, None, _page_row(page, None, False)))
            keep(_state(page, None))
            if prev is not None:
                lose(page.source, set(prev.live_project_ids) - set(target.project_ids if target else ()))
        else:
            outcome.entries.append(
                Entry(
                    page.url,
                    page.source,
                    before.key if before else None,
                    _page_row(
                        page,
                        before,
                        False,
                        f"{page.outcome} to {page.redirect_to}, which "
                        "was not read in full as a project: previous values kept",
                    ),
                    [],
                    REMOVED if prev.removed else KEPT,
                )
            )
            keep(replace(prev))
        counts[page.outcome] += 1

    # 4. Pages known before but not reached in this run (or only checked by --full-refresh, not linked).
    reached = {(page.source, page.key) for page in pages if page.via != "known"}
    for name, state in previous.items():
        run = run_by_name.get(name)
        crawled = Source(run.name, run.start_url, run.root) if run is not None else None
        for key, prev in state.pages.items():
            if (name, key) in reached:
                continue
            checked = outcome.states.get(name, state).pages.get(key)
            if checked is not None and checked is not prev:  # checked by --full-refresh in this run
                if checked.removed is not None or checked.parsed is None:
                    continue
                prev = checked
            # Only a complete crawl that could have reached the page counts it as missed.
            if run is not None and run.complete and crawled.in_scope(crawled.url_for(key)):  # type: ignore[union-attr]
                prev = replace(prev, missed_runs=prev.missed_runs + 1)
                if prev.removed is None and prev.missed_runs >= confirmations:
                    lose(name, prev.live_project_ids)
                    prev = replace(prev, removed=UNLISTED)
                    counts["no_longer_listed"] += 1
                else:
                    counts["not_reached"] += 1
            else:
                counts["kept_not_crawled" if run is None else "kept_partial_crawl"] += 1
            keep(prev)
            if prev.parsed is not None and prev.parsed.project_ids and checked is None:
                outcome.entries.append(
                    Entry(prev.url, name, prev.parsed.key, None, [], KEPT if prev.removed is None else REMOVED)
                )

    # 5. A project is removed when it lost a page with proof and no page gives it any more.
    live: set[str] = set()
    for state in outcome.states.values():
        for page_state in state.pages.values():
            live.update(page_state.live_project_ids)
    for name, state in previous.items():
        active = {pid for page_state in state.pages.values() for pid in page_state.live_project_ids}
        outcome.active_before[name] = len(active)
    for name, ids in lost.items():
        removed = ids - live - outcome.seen_ids
        if removed:
            outcome.removed_by_source[name] = sorted(removed)
            outcome.removed_ids |= removed
    for run in runs:
        state = outcome.states.setdefault(run.name, SourceState(run.name, run.start_url))
        if run.start_ok or not state.start_url:  # a start URL that failed (a typo) is not adopted
            state.start_url, state.root = run.start_url, run.root
        state.rebuilt = False
        state.runs += 1
        if run.complete:
            state.complete_runs += 1
            state.last_complete_at = max(
                (p.fetched_at for p in pages if p.source == run.name and p.fetched_at), default=state.last_complete_at
            )
    outcome.counts = dict(counts)
    # Reached pages first, then kept ones, then removed ones; by address, not the order pages happened to
    # arrive in: the same site gives the same tables (and the same "first kept") in every run.
    # Among pages not read in this run, the one read last comes first: its content is the last known.
    # A project two sources give takes the values of the same source in every run (the first by name),
    # whichever of them failed this time: values do not flap.
    read_in = {
        (state.source, state.url): state.content_run
        for source_state in outcome.states.values()
        for state in source_state.pages.values()
    }
    outcome.entries.sort(
        key=lambda entry: (
            entry.rank == REMOVED,
            entry.source,
            entry.rank,
            0 if entry.rank == REACHED else -read_in.get((entry.source, entry.url), 0),
            entry.url,
        )
    )
    return outcome


def _stem(project_id: str) -> str | None:
    """A derived id without its hash (family prefix and name slug); None for a site's own number."""
    head, _, digest = project_id.rpartition("-")
    return (
        head if head and len(digest) == 8 and all(c in "0123456789abcdef" for c in digest) and "/" not in head else None
    )


def _moved_projects(
    pages: list[FetchedPage],
    content_key: dict[int, str],
    known: dict[str, ParsedPage],
    previous: dict[str, SourceState],
) -> dict[str, dict[str, str]]:
    """Projects without a number of their own whose page moved (a redirect, a new address on the
    listing, a new root): a derived id never seen before, and a live id of the same family and name that
    no page read in this run gives any more. Matched one to one, the new id becomes an alias of the old."""
    found: dict[str, dict[str, str]] = {}
    read: dict[str, set[str]] = {}
    for n, page in enumerate(pages):
        if n in content_key and known.get(content_key[n]) is not None and page.outcome != "revisit_skipped":
            read.setdefault(page.source, set()).update(known[content_key[n]].project_ids)
    for name, ids in read.items():
        state = previous.get(name)
        if state is None:
            continue
        seen_before = {pid for page in state.pages.values() if page.parsed for pid in page.parsed.project_ids}
        seen_before |= set(state.aliases) | set(state.aliases.values())
        live = {pid for page in state.pages.values() for pid in page.live_project_ids}
        given = {state.aliases.get(pid, pid) for pid in ids}
        new: dict[str, list[str]] = {}
        old: dict[str, list[str]] = {}
        for pid in ids - seen_before:
            if (stem := _stem(pid)) is not None:
                new.setdefault(stem, []).append(pid)
        for pid in live - given:
            if (stem := _stem(pid)) is not None:
                old.setdefault(stem, []).append(pid)
        for stem, candidates in new.items():
            if len(candidates) == 1 and len(old.get(stem, ())) == 1:
                found.setdefault(name, {})[candidates[0]] = old[stem][0]
    return found


def _leads_to_projects(state: SourceState | None, run: SourceRun, links: Iterable[str], known_only: bool) -> bool:
    """Do these links lead to a page known as a project page (or, unless ``known_only``, to a page not
    known yet, which may be one)?"""
    source = Source(run.name, run.start_url, run.root)
    known = state.pages if state is not None else {}
    for link in links:
        page = known.get(source.page_key(link))
        if (page is not None and page.page_kind == "project") or (page is None and not known_only):
            return True
    return False


def _others_known(state: SourceState | None, reached: set[str]) -> bool:
    """Does the source's state know live pages this run did not reach?"""
    return state is not None and any(
        key not in reached and page.removed is None and page.live_project_ids for key, page in state.pages.items()
    )


def content_sources(states: dict[str, SourceState]) -> dict[str, Item]:
    """Parse cache key -> what to parse to make its entry again (address, content hash, type, identity),
    for every content the states refer to: a lost or unreadable cache entry is rebuilt from raw/."""
    found: dict[str, Item] = {}
    for state in states.values():
        for page in state.pages.values():
            if page.parsed is not None and page.parsed.key and page.content_sha256:
                found[page.parsed.key] = (
                    page.url,
                    page.content_sha256,
                    page.content_type,
                    page_id(page.source, page.key),
                )
    return found
