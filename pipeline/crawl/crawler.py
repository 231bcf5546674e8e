"""A polite asynchronous crawler over httpx, made of small policies: robots.txt (robots.py), retries
(retry.py), canonical addresses and scope (pipeline/urls.py, pipeline/sources.py), the per-host gate (gate.py),
conditional requests and the revisit policy (revisit.py), the deadline and body limit (http.py). What
happened to every address ends up as a ``FetchedPage``; the raw body is kept on disk by content hash.
What a page links to, and whether it is a page of one project, is read on the parse side
(parsers/links.py): the crawler knows no Swedish word."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Callable, NamedTuple
from urllib.parse import urljoin

import httpx

from pipeline.crawl.frontier import Frontier, FrontierItem
from pipeline.crawl.gate import HostGate
from pipeline.crawl.http import Answer, CookielessClient, get
from pipeline.crawl.retry import THROTTLE_STATUSES, RetryPolicy
from pipeline.crawl.revisit import RevisitPolicy, conditional_headers, links_kept
from pipeline.crawl.robots import RobotsAnswer, RobotsPolicy
from pipeline.pages import FetchedPage, SourceState
from pipeline.settings import default
from pipeline.sources import Source
from pipeline.urls import MalformedURL, canonical_url, same_path_shape


class ArchiveUnwritable(Exception):
    """The raw archive cannot be written (a full disk): the run stops, nothing is published."""


# Most malformed links kept per page (each is an issue row).
MAX_MALFORMED_PER_PAGE = 20
# Where sitemaps usually are, when robots.txt names none (WordPress, then the convention).
DEFAULT_SITEMAPS = ("/wp-sitemap.xml", "/sitemap.xml")


def _default(name: str):
    value = default("crawler", name)
    return field(default=value) if not isinstance(value, tuple) else field(default_factory=lambda: value)


@dataclass
class CrawlSettings:
    """The crawler's settings (defaults and meaning: pipeline/settings.py, group "crawler")."""

    user_agent: str = _default("user_agent")
    delay_seconds: float = _default("delay_seconds")
    concurrency: int = _default("concurrency")
    connect_timeout: float = _default("connect_timeout")
    read_timeout: float = _default("read_timeout")
    request_deadline_seconds: float = _default("request_deadline_seconds")
    retries: int = _default("retries")
    backoff_seconds: float = _default("backoff_seconds")
    max_retry_after: float = _default("max_retry_after")
    retry_statuses: tuple[int, ...] = _default("retry_statuses")
    max_bytes: int = _default("max_bytes")
    robots_max_bytes: int = _default("robots_max_bytes")
    max_pages: int = _default("max_pages")
    max_depth: int = _default("max_depth")
    max_barren_pages: int = _default("max_barren_pages")
    max_redirects: int = _default("max_redirects")
    slow_response_seconds: float = _default("slow_response_seconds")
    obey_robots: bool = _default("obey_robots")
    full_refresh: bool = False  # every known page is checked again, whatever the revisit policy says
    tracking_parameters: tuple[str, ...] = _default("tracking_parameters")
    sample_projects: int | None = None  # a sample run (--limit): at most this many pages of projects
    throttle_start: int = _default("throttle_start")
    throttle_slow_factor: float = _default("throttle_slow_factor")
    throttle_slow_margin: float = _default("throttle_slow_margin")


@dataclass
class CrawlStats:
    done: int = 0
    queued: int = 0
    failed: int = 0
    retried: int = 0
    started: float = field(default_factory=time.monotonic)
    # Sources whose crawl a limit cut short -> why (the page budget, the depth limit).
    unfinished: dict[str, str] = field(default_factory=dict)
    sources: list[Source] = field(default_factory=list)  # as crawled (a start URL that moved took its scope)
    notes: list[str] = field(default_factory=list)  # what the operator should read

    @property
    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.started, 1e-6)


LinkReader = Callable[[bytes, "str | None", str], object]  # parsers.links.read_links


def _read_links(body: bytes, content_type: str | None, url: str):
    # Imported here: a run in which every page answers 304 never loads the HTML parser.
    from parsers.links import read_links

    return read_links(body, content_type, url)


