"""Politeness per host, adaptive: how many requests may be in flight (additive increase, multiplicative
decrease, as TCP and Scrapy's AutoThrottle do) and the delay between their starts.

- The number in flight starts low and grows by one after each window of answers that came back near the
  host's fastest time; it halves on a connection error, a timeout, a reset, a 429 or 503, or an answer
  far slower than the fastest (a full listen queue makes the client wait a second for its SYN to be sent
  again), at most once per window. ``concurrency`` is its ceiling, never passed.
- Near the level where the host last struggled (the limit when the struggling request started: the
  signal comes a second late), each step up waits as long as that signal took, and twice as long each
  time the host struggles there again (as TCP's slow-start threshold): a server whose listen queue holds
  about five connections is probed now and then, not every second, since each probe costs a second of
  dropped connections.
- The delay between starts is never below ``delay`` (the floor, honoured exactly); it grows when the host
  asks us to slow down (429/503, Retry-After) or answers slowly, and comes back afterwards.
So a server that drops connections is not hammered, and a fast one is used fully."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import AsyncIterator

from pipeline.settings import default

# A struggling host's delay doubles, at least to this, at most to MAX_DELAY; each normal answer takes
# a fifth off until the configured delay is back.
MIN_SLOWED_DELAY, MAX_DELAY, RECOVERY = 0.5, 60.0, 0.8
# At most this many windows of good answers for a step at the level where the host struggled.
MAX_PROBE_WINDOWS = 64
HISTORY = 256  # changes of the limit kept, to find the one in force when a struggling request started


class HostGate:
    def __init__(
        self,
        concurrency: int,
        delay: float,
        start: int | None = None,
        slow_factor: float | None = None,
        slow_margin: float | None = None,
    ) -> None:
        self.ceiling = max(1, concurrency)
        self.limit = min(self.ceiling, start or default("crawler", "throttle_start"))
        self.slow_factor = slow_factor or default("crawler", "throttle_slow_factor")
        self.slow_margin = default("crawler", "throttle_slow_margin") if slow_margin is None else slow_margin
        self.in_flight = 0
        self.good = 0  # answers near the fastest since the last change of the limit
        self.fastest: float | None = None
        self.cut_at = 0.0  # when the limit was last halved: not again within the window after it
        self.struggled_at: int | None = None  # the limit when the request that struggled last was started
        # The limit's recent values and since when: a struggle shows a second after the burst that caused
        # it (a dropped SYN is sent again after a second), by when the limit has grown further.
        self.history: deque[tuple[float, int]] = deque([(0.0, self.limit)], maxlen=HISTORY)
        self.probe_windows = 1  # doubles each time the host struggles at about the same level again
        self.struggle_seconds = 0.0  # how long the struggling answer took: the delay of the signal
        self.changed = asyncio.Condition()
        self.base_delay = delay
        self.delay = delay
        self.next_start = 0.0
        self.lock = asyncio.Lock()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One request's turn: a place among the requests in flight, then the delay since the last start."""
        async with self.changed:
            await self.changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
        try:
            await self.wait_turn()
            yield
        finally:
            async with self.changed:
                self.in_flight -= 1
                self.changed.notify_all()

    async def wait_turn(self) -> None:
        async with self.lock:
            now = time.monotonic()
            wait = self.next_start - now
            jitter = random.uniform(0, self.delay * 0.25) if self.delay else 0.0
            self.next_start = max(now, self.next_start) + self.delay + jitter
        if wait > 0:
            await asyncio.sleep(wait)

    def answered(self, seconds: float, congested: bool = False) -> None:
        """One answer came back after ``seconds`` (called within its ``slot``, whose end wakes the waiting
        requests); ``congested``: the host refused, reset, timed out, or asked us to slow down."""
        if not congested:
            self.fastest = seconds if self.fastest is None else min(self.fastest, seconds)
            congested = seconds > self.fastest * self.slow_factor + self.slow_margin
        if congested:
            now = time.monotonic()
            if self.limit > 1 and now >= self.cut_at + max(self.fastest or 0.0, seconds):
                level = self.limit_at(now - seconds)
                if self.struggled_at is not None and level <= self.struggled_at + 1:
                    self.probe_windows = min(self.probe_windows * 2, MAX_PROBE_WINDOWS)  # the same level again
                self.struggled_at, self.struggle_seconds = level, seconds
                self._set_limit(max(1, min(self.limit, level) // 2), now)
                self.cut_at = now
            self.good = 0
        else:
            self.good += 1
            if self.good >= self.limit and self.limit < self.ceiling:
                now = time.monotonic()
                # Near the level where the host struggled, a step waits for the signal it could cause (a
                # struggle shows as late as the struggling answer took), longer each time it struggled there.
                probing = self.struggled_at is not None and self.limit >= self.struggled_at - 1
                if not probing or now - self.history[-1][0] >= self.struggle_seconds * self.probe_windows:
                    self._set_limit(self.limit + 1, now)
                    self.good = 0

    def limit_at(self, when: float) -> int:
        """The limit in force at ``when`` (the oldest one kept, if earlier)."""
        for since, limit in reversed(self.history):
            if since <= when:
                return limit
        return self.history[0][1]

    def _set_limit(self, limit: int, now: float) -> None:
        self.limit = limit
        self.history.append((now, limit))

    def slow_down(self, seconds: float) -> None:
        self.delay = min(max(self.delay * 2, seconds, MIN_SLOWED_DELAY), MAX_DELAY)

    def recover(self) -> None:
        """A normal answer: step back towards the configured delay (a stall must not last the run)."""
        if self.delay > self.base_delay:
            stepped = self.delay * RECOVERY
            self.delay = max(self.base_delay, stepped if stepped > 0.05 else self.base_delay)
