"""Parse stored raw pages into table rows, in parallel over processes when there are many."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Iterable

from parsers.page import parse_page
from pipeline.crawler import FetchedPage
from pipeline.rows import Rows, deduplicate_projects, page_rows
from pipeline.storage import OutputDir

# Below this many pages a process pool costs more than it saves.
PARALLEL_THRESHOLD = 200


def parse_one(page: FetchedPage, output_root: str) -> Rows:
    if not page.content_sha256 or page.error:
        return page_rows(page, None)
    try:
        body = OutputDir(output_root).get_raw(page.content_sha256)
        result = parse_page(body, page.url, page.content_type)
    except Exception as exc:  # a broken page is a row in parse_issues, never the end of the run
        return page_rows(page, None, f"{type(exc).__name__}: {exc}")
    return page_rows(page, result)


def _parse_chunk(args: tuple[list[FetchedPage], str]) -> Rows:
    pages, root = args
    rows = Rows()
    for page in pages:
        rows.extend(parse_one(page, root))
    return rows


def parse_pages(pages: Iterable[FetchedPage], output: OutputDir, workers: int | None = None) -> Rows:
    pages = list(pages)
    workers = workers or min(os.cpu_count() or 1, 8)
    rows = Rows()
    if workers <= 1 or len(pages) < PARALLEL_THRESHOLD:
        rows = _parse_chunk((pages, str(output.root)))
    else:
        size = max(20, len(pages) // (workers * 8))
        chunks = [(pages[i:i + size], str(output.root)) for i in range(0, len(pages), size)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for part in pool.map(_parse_chunk, chunks):
                rows.extend(part)
    deduplicate_projects(rows)
    return rows
