"""A polite asynchronous crawler over httpx: per-host concurrency and delay, retries with backoff,
Retry-After, redirects only inside the allowed hosts, a size limit, and the raw body kept on disk
by content hash. What happened to every address ends up as a ``FetchedPage``."""
from __future__ import annotations

import asyncio
import email.utils
import functools
import hashlib
import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from urllib import robotparser
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx

from pipeline.pages import FetchedPage, PageState, SourceState
from pipeline.sources import Source, normalise_url

# Words that show a page holds project fields; such pages are read, not followed. Plain substring
# tests in the spellings pages use: a case-insensitive regular expression took 2 ms on a 44 KB page,
# lower-casing the page 0.4 ms.
_PROJECT_HINT_WORDS = ("Projektägare", "Beviljat ESF", "Projektperiod", "Diarienummer", "Projektnummer")
_PROJECT_HINT_SHAPES = (_PROJECT_HINT_WORDS, tuple(w.lower() for w in _PROJECT_HINT_WORDS),
                        tuple(w.upper() for w in _PROJECT_HINT_WORDS))


# A listing that prints the project labels on every card names one of them this often or more (the
# parser reads three different values of a card field as a listing too); a project page usually names
# each once or twice. A project page that says it three times has its links read: a little work, no harm.
_LISTING_REPEATS = 3


def looks_like_project_page(text: str) -> bool:
    """A page of one project (read, not followed) names a project label, but not on every card of a
    list. The usual spellings are looked up first, in the order of the words above, and only the
    first label found is counted (each look costs 10-30 us on a 44 KB page); only pages without any
    (listings) pay for a case-insensitive look."""
    for shapes in _PROJECT_HINT_SHAPES:
        for hint in shapes:
            if hint in text:
                return text.count(hint) < _LISTING_REPEATS
    lowered = text.lower()
    for hint in _PROJECT_HINT_SHAPES[1]:
        if hint in lowered:
            return lowered.count(hint) < _LISTING_REPEATS
    return False


# Answers whose body is the page's content (304: the content last fetched).
_CONTENT_STATUSES = frozenset(range(200, 300)) | {304}


@dataclass
class CrawlSettings:
    user_agent: str = "esf-pipeline/0.1 (+https://github.com/esf-pipeline/esf-pipeline; open data research)"
    delay_seconds: float = 1.0
    concurrency: int = 2
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff_seconds: float = 1.0
    max_retry_after: float = 120.0
    max_bytes: int = 10_000_000
    max_pages: int = 50_000
    max_redirects: int = 5
    slow_response_seconds: float = 5.0
    obey_robots: bool = True
    full_refresh: bool = False  # every known page is checked again, whatever the revisit policy says


@dataclass
class RevisitPolicy:
    """Projects that ended long ago are re-checked less often than running ones."""
    ended_grace_days: int = 365
    ended_revisit_days: int = 30

    def skip(self, state: "PageState | None", today: date) -> bool:
        if state is None or state.page_kind != "project" or state.latest_end_date is None or state.checked_at is None \
                or state.removed is not None:
            return False
        ended_long_ago = state.latest_end_date < today - timedelta(days=self.ended_grace_days)
        checked_recently = state.checked_at.date() > today - timedelta(days=self.ended_revisit_days)
        return ended_long_ago and checked_recently


@dataclass
class CrawlStats:
    done: int = 0
    queued: int = 0
    failed: int = 0
    retried: int = 0
    started: float = field(default_factory=time.monotonic)
    # Sources with addresses still queued when the page budget (max_pages) stopped the crawl.
    unfinished: set[str] = field(default_factory=set)

    @property
    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.started, 1e-6)


