"""Parse stored raw pages into table rows, in parallel over processes when there are many.

Incremental: a page whose content did not change since the previous run (a 304, the same content
hash, or a page the revisit policy left alone) is not parsed again; its rows are carried over. A page
that fails keeps its previous rows (a failure is never mistaken for a removal); a page that answers
404/410, or is no longer reached, marks its projects removed while their last known data stays.
"""
from __future__ import annotations

import copy
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Iterable

from parsers.page import parse_page
from pipeline.crawler import FetchedPage, PageState
from pipeline.rows import Rows, deduplicate_projects, page_row, page_rows
from pipeline.storage import OutputDir

# Below this many pages a process pool costs more than it saves.
PARALLEL_THRESHOLD = 200
GONE = (404, 410)


@dataclass
class ParseOutcome:
    rows: Rows
    states: dict[str, PageState]
    seen_ids: set[str] = field(default_factory=set)  # projects confirmed on the site in this run
    removed_ids: set[str] = field(default_factory=set)  # projects whose page is gone or no longer reached
    counts: Counter = field(default_factory=Counter)


def parse_one(page: FetchedPage, output_root: str) -> Rows:
    if not page.content_sha256 or page.error:
        return page_rows(page, None)
    try:
        body = OutputDir(output_root).get_raw(page.content_sha256)
        result = parse_page(body, page.url, page.content_type)
    except Exception as exc:  # a broken page is a row in parse_issues, never the end of the run
        return page_rows(page, None, f"{type(exc).__name__}: {exc}")
    return page_rows(page, result)


def _parse_chunk(args: tuple[list[FetchedPage], str]) -> list[Rows]:
    pages, root = args
    return [parse_one(page, root) for page in pages]


def _parse_all(pages: list[FetchedPage], root: str, workers: int) -> list[Rows]:
    if workers <= 1 or len(pages) < PARALLEL_THRESHOLD:
        return _parse_chunk((pages, root))
    size = max(20, len(pages) // (workers * 8))
    chunks = [(pages[i:i + size], root) for i in range(0, len(pages), size)]
    results: list[Rows] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(_parse_chunk, chunks):
            results.extend(part)
    return results


def _carried(page: FetchedPage, previous: PageState, extra_issue: tuple[str, str] | None = None) -> Rows:
    """The previous rows of a page, with this run's pages row (and an issue when it failed)."""
    old: Rows = previous.rows  # type: ignore[assignment]
    rows = copy.copy(old)
    rows.pages = [page_row(page, kind=previous.page_kind, family=old.pages[0].get("page_family") if old.pages else None,
                           records=len(old.projects), encoding=old.pages[0].get("encoding") if old.pages else None)]
    rows.parse_issues = [i for i in old.parse_issues if i.get("problem") not in ("fetch_failed", "page_lost_labels")]
    if extra_issue:
        problem, note = extra_issue
        rows.parse_issues = rows.parse_issues + [{"url": page.url, "problem": problem, "severity": "error",
                                                  "raw_value": None, "note": note}]
        rows.pages[0]["error"] = page.error or note
    return rows


def parse_pages(pages: Iterable[FetchedPage], output: OutputDir, previous: dict[str, PageState] | None = None,
                reparse_all: bool = False, workers: int | None = None,
                crawled_sources: set[str] | None = None) -> ParseOutcome:
    pages = list(pages)
    previous = previous or {}
    workers = workers or min(os.cpu_count() or 1, 8)
    by_url: dict[str, Rows] = {}
    outcome = ParseOutcome(Rows(), {})
    to_parse: list[FetchedPage] = []
    for page in pages:
        prev = previous.get(page.url)
        has_rows = prev is not None and prev.rows is not None
        unchanged = page.outcome in ("not_modified", "revisit_skipped") or (
            page.content_sha256 is not None and prev is not None and prev.content_sha256 == page.content_sha256
            and not page.error)
        if unchanged and has_rows and not reparse_all:
            by_url[page.url] = _carried(page, prev)  # type: ignore[arg-type]
            outcome.counts["carried_over"] += 1
            if page.outcome != "revisit_skipped":
                outcome.seen_ids.update(p["project_id"] for p in by_url[page.url].projects)
        elif page.status in GONE and has_rows:
            by_url[page.url] = _carried(page, prev, ("page_gone", f"HTTP {page.status}: projects marked removed"))  # type: ignore[arg-type]
            outcome.removed_ids.update(p["project_id"] for p in by_url[page.url].projects)
            outcome.counts["removed"] += 1
        elif page.error and has_rows:
            by_url[page.url] = _carried(page, prev, ("fetch_failed", f"{page.error}; previous values kept"))  # type: ignore[arg-type]
            outcome.counts["kept_after_failure"] += 1
        elif page.content_sha256 and not page.error:
            to_parse.append(page)
        else:
            by_url[page.url] = page_rows(page, None)
            outcome.counts["failed"] += page.error is not None
    for page, rows in zip(to_parse, _parse_all(to_parse, str(output.root), workers)):
        prev = previous.get(page.url)
        lost = prev is not None and prev.page_kind == "project" and prev.rows is not None and \
            (not rows.pages or rows.pages[0]["page_kind"] != "project")
        if lost:
            # A 200 that is really an error or maintenance page: keep what the page said before.
            by_url[page.url] = _carried(page, prev, ("page_lost_labels",  # type: ignore[arg-type]
                                                     "the page no longer shows its project labels; previous values kept"))
            outcome.counts["kept_after_failure"] += 1
            continue
        by_url[page.url] = rows
        outcome.counts["parsed"] += 1
        outcome.seen_ids.update(p["project_id"] for p in rows.projects)
    # Addresses known before but not reached in this run: their projects are no longer listed.
    for url, prev in previous.items():
        if url not in by_url and prev.rows is not None and prev.rows.projects:  # type: ignore[attr-defined]
            carried = copy.copy(prev.rows)
            carried.pages = []
            by_url[url] = carried  # type: ignore[assignment]
            if crawled_sources is None or prev.source in crawled_sources:
                outcome.removed_ids.update(p["project_id"] for p in carried.projects)  # type: ignore[attr-defined]
                outcome.counts["no_longer_listed"] += 1
            else:  # a source not crawled in this run keeps its pages as they were
                outcome.counts["other_source_kept"] += 1
    fetched = {p.url: p for p in pages}
    for url, rows in by_url.items():
        outcome.rows.extend(rows)
        page = fetched.get(url)
        if page is None:
            outcome.states[url] = previous[url]
            continue
        ends = [p["end_date"] for p in rows.projects if p.get("end_date")]
        outcome.states[url] = PageState(
            url=url, source=page.source, content_sha256=page.content_sha256, content_type=page.content_type, status=page.status,
            etag=page.etag, last_modified=page.last_modified, checked_at=page.fetched_at,
            page_kind=rows.pages[0]["page_kind"] if rows.pages else None,
            latest_end_date=max(ends) if ends else None, rows=rows,
        )
        if page.error and url in previous and page.status not in GONE:
            # A failed fetch does not replace what we knew (validators, hash) about the page.
            outcome.states[url] = copy.copy(previous[url])
            outcome.states[url].rows = rows
    outcome.seen_ids -= outcome.removed_ids
    deduplicate_projects(outcome.rows)
    return outcome
