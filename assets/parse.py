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
    outcome = parse_pages(pages, out, previous, reparse_all=config.reparse_all, crawled_sources=crawled)
    out.save_state("parsed", outcome)
    rows = outcome.rows
    families = Counter(p["page_family"] for p in rows.projects)
    problems = Counter(i["problem"] for i in rows.parse_issues)
    return dg.MaterializeResult(metadata={
        "pages": len(rows.pages),
        "pages_by_outcome": dg.MetadataValue.json(dict(outcome.counts)),
        "projects": len(rows.projects),
        "projects_by_family": dg.MetadataValue.json(dict(families)),
        "issues_by_problem": dg.MetadataValue.json(dict(problems)),
    })
