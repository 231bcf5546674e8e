"""robots.txt as RFC 9309 says (parsed by protego, Scrapy's parser): fetched once per origin and run,
outside any lock (every request to the origin waits for the one fetch, no other origin does), within the
request deadline, following up to five redirects, at most ``max_bytes`` after decompression.

- 2xx: its rules apply (a body cut at the size cap keeps the rules read so far, as the RFC allows);
- 4xx: no robots.txt, everything is allowed;
- 5xx, no answer, too many redirects: the site is treated as fully disallowed for this run, and every
  page of it says why (RFC 9309, 2.3.1.4: "unreachable" means complete disallow)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable
from urllib.parse import urljoin, urlsplit

from protego import Protego


@dataclass
class RobotsAnswer:
    """What one fetch of robots.txt gave: a status (None: no answer), a body, the address it ended at."""

    status: int | None
    body: bytes = b""
    error: str | None = None
    redirect_to: str | None = None


@dataclass
class RobotsRules:
    parser: Protego | None  # None: everything allowed (no robots.txt)
    disallow_all: str | None = None  # why the whole origin is disallowed for this run
    sitemaps: tuple[str, ...] = ()

    def allowed(self, url: str, user_agent: str) -> bool:
        if self.disallow_all is not None:
            return False
        return self.parser is None or self.parser.can_fetch(url, user_agent)


def rules_from(answer: RobotsAnswer) -> RobotsRules:
    if answer.status is None:
        return RobotsRules(None, f"robots.txt unreachable ({answer.error}): the site counts as disallowed for this run")
    if 200 <= answer.status < 300:
        text = answer.body.decode("utf-8", errors="replace")
        parser = Protego.parse(text)
        return RobotsRules(parser, None, tuple(parser.sitemaps))
    if 400 <= answer.status < 500:
        return RobotsRules(None)
    return RobotsRules(None, f"robots.txt answered HTTP {answer.status}: the site counts as disallowed for this run")


class RobotsPolicy:
    """The rules of each origin, each fetched once, with no lock held while a fetch is under way."""

    MAX_REDIRECTS = 5

    def __init__(self, fetch: Callable[[str], Awaitable[RobotsAnswer]], user_agent: str, obey: bool = True) -> None:
        self.fetch = fetch  # one GET, no redirects followed, body capped, within the deadline
        self.user_agent = user_agent
        self.obey = obey
        self.origins: dict[str, asyncio.Future[RobotsRules]] = {}

    async def rules(self, url: str) -> RobotsRules:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        future = self.origins.get(origin)
        if future is None:
            future = self.origins[origin] = asyncio.ensure_future(self._load(origin + "/robots.txt"))
        return await asyncio.shield(future)

    async def _load(self, address: str) -> RobotsRules:
        for _ in range(self.MAX_REDIRECTS + 1):
            try:
                answer = await self.fetch(address)
            except Exception as exc:  # noqa: BLE001 - any failure to get an answer is "unreachable"
                answer = RobotsAnswer(None, error=f"{type(exc).__name__}: {exc}")
            if answer.redirect_to is None:
                return rules_from(answer)
            address = urljoin(address, answer.redirect_to)
        return rules_from(RobotsAnswer(None, error=f"more than {self.MAX_REDIRECTS} redirects"))

    async def check(self, url: str) -> str | None:
        """None when the address may be fetched; otherwise why not."""
        if not self.obey:
            return None
        rules = await self.rules(url)
        if rules.allowed(url, self.user_agent):
            return None
        return rules.disallow_all or "disallowed by robots.txt"
