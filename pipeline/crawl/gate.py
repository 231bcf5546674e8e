"""Politeness per host, adaptive: how many requests may be in flight (additive increase, multiplicative
decrease, as TCP and Scrapy's AutoThrottle do) and the delay between their starts.

- The number in flight starts low and grows by one after each window of answers that came back near the
  host's fastest time; it halves on a connection error, a timeout, a reset, a 429 or 503, or an answer
  far slower than the fastest (a full listen queue makes the client wait a second for its SYN to be sent
  again), at most once per window. ``concurrency`` is its ceiling, never passed.
- The delay between starts is never below ``delay`` (the floor, honoured exactly); it grows when the host
  asks us to slow down (429/503, Retry-After) or answers slowly, and comes back afterwards.
So a server that drops connections is not hammered, and a fast one is used fully."""

from __future__ import annotations

import asyncio
import random
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

from pipeline.settings import default

# A struggling host's delay doubles, at least to this, at most to MAX_DELAY; each normal answer takes
# a fifth off until the configured delay is back.
MIN_SLOWED_DELAY, MAX_DELAY, RECOVERY = 0.5, 60.0, 0.8


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
                self.limit = max(1, self.limit // 2)
                self.cut_at = now
            self.good = 0
        else:
            self.good += 1
            if self.good >= self.limit and self.limit < self.ceiling:
                self.limit += 1
                self.good = 0

    def slow_down(self, seconds: float) -> None:
        self.delay = min(max(self.delay * 2, seconds, MIN_SLOWED_DELAY), MAX_DELAY)

    def recover(self) -> None:
        """A normal answer: step back towards the configured delay (a stall must not last the run)."""
        if self.delay > self.base_delay:
            stepped = self.delay * RECOVERY
            self.delay = max(self.base_delay, stepped if stepped > 0.05 else self.base_delay)
