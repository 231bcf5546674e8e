"""The Scrapy spider the bench holds the pipeline against: the same job, written as a plain Scrapy user
would write it. Start at the listing, follow every link in scope (the start URL's host, under its
directory, as the pipeline's scope) from each page that is not a project page, read the label/value
pairs of each project page with BeautifulSoup over lxml, write one JSON line per project.

    python -m bench.scrapy_spider --start-url http://127.0.0.1:PORT/projektbanken/ --output DIR [--concurrency 16]

Settings: CONCURRENT_REQUESTS and CONCURRENT_REQUESTS_PER_DOMAIN = --concurrency, DOWNLOAD_DELAY 0,
ROBOTSTXT_OBEY on (the pipeline obeys robots.txt), AutoThrottle off, LOG_LEVEL WARNING, the telnet
console off; everything else (the reactor, the scheduler's order, retries, timeouts, cookies) is
Scrapy's default. Runs in its own process so the bench measures its wall time, CPU and peak memory the
way it measures the pipeline's. Prints one JSON line with its figures (from Scrapy's stats) at the end.

Needs the bench extra (`pip install -e ".[bench]"`, done by `make bench`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

MAX_LABEL = 60  # longer "labels" are prose
MIN_PAIRS = 3  # a page with fewer pairs is not a project page: its links are followed


def _squash(text: str) -> str:
    return " ".join(text.split())


def read_pairs(soup: BeautifulSoup) -> dict[str, str]:
    """Label/value pairs of a page, generically: ``<dt>``/``<dd>``, two-cell table rows, a paragraph that is
    a label ending in ``:`` followed by a paragraph with the value, ``<p><b>Label</b>value</p>``, and
    ``Label: value`` in one short paragraph or list item. The first value of a label wins."""
    pairs: dict[str, str] = {}

    def put(label: str, value: str) -> None:
        label = _squash(label).rstrip(":").strip()
        if label and len(label) <= MAX_LABEL and label not in pairs:
            pairs[label] = _squash(value)

    for dt in soup.find_all("dt"):
        dd = dt.find_next_sibling("dd")
        if dd is not None:
            put(dt.get_text(" "), dd.get_text(" "))
    for tr in soup.find_all("tr"):
        cells = tr.find_all(["th", "td"], recursive=False)
        if len(cells) == 2:
            put(cells[0].get_text(" "), cells[1].get_text(" "))
    for block in soup.find_all(["p", "li"]):
        text = block.get_text(" ", strip=True)
        if not text or len(text) > 200:
            continue
        first = block.find(["b", "strong"])
        if first is not None and block.contents and block.contents[0] is first:  # <p><b>Label</b>value</p>
            label = first.get_text(" ", strip=True)
            value = text[len(label) :].strip()
            if value:
                put(label, value)
            continue
        if text.endswith(":") and len(text) <= MAX_LABEL:  # <p>Label:</p><p>value</p>
            following = block.find_next_sibling()
            if following is not None and following.name == block.name:
                value = following.get_text(" ", strip=True)
                put(text, "" if value.endswith(":") else value)
            continue
        label, colon, value = text.partition(": ")
        if colon and 0 < len(label) <= 40 and value:
            put(label, value)
    return pairs


def read_page(html: str) -> tuple[str, dict[str, str], list[str]]:
    """(title, label/value pairs, hrefs) of a page, with one BeautifulSoup tree over lxml."""
    soup = BeautifulSoup(html, "lxml")
    title = soup.title.get_text(strip=True) if soup.title else ""
    return title, read_pairs(soup), [a["href"] for a in soup.find_all("a", href=True)]


def scope_of(start_url: str) -> tuple[str, str]:
    """(host with port, directory path) of the start URL: the pipeline's crawl scope."""
    parts = urlsplit(start_url)
    directory = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
    return parts.netloc.lower(), directory or "/"


def in_scope(url: str, scope: tuple[str, str]) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == scope[0] and parts.path.startswith(scope[1])


def settings_for(output: Path, concurrency: int) -> dict:
    return {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": True,
        "AUTOTHROTTLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "USER_AGENT": "esf-bench-scrapy/0.1",
        "FEEDS": {str(output / "projects.jsonl"): {"format": "jsonlines", "encoding": "utf8", "overwrite": True}},
    }


def make_spider_class():
    import scrapy

    class ProjectBankSpider(scrapy.Spider):
        name = "projectbank"

        def __init__(self, start_url: str, **kwargs) -> None:
            super().__init__(**kwargs)
            self.start_urls = [start_url]
            self.scope = scope_of(start_url)

        def parse(self, response):
            title, pairs, hrefs = read_page(response.text)
            self.crawler.stats.inc_value("bench/pages_parsed")
            if len(pairs) >= MIN_PAIRS:
                self.crawler.stats.inc_value("bench/pairs", len(pairs))
                yield {"url": response.url, "title": title, "fields": pairs}
                return
            for href in hrefs:
                url = response.urljoin(href)
                if in_scope(url, self.scope):
                    yield scrapy.Request(url, callback=self.parse)

    return ProjectBankSpider


def run(start_url: str, output: Path, concurrency: int) -> dict:
    from scrapy.crawler import CrawlerProcess

    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    process = CrawlerProcess(settings_for(output, concurrency))
    crawler = process.create_crawler(make_spider_class())
    process.crawl(crawler, start_url=start_url)
    process.start()
    seconds = time.perf_counter() - started
    stats = crawler.stats.get_stats()
    items = stats.get("item_scraped_count", 0)
    responses = stats.get("response_received_count", 0)
    out = {
        "items": items,
        "pages_parsed": stats.get("bench/pages_parsed", 0),
        "pairs_per_item": round(stats.get("bench/pairs", 0) / items, 1) if items else None,
        "responses": responses,
        "requests": stats.get("downloader/request_count", 0),
        "retries": stats.get("retry/count", 0),
        "failed_downloads": stats.get("downloader/exception_count", 0),
        "exceptions": {
            k.split("/", 1)[1]: v for k, v in stats.items() if k.startswith("downloader/exception_type_count/")
        },
        "status_counts": {
            k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("downloader/response_status_count/")
        },
        "finish_reason": stats.get("finish_reason"),
        "seconds_in_process": round(seconds, 3),
        "reactor": type(__import__("twisted.internet.reactor", fromlist=["reactor"])).__name__,
        "scrapy": __import__("scrapy").__version__,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start-url", required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    result = run(args.start_url, args.output, args.concurrency)
    print(json.dumps(result), flush=True)
    return 0 if result["finish_reason"] == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
