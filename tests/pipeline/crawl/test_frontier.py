"""Discovery first: listings and sitemaps before project pages, each address once."""

from __future__ import annotations

from pipeline.crawl.frontier import Frontier


def test_discovery_goes_ahead_of_project_pages_and_each_address_is_queued_once():
    frontier = Frontier()
    for n in range(3):
        frontier.add(f"http://h/p/{n}", "s", "link")
    frontier.add("http://h/?page=2", "s", "link", discovery=True)
    assert not frontier.add("http://h/p/1", "s", "link")
    assert frontier.add("http://h/sitemap.xml", "s", "sitemap", discovery=True, document="sitemap")
    order = [frontier.pop().url for _ in range(len(frontier))]
    assert order == ["http://h/?page=2", "http://h/sitemap.xml", "http://h/p/0", "http://h/p/1", "http://h/p/2"]
