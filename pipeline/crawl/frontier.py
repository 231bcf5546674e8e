"""What is still to fetch, discovery first: start pages, sitemaps and the pages that page through a
listing go ahead of project pages, so the crawl runs ahead on a chain of listing pages and the pipe of
project pages never runs dry while listing pages are pending (a first-in first-out queue made each next
listing page wait behind the ten project pages it had just found)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterator


@dataclass
class FrontierItem:
    url: str
    source: str
    via: str  # start | link | sitemap | list | export | known | robots
    depth: int = 0  # links followed from the start page
    hops: int = 0  # redirects in a row behind it
    document: str = "page"  # page | sitemap | sitemaps (the sitemaps of a site, from its robots.txt)


class Frontier:
    def __init__(self) -> None:
        self.discovery: deque[FrontierItem] = deque()
        self.leaves: deque[FrontierItem] = deque()
        self.seen: set[str] = set()

    def add(
        self,
        url: str,
        source: str,
        via: str,
        depth: int = 0,
        hops: int = 0,
        discovery: bool = False,
        document: str = "page",
    ) -> bool:
        """Queue an address once per run (the first way it was reached wins); False when already seen."""
        marker = url if document == "page" else f"{document} {url}"
        if marker in self.seen:
            return False
        self.seen.add(marker)
        (self.discovery if discovery else self.leaves).append(FrontierItem(url, source, via, depth, hops, document))
        return True

    def pop(self) -> FrontierItem:
        return self.discovery.popleft() if self.discovery else self.leaves.popleft()

    def __len__(self) -> int:
        return len(self.discovery) + len(self.leaves)

    def waiting(self) -> Iterator[FrontierItem]:
        yield from self.discovery
        yield from self.leaves