class _HostGate:
    """At most ``concurrency`` requests to one host at a time, and ``delay`` between their starts."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self.semaphore = asyncio.Semaphore(max(1, concurrency))
        self.base_delay = delay
        self.delay = delay
        self.next_start = 0.0
        self.lock = asyncio.Lock()

    async def wait_turn(self) -> None:
        async with self.lock:
            now = time.monotonic()
            wait = self.next_start - now
            jitter = random.uniform(0, self.delay * 0.25) if self.delay else 0.0
            self.next_start = max(now, self.next_start) + self.delay + jitter
        if wait > 0:
            await asyncio.sleep(wait)

    def slow_down(self, seconds: float) -> None:
        self.delay = min(max(self.delay * 2, seconds, 0.5), 60.0)

    def recover(self) -> None:
        """A normal answer: step back towards the configured delay (a stall must not last the run)."""
        if self.delay > self.base_delay:
            self.delay = max(self.base_delay, self.delay * 0.8 if self.delay * 0.8 > 0.05 else self.base_delay)


def _retry_after(value: str | None, cap: float) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return min(float(value.strip()), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min((when - datetime.now(timezone.utc)).total_seconds(), cap))


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing a response or a caller hands it."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass

    def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
        pass


class _CookielessClient(httpx.AsyncClient):
    """A client that keeps no cookies from responses, so sends none back. Public pages need none, and a
    page's content must not depend on which pages were fetched before it. It is also cheaper: httpx
    hands every response to the standard library's cookie jar, through adapters that copy its headers
    (about 0.3 ms a request, a quarter of a conditional request's cost; measured over 650 requests, 8
    runs each). A site that insists on a cookie (a consent redirect that sets one) shows up as
    fetch_failed rows ("redirect loop"), not as silently different content."""

    def __init__(self, **kwargs: Any) -> None:
        self._jar = _NoCookies()
        super().__init__(**kwargs)

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, value: object) -> None:
        pass


class Crawler:
    def __init__(self, settings: CrawlSettings, store: Callable[[bytes], str],
                 progress: Callable[[CrawlStats], None] | None = None,
                 previous: dict[str, SourceState] | None = None, revisit: RevisitPolicy | None = None,
                 on_page: Callable[[FetchedPage], None] | None = None) -> None:
        self.settings = settings
        self.previous = previous or {}
        self.revisit = revisit or RevisitPolicy()
        self.robots: dict[str, robotparser.RobotFileParser | None] = {}
        self.robots_lock = asyncio.Lock()
        self.store = store  # body -> sha256, persisted
        self.progress = progress or (lambda stats: None)
        self.on_page = on_page  # called with each page whose new body was stored (to start parsing it)
        self.stats = CrawlStats()
        self.gates: dict[str, _HostGate] = {}

    def _gate(self, host: str) -> _HostGate:
        if host not in self.gates:
            self.gates[host] = _HostGate(self.settings.concurrency, self.settings.delay_seconds)
        return self.gates[host]

    def _known(self, source: Source, key: str) -> PageState | None:
        state = self.previous.get(source.name)
        return state.pages.get(key) if state is not None else None

    async def crawl(self, sources: list[Source]) -> list[FetchedPage]:
        s = self.settings
        timeout = httpx.Timeout(s.read_timeout, connect=s.connect_timeout)
        # No more connections than concurrent requests (+1 for robots.txt): httpcore's pool does work per
        # connection on every request, so idle connections cost CPU.
        connections = s.concurrency * max(1, len(sources)) + 1
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        headers = {"User-Agent": s.user_agent, "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
                   "Accept-Language": "sv,en;q=0.5"}
        results: list[FetchedPage] = []
        seen: set[str] = set()
        # (address, source, how it was reached, redirects followed to get there)
        queue: deque[tuple[str, Source, str, int]] = deque()
        for source in sources:
            url = normalise_url(source.start_url)
            if url not in seen:
                seen.add(url)
                queue.append((url, source, "start", 0))
        if s.full_refresh:  # every page the state knows, wherever the site links it now
            for source in sources:
                state = self.previous.get(source.name)
                for key in sorted(state.pages) if state is not None else ():
                    url = normalise_url(source.url_for(key))
                    if url not in seen and source.in_scope(url):
                        seen.add(url)
                        queue.append((url, source, "known", 0))
        self.stats.queued = len(queue)
        async with _CookielessClient(timeout=timeout, limits=limits, headers=headers, follow_redirects=False) as client:
            running: set[asyncio.Task] = set()
            # Each link as found -> its normalised address if in the source's scope, else None; so the
            # menus repeated on every page are looked at once.
            scoped: dict[tuple[str, str], str | None] = {}
            redirects: dict[str, FetchedPage] = {}  # address -> its redirect, to find loops
            today = date.today()
            while queue or running:
                while queue and len(running) < s.concurrency * max(1, len(sources)) * 2 and len(results) + len(running) < s.max_pages:
                    url, source, via, hops = queue.popleft()
                    skipped = None if via == "start" or s.full_refresh else self._revisit_skipped(url, source, today)
                    if skipped is not None:  # no request: recorded at once, without a task
                        results.append(skipped)
                        self._count(skipped, len(queue) + len(running))
                        continue
                    running.add(asyncio.create_task(self._visit(client, url, source, via, hops)))
                if not running:
                    break
                finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    page, found, hops = task.result()
                    results.append(page)
                    if page.outcome == "redirected":
                        self._mark_redirect_loop(page, redirects)
                    if self.on_page and page.outcome == "fetched" and page.content_sha256 and not page.error:
                        self.on_page(page)
                    source = page_source(sources, page.source)
                    in_scope = []
                    for link in found:
                        known = (source.name, link)
                        if known not in scoped:
                            try:
                                address = normalise_url(link)
                            except ValueError:  # a malformed address (a bad port, say): not followed
                                address = None
                            scoped[known] = address if address is not None and source.in_scope(address) else None
                        address = scoped[known]
                        if address is not None:
                            in_scope.append(address)
                            if address not in seen:
                                seen.add(address)
                                queue.append((address, source, "link", hops))
                    if page.links is not None:  # a followed page: its links are kept for a later 304
                        page.links, page.links_scope = tuple(dict.fromkeys(in_scope)), source.scope
                    self._count(page, len(queue) + len(running))
        self.stats.unfinished = {source.name for _, source, _, _ in queue}
        return results

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
            for member in chain[chain.index(redirects[target]):]:
                member.outcome, member.error = "failed", "redirect loop"
                self.stats.failed += 1

    def _count(self, page: FetchedPage, queued: int) -> None:
        self.stats.done += 1
        self.stats.failed += page.error is not None
        self.stats.queued = queued
        self.progress(self.stats)

    def _revisit_skipped(self, url: str, source: Source, today: date) -> FetchedPage | None:
        """The page as last seen, when the revisit policy leaves it alone in this run."""
        previous = self._known(source, source.page_key(url))
        if previous is None or not self.revisit.skip(previous, today):
            return None
        return FetchedPage(url, source.name, previous.status, previous.checked_at, previous.content_sha256,
                           previous.content_type, outcome="revisit_skipped", etag=previous.etag,
                           last_modified=previous.last_modified, links=previous.links, links_scope=previous.links_scope,
                           key=previous.key)

    async def _visit(self, client: httpx.AsyncClient, url: str, source: Source, via: str,
                     hops: int) -> tuple[FetchedPage, list[str], int]:
        """One address -> its record, the links to follow from it, and the redirects behind those links."""
        key = source.page_key(url)
        is_start = via == "start"
        try:
            previous = self._known(source, key)
            if self.settings.obey_robots and not await self._allowed(client, url):
                page, found = FetchedPage(url, source.name, None, _now(), error="disallowed by robots.txt",
                                          is_start=is_start, outcome="disallowed"), []
            else:
                page, found = await self._fetch(client, url, source, is_start, previous)
        except Exception as exc:  # one broken page never stops the run
            page, found = FetchedPage(url, source.name, None, _now(), error=f"{type(exc).__name__}: {exc}", is_start=is_start), []
        page.key, page.via = key, via
        if page.outcome == "redirected":
            if hops >= self.settings.max_redirects:
                page.outcome, page.error, found = "failed", f"more than {self.settings.max_redirects} redirects in a row", []
            return page, found, hops + 1
        if page.error and page.outcome == "fetched":
            page.outcome = "failed"
        return page, found, 0

    async def _allowed(self, client: httpx.AsyncClient, url: str) -> bool:
        """robots.txt, fetched once per host and run. No robots.txt (4xx) allows everything."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        async with self.robots_lock:
            if origin not in self.robots:
                parser: robotparser.RobotFileParser | None = None
                try:
                    response = await client.get(origin + "/robots.txt")
                    if response.status_code == 200:
                        parser = robotparser.RobotFileParser()
                        parser.parse(response.text.splitlines())
                except httpx.HTTPError:
                    parser = None
                self.robots[origin] = parser
        parser = self.robots[origin]
        return parser is None or parser.can_fetch(self.settings.user_agent, url)

    async def _fetch(self, client: httpx.AsyncClient, url: str, source: Source, is_start: bool,
                     previous: PageState | None) -> tuple[FetchedPage, list[str]]:
        s = self.settings
        conditional: dict[str, str] = {}
        # A project page, or a followed page whose links we kept for this scope (a 304 then means the same
        # links); never a page whose last answer was an error or that no longer gives its projects.
        usable = previous is not None and previous.removed is None and previous.status in _CONTENT_STATUSES
        links_kept = usable and previous.links is not None and previous.links_scope == source.scope  # type: ignore[union-attr]
        if usable and previous.content_sha256 and (previous.page_kind == "project" or links_kept):  # type: ignore[union-attr]
            if previous.etag:  # type: ignore[union-attr]
                conditional["If-None-Match"] = previous.etag  # type: ignore[union-attr]
            if previous.last_modified:  # type: ignore[union-attr]
                conditional["If-Modified-Since"] = previous.last_modified  # type: ignore[union-attr]
        gate = self._gate(urlsplit(url).netloc)
        attempt = 0
        while True:
            async with gate.semaphore:
                await gate.wait_turn()
                began = time.monotonic()
                try:
                    status, headers, body, too_big = await self._get(client, url, conditional)
                except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                    status, headers, body, too_big, error = None, {}, b"", False, f"{type(exc).__name__}: {exc}"
                    if isinstance(exc, httpx.TimeoutException):
                        gate.slow_down(s.backoff_seconds)
                else:
                    error = None
                    if time.monotonic() - began > s.slow_response_seconds:
                        # The host is struggling: space our requests further apart.
                        gate.slow_down(min(time.monotonic() - began, s.max_retry_after))
                    elif status is not None and status < 400:
                        gate.recover()
            retryable = status is None or status in (429, 500, 502, 503, 504)
            if retryable and attempt < s.retries:
                attempt += 1
                self.stats.retried += 1
                wait = _retry_after(headers.get("retry-after"), s.max_retry_after) if status in (429, 503) else None
                if status in (429, 503):
                    gate.slow_down(wait or s.backoff_seconds)
                await asyncio.sleep(wait if wait is not None else s.backoff_seconds * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
                continue
            break
        fetched_at = _now()
        content_type = headers.get("content-type")
        if status is not None and 300 <= status < 400 and status != 304 and headers.get("location"):
            # A redirect is a page of its own: the target is crawled as an address of the source, so what
            # it shows is recorded under its own address (a page that moved gets its new source_url).
            try:
                target = normalise_url(str(httpx.URL(url).join(headers["location"])))
            except (httpx.InvalidURL, ValueError) as exc:
                return FetchedPage(url, source.name, status, fetched_at, error=f"malformed redirect: {exc}",
                                   retries=attempt, is_start=is_start), []
            if not source.in_scope(target):
                return FetchedPage(url, source.name, status, fetched_at, error=f"redirect out of scope to {target}",
                                   retries=attempt, is_start=is_start), []
            return FetchedPage(url, source.name, status, fetched_at, retries=attempt, is_start=is_start,
                               outcome="redirected", redirect_to=target), [target]
        if status == 304 and previous is not None:
            return FetchedPage(url, source.name, 304, fetched_at, previous.content_sha256, previous.content_type,
                               retries=attempt, is_start=is_start, outcome="not_modified",
                               etag=headers.get("etag") or previous.etag,
                               last_modified=headers.get("last-modified") or previous.last_modified,
                               links=previous.links if links_kept else None,
                               links_scope=previous.links_scope if links_kept else None), \
                list(previous.links or ()) if links_kept else []
        if status is None:
            return FetchedPage(url, source.name, None, fetched_at, error=error, retries=attempt, is_start=is_start), []
        if too_big:
            return FetchedPage(url, source.name, status, fetched_at, content_type=content_type,
                               error=f"body larger than {s.max_bytes} bytes", retries=attempt, is_start=is_start), []
        sha = self.store(body)
        page = FetchedPage(url, source.name, status, fetched_at, sha, content_type, retries=attempt, is_start=is_start,
                           etag=headers.get("etag"), last_modified=headers.get("last-modified"))
        if status >= 300:
            page.error = f"HTTP {status}"
            return page, []
        found: list[str] = []
        if content_type is None or "html" in content_type.lower():
            # Imported here: a run in which every page answers 304 never loads the HTML parser.
            from parsers.html import decode_html, hrefs, parse_document

            text, _ = decode_html(body, content_type)
            if not looks_like_project_page(text):
                found = hrefs(parse_document(text), url)
                page.links = ()  # followed: filled with the in-scope links by the crawl loop
        return page, found

    async def _get(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> tuple[int, httpx.Headers, bytes, bool]:
        limit = self.settings.max_bytes
        async with client.stream("GET", url, headers=headers) as response:
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                return response.status_code, response.headers, b"", True
            chunks, size = [], 0
            # iter_bytes decompresses, so the limit also holds for gzip bombs.
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    return response.status_code, response.headers, b"", True
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks), False


def page_source(sources: list[Source], name: str) -> Source:
    return next(s for s in sources if s.name == name)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
