"""Core layer: parse and normalise the stored raw pages. Reads only the raw archive, never the network."""

from collections import Counter

import dagster as dg

from assets.crawl import crawled_pages
from assets.logs import warn
from assets.resources import OutputResource, SourcesResource
from pipeline.codec import StateError
from pipeline.parse_step import parse_pages
from pipeline.run_state import CRAWL_FILE, CRAWL_RESULT, PARSE_OUTCOME, PARSED_FILE, CrawlResult, load_states


class ParseConfig(dg.Config):
    reparse_all: bool = False  # True: parse every stored page again, even unchanged ones (after a parser fix)


@dg.asset(
    deps=[crawled_pages],
    group_name="core",
    kinds={"python"},
    owners=["team:data-engineering"],
    description="Parse every stored page (labels, sections, municipality lists) and normalise the values. "
    "Re-materialise this alone after a parser fix: it reads raw/ and makes no HTTP request.",
)
def parsed_records(
    context: dg.AssetExecutionContext, config: ParseConfig, output: OutputResource, sources: SourcesResource
) -> dg.MaterializeResult:
    out = output.directory()
    try:
        crawl = out.load_state(CRAWL_FILE, CRAWL_RESULT, CrawlResult)
    except StateError as exc:
        raise dg.Failure(f"{exc}: materialise crawled_pages first", allow_retries=False) from None
    previous, renames, notes = load_states(out, sources.sources())
    for line in notes:
        warn(context, line)
    # A re-parse of the last crawl proves nothing new about the site: no page counts as seen or missed again.
    reparse = config.reparse_all
    outcome = parse_pages(
        crawl.pages,
        out,
        previous,
        [] if reparse else crawl.sources,
        reparse_all=reparse,
        parsed_during_crawl=crawl.parsed,
        confirmations=output.removal_confirmations,
        id_renames=renames or crawl.id_renames,
    )
    if reparse:
        outcome.seen_ids, outcome.removed_ids, outcome.removed_by_source = set(), set(), {}
    if crawl.exports is not None:
        outcome.operations, outcome.export_issues = crawl.exports.operations, crawl.exports.issues
    out.save_state(PARSED_FILE, PARSE_OUTCOME, outcome)
    families: Counter = Counter()
    for state in outcome.states.values():
        for page in state.pages.values():
            if page.parsed is not None and page.live_project_ids:
                families[page.parsed.family] += len(page.live_project_ids)
    return dg.MaterializeResult(
        metadata={
            "pages": sum(entry.page is not None for entry in outcome.entries),
            "pages_by_outcome": dg.MetadataValue.json(outcome.counts),
            "projects": sum(families.values()),
            "projects_by_family": dg.MetadataValue.json(dict(families)),
            "projects_removed_in_run": len(outcome.removed_ids),
        }
    )