class _Streak(NamedTuple):
    """What led to a pagination page still to fetch (the barren-pagination guard)."""

    links: frozenset[str]  # the links of the page before, but for its pager
    shape: str | None  # the page before's content without numbers, hashed
    steps: int  # pagination steps in a row up to the page before that led to nothing new
    asked: str  # the address the pager gave, before any redirect


class Crawler:
    def __init__(
        self,
        settings: CrawlSettings,
        store: Callable[[bytes], str],
        progress: Callable[[CrawlStats], None] | None = None,
        previous: dict[str, SourceState] | None = None,
        revisit: RevisitPolicy | None = None,
        on_page: Callable[[FetchedPage], None] | None = None,
        read_links: Callable | None = None,
    ) -> None:
        self.settings = settings
        self.previous = previous or {}
        self.revisit = revisit or RevisitPolicy()
        self.retry = RetryPolicy(
            settings.retries, settings.backoff_seconds, settings.max_retry_after, frozenset(settings.retry_statuses)
        )
        self.store = store  # body -> sha256, persisted
        self.progress = progress or (lambda stats: None)
        self.on_page = on_page  # called with each page whose new body was stored (to start parsing it)
        self.read_links = read_links or _read_links
        self.stats = CrawlStats()
        self.gates: dict[str, HostGate] = {}
        self.robots: RobotsPolicy | None = None
        self.current: dict[str, Source] = {}
        self.frontier = Frontier()
        self.notes: list[str] = []  # what the operator should read (addresses of a list that were not fetched)
        self.lastmod: dict[str, datetime] = {}  # a sitemap's lastmod per address: a hint for the revisit policy
        self.sampled = 0

    def canonical(self, url: str) -> str:
        return canonical_url(url, self.settings.tracking_parameters)

    def _gate(self, host: str) -> HostGate:
        if host not in self.gates:
            s = self.settings
            self.gates[host] = HostGate(
                s.concurrency, s.delay_seconds, s.throttle_start, s.throttle_slow_factor, s.throttle_slow_margin
            )
        return self.gates[host]

    def _known(self, source: Source, key: str):
        state = self.previous.get(source.name)
        return state.pages.get(key) if state is not None else None

    async def crawl(self, sources: list[Source]) -> list[FetchedPage]:
        s = self.settings
        timeout = httpx.Timeout(s.read_timeout, connect=s.connect_timeout)
        # No more connections than concurrent requests (+1 for robots.txt): httpcore's pool does work per
        # connection on every request, so idle connections cost CPU.
        connections = s.concurrency * max(1, len(sources)) + 1
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        headers = {
            "User-Agent": s.user_agent,
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
            "Accept-Language": "sv,en;q=0.5",
        }
        self.current = {source.name: source for source in sources}  # a start URL that moved takes its scope along
        results: list[FetchedPage] = []
        self.frontier = Frontier()
        frontier = self.frontier
        for source in sources:
            frontier.add(self.canonical(source.start_url), source.name, "start", discovery=True)
            if source.sitemaps:
                frontier.add(source.origin, source.name, "robots", discovery=True, document="sitemaps")
        for source in sources:  # URL lists and the official export's project addresses
            for url, via in source.seeds:
                try:
                    address = self.canonical(url)
                except MalformedURL:
                    self.notes.append(f"source {source.name}: {via} address {url!r} is malformed: not fetched")
                    continue
                if not source.in_scope(address):
                    self.notes.append(
                        f"source {source.name}: {via} address {address} is out of the source's scope: not fetched"
                    )
                    continue
                frontier.add(address, source.name, via)
        if s.full_refresh:  # every page the state knows, wherever the site links it now
            for source in sources:
                state = self.previous.get(source.name)
                for key in sorted(state.pages) if state is not None else ():
                    try:
                        url = self.canonical(source.url_for(key))
                    except MalformedURL:
                        continue
                    if source.in_scope(url):
                        frontier.add(url, source.name, "known")
        self.stats.queued = len(frontier)
        async with CookielessClient(timeout=timeout, limits=limits, headers=headers, follow_redirects=False) as client:
            self.robots = RobotsPolicy(
                lambda address: self._robots_answer(client, address), s.user_agent, s.obey_robots
            )
            running: set[asyncio.Task] = set()
            # Each link as found -> its canonical address if in the source's scope, else None; so the
            # menus repeated on every page are looked at once.
            scoped: dict[tuple[str, str], str | None] = {}
            redirects: dict[str, FetchedPage] = {}  # address -> its redirect, to find loops
            barren_streak: dict[str, _Streak] = {}  # a pagination page still to fetch -> what led to it
            today = date.today()
            while frontier or running:
                while (
                    frontier
                    and len(running) < s.concurrency * max(1, len(sources)) * 2
                    and len(results) + len(running) < s.max_pages
                    and not self._sample_taken()
                ):
                    item = frontier.pop()
                    source = self.current[item.source]
                    if item.document == "sitemaps":  # the sitemaps robots.txt names (or the usual places)
                        running.add(asyncio.create_task(self._sitemaps_of(source)))
                        continue
                    skipped = (
                        None
                        if item.via == "start" or s.full_refresh or item.document != "page"
                        else self._revisit_skipped(item.url, source, today)
                    )
                    if skipped is not None:  # no request: recorded at once, without a task
                        skipped.depth, skipped.via = item.depth, item.via
                        results.append(skipped)
                        self._count(skipped, len(frontier) + len(running))
                        continue
                    if item.document == "sitemap":
                        running.add(asyncio.create_task(self._sitemap(client, item, source)))
                    else:
                        running.add(
                            asyncio.create_task(self._visit(client, item.url, source, item.via, item.depth, item.hops))
                        )
                if not running:
                    break
                finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    page, found, hops = task.result()
                    if page is None:  # the sitemaps of a source (to fetch), or a guessed sitemap that is not there
                        for url, via in found:
                            frontier.add(url, via[1], via[0], discovery=True, document="sitemap")
                        continue
                    if self._over_sample(page):
                        page.outcome, page.error, page.content_sha256, page.links = "not_sampled", None, None, None
                        page.content_type = None
                        found = []
                    results.append(page)
                    if page.outcome in ("redirected", "canonical"):
                        self._mark_redirect_loop(page, redirects)
                    if self.on_page and page.outcome == "fetched" and page.content_sha256 and not page.error:
                        self.on_page(page)
                    source = self.current[page.source]
                    follows_link = page.outcome == "fetched" and page.document == "page"
                    next_depth = page.depth + 1 if follows_link else page.depth
                    paging = set(page.pagination)
                    in_scope = []
                    for link in found:
                        known = (source.name, link)
                        if known not in scoped:
                            try:
                                address: str | None = self.canonical(link)
                            except MalformedURL:  # a bad port, say: not followed
                                address = None
                            scoped[known] = address if address is not None and source.in_scope(address) else None
                        if scoped[known] is not None:
                            in_scope.append((link, scoped[known]))
                    # Pagination steps in a row whose pages show what the page before showed, but for
                    # numbers, and link nothing it did not (besides the pager): a listing paging on past its
                    # end. Compared with the page before, not with all addresses seen, so a listing whose
                    # projects a sitemap gave first is not barren; a redirect passes the comparison on.
                    before = barren_streak.pop(page.url, None)
                    asked = before.asked if before is not None else page.url  # before any redirect
                    pager = {
                        a
                        for link, a in in_scope
                        if link in paging and (same_path_shape(page.url, a) or same_path_shape(asked, a))
                    }
                    own = frozenset(a for _, a in in_scope if a not in pager)
                    if before is not None and page.outcome in ("redirected", "canonical", "moved"):
                        barren_streak.update((a, before) for _, a in in_scope)
                    barren = (
                        before.steps + 1
                        if before is not None
                        and page.shape is not None
                        and page.shape == before.shape
                        and own <= before.links
                        else 0
                    )
                    refused: set[str] = set()
                    for link, address in in_scope:
                        if address in frontier.seen:
                            continue
                        if next_depth > s.max_depth:
                            self.stats.unfinished.setdefault(
                                source.name, f"the depth limit of {s.max_depth} links from the start page was reached"
                            )
                            continue
                        if address in pager:
                            if barren > s.max_barren_pages:
                                self.stats.unfinished.setdefault(
                                    source.name,
                                    f"{s.max_barren_pages} pages in a row of a pagination led to nothing new "
                                    f"(it pages on past the listing's end); its next page was not followed: {address}",
                                )
                                refused.add(address)
                                continue
                            barren_streak[address] = _Streak(own, page.shape, barren, address)
                        via = "sitemap" if page.document == "sitemap" else "link"
                        frontier.add(
                            address,
                            source.name,
                            via,
                            next_depth,
                            hops,
                            discovery=link in paging
                            or self._known_listing(source, address)
                            or page.outcome in ("redirected", "moved"),
                        )
                    if page.links is not None:  # a followed page: its links are kept for a later 304
                        # Without the pages the guard refused: a later 304 would follow them as links. Kept
                        # as addresses (a 304's links are addresses, not hrefs as printed).
                        page.links = tuple(dict.fromkeys(a for _, a in in_scope if a not in refused))
                        page.pagination = tuple(dict.fromkeys(a for link, a in in_scope if link in paging))
                        page.links_scope = source.scope
                    self._count(page, len(frontier) + len(running))
        for item in frontier.waiting():
            reason = (
                f"a sample of {s.sample_projects} project pages (--limit)"
                if self._sample_taken()
                else f"the page budget of {s.max_pages} pages was reached"
            )
            self.stats.unfinished.setdefault(item.source, reason)
        _mark_duplicates(results)
        self.stats.sources, self.stats.notes = self.sources_now, self.notes
        return results

    @property
    def sources_now(self) -> list[Source]:
        """The sources as crawled: a start URL that moved permanently within its site took its scope along."""
        return list(self.current.values())

    def _sample_taken(self) -> bool:
        return self.settings.sample_projects is not None and self.sampled >= self.settings.sample_projects

    def _over_sample(self, page: FetchedPage) -> bool:
        """A sample run (--limit N) keeps at most N pages of projects (pages that are not followed)."""
        if (
            self.settings.sample_projects is None
            or page.outcome != "fetched"
            or page.links is not None
            or page.document != "page"
            or page.error
        ):
            return False
        self.sampled += 1
        if self.sampled > self.settings.sample_projects:
            self.stats.unfinished.setdefault(
                page.source, f"a sample of {self.settings.sample_projects} project pages (--limit)"
            )
            return True
        return False

    def _known_listing(self, source: Source, url: str) -> bool:
        """A page the state knows as one that leads to others (a listing, a pagination page)."""
        state = self._known(source, source.page_key(url))
        return state is not None and bool(state.links)

    async def _sitemaps_of(self, source: Source) -> tuple[None, list[tuple[str, tuple[str, str]]], int]:
        """The sitemaps of a source's site: those robots.txt names, else the usual places (a 404 there is
        no failure)."""
        named = await self.robots.rules(source.origin + "/") if self.robots else None  # type: ignore[union-attr]
        sitemaps = [url for url in (named.sitemaps if named is not None else ()) if url.startswith(source.origin + "/")]
        if sitemaps:
            return None, [(url, ("sitemap", source.name)) for url in sitemaps], 0
        return None, [(source.origin + path, ("sitemap-guess", source.name)) for path in DEFAULT_SITEMAPS], 0

    async def _sitemap(
        self, client: httpx.AsyncClient, item: FrontierItem, source: Source
    ) -> tuple[FetchedPage | None, list[str], int]:
        """One sitemap or sitemap index: its in-scope addresses (with lastmod, a hint for the revisit
        policy), or the sitemaps an index names. Recorded as a page of kind sitemap, not stored or parsed."""
        from parsers.links import read_sitemap

        s = self.settings
        page = FetchedPage(
            item.url, source.name, None, _now(), via=item.via, document="sitemap", key=source.page_key(item.url)
        )
        refused = await self.robots.check(item.url)  # type: ignore[union-attr]
        if refused is not None:
            page.outcome, page.error = "disallowed", refused
            return (None if item.via == "sitemap-guess" else page), [], 0
        gate = self._gate(item.url.split("/", 3)[2])
        async with gate.slot():
            began = time.monotonic()
            answer = await get(client, item.url, {}, s.max_bytes, s.request_deadline_seconds)
            gate.answered(time.monotonic() - began, answer.status is None or answer.status in THROTTLE_STATUSES)
        page.status, page.fetched_at = answer.status, _now()
        if item.via == "sitemap-guess" and (answer.status is None or answer.status >= 300):
            return None, [], 0  # no sitemap at the usual place: nothing to record
        if answer.error or answer.status is None or answer.status >= 400:
            page.outcome, page.error = "failed", answer.error or f"HTTP {answer.status}"
            return page, [], 0
        read = read_sitemap(answer.body)
        if read.error:
            page.outcome, page.error = "failed", read.error
            return page, [], 0
        page.outcome = "sitemap"
        for url in read.sitemaps:  # an index: its sitemaps, on the same site
            if url.startswith(source.origin + "/"):
                self.frontier.add(url, source.name, "sitemap", discovery=True, document="sitemap")
        for url, lastmod in read.pages:
            when = _lastmod(lastmod)
            if when is not None:
                try:
                    self.lastmod[self.canonical(url)] = when
                except MalformedURL:
                    pass
        page.links = ()
        return page, [url for url, _ in read.pages], 0

    def _count(self, page: FetchedPage, queued: int) -> None:
        self.stats.done += 1
        self.stats.failed += page.error is not None
        self.stats.queued = queued
        self.progress(self.stats)

    def _mark_redirect_loop(self, page: FetchedPage, redirects: dict[str, FetchedPage]) -> None:
        """Redirects that lead back to themselves (a consent page that insists on a cookie, say): each
        page of the loop is a failure, not a page that moved."""
        redirects[page.url] = page
        chain = [page]
        target = page.redirect_to
        while target in redirects and redirects[target] not in chain:
            chain.append(redirects[target])
            target = redirects[target].redirect_to
        if target in redirects:
            for member in chain[chain.index(redirects[target]) :]:
                member.error = "redirect loop" if member.outcome == "redirected" else "canonical loop"
                member.outcome = "failed"
                self.stats.failed += 1

    def _revisit_skipped(self, url: str, source: Source, today: date) -> FetchedPage | None:
        """The page as last seen, when the revisit policy leaves it alone in this run (unless a sitemap
        says it changed since it was last checked)."""
        previous = self._known(source, source.page_key(url))
        if previous is None or not self.revisit.skip(previous, today):
            return None
        changed = self.lastmod.get(url)
        if changed is not None and previous.checked_at is not None and changed > previous.checked_at:
            return None
        return FetchedPage(
            url,
            source.name,
            previous.status,
            previous.checked_at,
            previous.content_sha256,
            previous.content_type,
            outcome="revisit_skipped",
            etag=previous.etag,
            last_modified=previous.last_modified,
            links=previous.links,
            links_scope=previous.links_scope,
            pagination=previous.pagination,
            shape=previous.shape,
            key=previous.key,
        )

    async def _robots_answer(self, client: httpx.AsyncClient, address: str) -> RobotsAnswer:
        s = self.settings
        answer = await get(client, address, {}, s.robots_max_bytes, s.request_deadline_seconds)
        if answer.status is not None and 300 <= answer.status < 400 and answer.headers.get("location"):
            return RobotsAnswer(answer.status, redirect_to=urljoin(address, answer.headers["location"]))
        if answer.status is not None and answer.error:  # larger than the cap: the rules read so far (RFC 9309)
            return RobotsAnswer(answer.status, await self._robots_head(client, address), answer.error)
        return RobotsAnswer(answer.status, answer.body, answer.error)

    async def _robots_head(self, client: httpx.AsyncClient, address: str) -> bytes:
        """The first ``robots_max_bytes`` of a robots.txt that is larger than that."""
        s = self.settings
        kept, size = [], 0

        async def read() -> None:
            nonlocal size
            async with client.stream("GET", address) as response:
                async for chunk in response.aiter_bytes():
                    kept.append(chunk[: s.robots_max_bytes - size])
                    size += len(kept[-1])
                    if size >= s.robots_max_bytes:
                        return

        try:
            await asyncio.wait_for(read(), s.request_deadline_seconds)
        except (asyncio.TimeoutError, httpx.HTTPError):
            pass
        return b"".join(kept)

    async def _visit(
        self, client: httpx.AsyncClient, url: str, source: Source, via: str, depth: int, hops: int
    ) -> tuple[FetchedPage, list[str], int]:
        """One address -> its record, the links to follow from it, and the redirects behind those links."""
        key = source.page_key(url)
        is_start = via == "start"
        try:
            refused = await self.robots.check(url)  # type: ignore[union-attr]
            if refused is not None:
                page, found = (
                    FetchedPage(url, source.name, None, _now(), error=refused, is_start=is_start, outcome="disallowed"),
                    [],
                )
            else:
                page, found = await self._fetch(client, url, source, is_start, self._known(source, key))
        except ArchiveUnwritable:
            raise  # not the page's fault: the run stops
        except Exception as exc:  # one broken page never stops the run
            page, found = (
                FetchedPage(url, source.name, None, _now(), error=f"{type(exc).__name__}: {exc}", is_start=is_start),
                [],
            )
        page.key, page.via, page.depth = key, via, depth
        if page.outcome in ("redirected", "moved"):
            if hops >= self.settings.max_redirects:
                page.outcome, page.error, found = (
                    "failed",
                    f"more than {self.settings.max_redirects} redirects in a row",
                    [],
                )
            return page, found, hops + 1
        if page.error and page.outcome == "fetched":
            page.outcome = "failed"
        return page, found, 0

    async def _fetch(
        self, client: httpx.AsyncClient, url: str, source: Source, is_start: bool, previous
    ) -> tuple[FetchedPage, list[str]]:
        s = self.settings
        conditional = conditional_headers(previous, source.scope)
        kept = links_kept(previous, source.scope)
        gate = self._gate(url.split("/", 3)[2])
        attempt = 0
        while True:
            async with gate.slot():
                began = time.monotonic()
                answer = await get(client, url, conditional, s.max_bytes, s.request_deadline_seconds)
                took = time.monotonic() - began
                gate.answered(took, answer.status is None or answer.status in THROTTLE_STATUSES)
            if answer.timed_out:
                gate.slow_down(s.backoff_seconds)
            elif took > s.slow_response_seconds:
                gate.slow_down(min(took, s.max_retry_after))  # the host is struggling: space requests further apart
            elif answer.status is not None and answer.status < 400:
                gate.recover()
            again = answer.retryable or (answer.status in self.retry.statuses and not answer.error)
            if again and attempt < self.retry.retries:
                attempt += 1
                self.stats.retried += 1
                wait = self.retry.wait(answer.status, answer.headers, attempt)
                if answer.status in THROTTLE_STATUSES:
                    gate.slow_down(wait or s.backoff_seconds)
                await asyncio.sleep(wait)
                continue
            break
        return self._record(answer, url, source, is_start, previous, kept, attempt)

    def _record(
        self, answer: Answer, url: str, source: Source, is_start: bool, previous, kept: bool, attempt: int
    ) -> tuple[FetchedPage, list[str]]:
        """The answer -> the page's record and the links it leads to."""
        fetched_at = _now()
        status, headers = answer.status, answer.headers
        content_type = headers.get("content-type")
        if status is not None and 300 <= status < 400 and status != 304 and headers.get("location"):
            # A redirect is a page of its own: the target is crawled as an address of the source, so what
            # it shows is recorded under its own address (a page that moved gets its new source_url).
            try:
                target = self.canonical(str(httpx.URL(url).join(headers["location"])))
            except (httpx.InvalidURL, MalformedURL, ValueError) as exc:
                return FetchedPage(
                    url,
                    source.name,
                    status,
                    fetched_at,
                    error=f"malformed redirect: {exc}",
                    retries=attempt,
                    is_start=is_start,
                ), []
            if not source.in_scope(target):
                if is_start and status in (301, 308) and target.split("/", 3)[2] == url.split("/", 3)[2]:
                    # The start URL moved for good within its site (a new generation of the site): the
                    # source follows it, with its scope.
                    moved = Source(source.name, target, sitemaps=source.sitemaps, seeds=source.seeds)
                    self.current[source.name] = moved
                    self.notes.append(
                        f"source {source.name}: the start URL {url} moved permanently to {target}; "
                        f"the source's scope is now {moved.scope[1]}"
                    )
                    return FetchedPage(
                        url,
                        source.name,
                        status,
                        fetched_at,
                        retries=attempt,
                        is_start=is_start,
                        outcome="moved",
                        redirect_to=target,
                    ), [target]
                return FetchedPage(
                    url,
                    source.name,
                    status,
                    fetched_at,
                    error=f"redirect out of scope to {target}",
                    retries=attempt,
                    is_start=is_start,
                ), []
            return FetchedPage(
                url,
                source.name,
                status,
                fetched_at,
                retries=attempt,
                is_start=is_start,
                outcome="redirected",
                redirect_to=target,
            ), [target]
        if status == 304 and previous is not None:
            return FetchedPage(
                url,
                source.name,
                304,
                fetched_at,
                previous.content_sha256,
                previous.content_type,
                retries=attempt,
                is_start=is_start,
                outcome="not_modified",
                etag=headers.get("etag") or previous.etag,
                last_modified=headers.get("last-modified") or previous.last_modified,
                links=previous.links if kept else None,
                links_scope=previous.links_scope if kept else None,
                pagination=previous.pagination if kept else (),
                shape=previous.shape if kept else None,
            ), list(previous.links or ()) if kept else []
        if status is None or answer.error:
            return FetchedPage(
                url,
                source.name,
                status,
                fetched_at,
                content_type=content_type,
                error=answer.error or "no answer",
                retries=attempt,
                is_start=is_start,
            ), []
        try:
            sha = self.store(answer.body)
        except OSError as exc:
            raise ArchiveUnwritable(f"cannot write the raw archive: {exc.strerror or exc}") from None
        page = FetchedPage(
            url,
            source.name,
            status,
            fetched_at,
            sha,
            content_type,
            retries=attempt,
            is_start=is_start,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
        )
        if status >= 300:
            page.error = f"HTTP {status}"
            return page, []
        read = self.read_links(answer.body, content_type, url)
        page.malformed_links = tuple(read.malformed[:MAX_MALFORMED_PER_PAGE])
        page.pagination, page.shape = tuple(read.pagination), read.shape
        if read.canonical:
            try:
                canonical = self.canonical(read.canonical)
            except MalformedURL:
                canonical = None
            if canonical is not None and canonical != url and source.in_scope(canonical):
                # The page names another address as its own: its content is read there.
                page.outcome, page.redirect_to = "canonical", canonical
                return page, [canonical]
        if read.follow:
            page.links = ()  # followed: filled with the in-scope links by the crawl loop
            return page, read.links
        return page, []


def _mark_duplicates(pages: list[FetchedPage]) -> None:
    """Addresses of one source with the same content (letter-case or query-string variants the site
    serves alike): the shortest address keeps it, the others are duplicates of it, whatever order the
    answers came in, so the same site gives the same tables in every run."""
    first: dict[tuple[str, str], FetchedPage] = {}
    for page in sorted(pages, key=lambda p: (len(p.url), p.url)):
        if (
            page.content_sha256 is None
            or page.error
            or page.document != "page"
            or page.outcome not in ("fetched", "not_modified", "revisit_skipped")
        ):
            continue
        holder = first.setdefault((page.source, page.content_sha256), page)
        if holder is not page:
            page.outcome, page.redirect_to = "duplicate", holder.url


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _lastmod(text: str | None) -> datetime | None:
    """A sitemap's lastmod (W3C datetime: a date, or a date and time with a zone) as a UTC time."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
