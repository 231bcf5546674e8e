"""Politeness per host: at most ``concurrency`` requests at a time and ``delay`` between their starts,
the delay growing when the host struggles (429/503, slow answers, timeouts) and coming back after."""
from __future__ import annotations

import asyncio
import random
import time

# A struggling host's delay doubles, at least to this, at most to MAX_DELAY; each normal answer takes
# a fifth off until the configured delay is back.
MIN_SLOWED_DELAY, MAX_DELAY, RECOVERY = 0.5, 60.0, 0.8


class HostGate:
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
        self.delay = min(max(self.delay * 2, seconds, MIN_SLOWED_DELAY), MAX_DELAY)

    def recover(self) -> None:
        """A normal answer: step back towards the configured delay (a stall must not last the run)."""
        if self.delay > self.base_delay:
            stepped = self.delay * RECOVERY
            self.delay = max(self.base_delay, stepped if stepped > 0.05 else self.base_delay)
