"""Core layer: parse and normalise the stored raw pages. Reads only the raw archive, never the network."""

from collections import Counter

import dagster as dg

from assets.crawl import crawled_pages
from pipeline.parse_step import parse_pages
from pipeline.resources import OutputResource


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
def parsed_records(context: dg.AssetExecutionContext, config: ParseConfig, output: OutputResource) -> dg.MaterializeResult:
    out = output.directory()
    pages = out.load_state("crawl")
    previous = out.load_state("pages_state") if out.has_state("pages_state") else {}
    crawled = set(out.load_state("crawl_sources")) if out.has_state("crawl_sources") else None
    during_crawl = out.load_state("crawl_parsed") if out.has_state("crawl_parsed") else {}
    outcome = parse_pages(pages, out, previous, reparse_all=config.reparse_all, crawled_sources=crawled,
                          parsed_during_crawl=during_crawl)
    out.save_state("parsed", outcome)
    families: Counter = Counter()
    for state in outcome.states.values():
        if state.parsed is not None and state.parsed.project_ids:
            families[state.parsed.family] += len(state.parsed.project_ids)
    return dg.MaterializeResult(metadata={
        "pages": sum(entry.page is not None for entry in outcome.entries),
        "pages_by_outcome": dg.MetadataValue.json(dict(outcome.counts)),
        "projects": sum(families.values()),
        "projects_by_family": dg.MetadataValue.json(dict(families)),
    })
