"""Raw layer: fetch the pages and keep their bodies on disk by content hash."""

import time

import dagster as dg

from assets.logs import warn
from assets.resources import CrawlerResource, OutputResource, ProgressReporter, SourcesResource
from pipeline.crawl.crawler import ArchiveUnwritable, CrawlStats
from pipeline.exports import read_exports
from pipeline.pages import FetchedPage
from pipeline.parse_step import ParsePool, page_id, page_parse_key
from pipeline.run_state import CRAWL_FILE, CRAWL_RESULT, CrawlResult, load_states, source_runs, without_lost_bodies
from pipeline.settings import default
from pipeline.sources import with_earlier_root

# A progress line in the run's log at most this often: by count it was a hundred lines in a second
# when nearly every page answers 304.
PROGRESS_LOG_SECONDS = default("orchestration", "progress_log_seconds")


class CrawlConfig(dg.Config):
    """Pick sources by name to re-crawl only those from the UI; the others keep their last state."""

    only_sources: list[str] = []
    full_refresh: bool = False  # check every known page again, whatever the revisit policy says (weekly, say)
    sample_projects: int | None = None  # a sample run: at most this many project pages (a partial crawl)


@dg.asset(
    pool=default(
        "orchestration", "crawl_pool"
    ),  # one crawl at a time per instance: a UI re-run never overlaps the nightly one
    group_name="raw",
    kinds={"python"},
    owners=["team:data-engineering"],
    description="Crawl every source (listing pages, pagination, project pages) and store each body under "
    "raw/<sha256>.html, so that parsing can be re-run without fetching. In a large crawl, new bodies "
    "are parsed into the parse cache by a process pool while the crawl goes on.",
)
def crawled_pages(
    context: dg.AssetExecutionContext,
    config: CrawlConfig,
    output: OutputResource,
    crawler: CrawlerResource,
    sources: SourcesResource,
    progress: dg.ResourceParam[ProgressReporter],
) -> dg.MaterializeResult:
    out = output.directory()  # created and held for this run by the resource (OutputResource.setup_for_execution)
    source_list = sources.sources()
    if config.only_sources:
        unknown = set(config.only_sources) - {s.name for s in source_list}
        if unknown:
            raise dg.Failure(
                f"unknown source(s) {sorted(unknown)}; known: {[s.name for s in source_list]}", allow_retries=False
            )
        source_list = [s for s in source_list if s.name in config.only_sources]
    last_logged = [time.monotonic()]

    def report(stats: CrawlStats) -> None:
        if progress.listener is not None:
            progress(stats)
        elif time.monotonic() - last_logged[0] >= PROGRESS_LOG_SECONDS:
            last_logged[0] = time.monotonic()
            context.log.info(
                f"{stats.done} pages done, {stats.queued} queued, {stats.failed} failed, {stats.rate:.1f}/s"
            )

    source_list, exports, export_failures = read_exports(
        source_list, crawler.user_agent, crawler.request_deadline_seconds, crawler.max_bytes * 10
    )
    for name, reason in export_failures.items():
        warn(context, f"source {name}: {reason}")
    previous, renames, notes = load_states(out, source_list)
    previous, lost = without_lost_bodies(previous, out.raw_hashes())
    if lost:
        notes.append(
            f"{lost} raw bodies the state refers to are missing from {out.url('raw')}: those pages are "
            "fetched in full again"
        )
    for line in notes:
        warn(context, line)
    source_list = [with_earlier_root(s, previous[s.name].root if s.name in previous else None) for s in source_list]
    # New bodies go to the parse pool as they arrive (large crawls only), so parsing overlaps the crawl.
    pool = ParsePool(out, min_pages=crawler.parse_pool_threshold)

    def hand_over(page: FetchedPage) -> None:
        state = previous.get(page.source)
        before = state.pages.get(page.key) if state is not None else None
        key = page_parse_key(page)
        if before is None or before.parsed is None or before.parsed.key != key:  # unchanged content is not parsed again
            pool.add(page.url, page.content_sha256, page.content_type, page_id(page.source, page.key))

    try:
        pages, stats = crawler.crawl(
            source_list,
            out.put_raw,
            report,
            previous,
            on_page=hand_over,
            full_refresh=config.full_refresh,
            sample_projects=config.sample_projects,
        )
        rate = stats.rate  # of the crawl itself, before waiting for the parse workers
    except ArchiveUnwritable as exc:
        pool.abandon()
        raise dg.Failure(f"{exc}; nothing was published", allow_retries=False) from None
    finally:
        parsed = pool.finish(parse_rest_here=False)
    context.log.info(f"crawl done: {stats.done} pages, {stats.failed} failed, {stats.retried} retries, {rate:.1f}/s")
    unreachable = [
        p
        for p in pages
        if p.is_start
        and p.status is None
        and (p.outcome != "disallowed" or (p.error or "").startswith("robots.txt unreachable"))
    ]
    if unreachable and len(unreachable) == len(source_list):
        # Nothing reached at all: nothing is written, the previous output stays as it was. (One source
        # unreachable among others is a partial crawl of that source.)
        raise dg.Failure(f"start URL unreachable: {unreachable[0].url} ({unreachable[0].error})", allow_retries=False)
    for line in stats.notes:
        warn(context, line)
    runs = source_runs(stats.sources or source_list, pages, previous, {**export_failures, **stats.unfinished})
    for run in runs:
        if not run.complete:
            warn(
                context,
                f"source {run.name}: partial crawl, nothing is removed for want of being listed "
                f"({'; '.join(run.reasons)})",
            )
    out.save_state(
        CRAWL_FILE,
        CRAWL_RESULT,
        CrawlResult(pages, runs, parsed, renames, notes + stats.notes, exports if exports.sources else None),
    )
    return dg.MaterializeResult(
        metadata={
            "pages_fetched": sum(p.status is not None for p in pages),
            "pages_failed": sum(p.error is not None for p in pages),
            "pages_not_modified": sum(p.outcome == "not_modified" for p in pages),
            "pages_left_alone_by_revisit_policy": sum(p.outcome == "revisit_skipped" for p in pages),
            "pages_disallowed_by_robots": sum(p.outcome == "disallowed" for p in pages),
            "retries": stats.retried,
            "pages_parsed_during_crawl": len(parsed),
            "sources": ", ".join(f"{r.name} ({'complete' if r.complete else 'partial'})" for r in runs),
        }
    )
