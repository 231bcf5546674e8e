"""The adaptive per-host throttle over fake answer times: up while answers are fast, halved when the host
struggles, never above the ceiling, never below one; the delay floor between starts."""

from __future__ import annotations

import asyncio
import time

from pipeline.crawl.gate import HostGate


def test_more_in_flight_while_answers_stay_near_the_fastest_never_above_the_ceiling():
    gate = HostGate(concurrency=6, delay=0.0, start=2, slow_factor=3.0, slow_margin=0.05)
    for _ in range(100):
        gate.answered(0.01)
    assert gate.limit == 6


def test_halved_on_a_congested_answer_at_most_once_per_window_and_never_below_one():
    gate = HostGate(concurrency=16, delay=0.0, start=16, slow_factor=3.0, slow_margin=0.05)
    gate.answered(0.01)
    gate.answered(1.05)  # a SYN sent again after a second: the listen queue is full
    assert gate.limit == 8
    gate.answered(1.05)  # the same burst: not cut again within the window
    assert gate.limit == 8
    gate.cut_at -= 10
    for _ in range(10):
        gate.answered(0.0, congested=True)
        gate.cut_at -= 10
    assert gate.limit == 1


def test_in_flight_requests_never_exceed_the_limit_and_starts_keep_the_delay():
    gate = HostGate(concurrency=3, delay=0.05, start=3)
    peak, starts = [0], []

    async def request() -> None:
        async with gate.slot():
            starts.append(time.monotonic())
            peak[0] = max(peak[0], gate.in_flight)
            await asyncio.sleep(0.02)
            gate.answered(0.02)

    async def main() -> None:
        await asyncio.gather(*(request() for _ in range(8)))

    asyncio.run(main())
    assert peak[0] <= 3
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 0.045  # the delay floor, whatever the concurrency


def test_the_delay_grows_when_asked_and_comes_back():
    gate = HostGate(concurrency=2, delay=0.0)
    gate.slow_down(2.0)
    assert gate.delay == 2.0
    for _ in range(100):
        gate.recover()
    assert gate.delay == 0.0


def test_near_the_level_where_the_host_struggled_each_step_waits_for_the_signal_ever_longer(monkeypatch):
    import pipeline.crawl.gate as gate_module

    clock = [100.0]
    monkeypatch.setattr(gate_module.time, "monotonic", lambda: clock[0])
    gate = HostGate(concurrency=16, delay=0.0, start=2, slow_factor=3.0, slow_margin=0.05)

    def fast_answers_until(level: int, step: float = 0.01, most: int = 100_000) -> float:
        """Fast answers, each ``step`` seconds apart, until the limit reaches ``level``: the time it took."""
        began = clock[0]
        for _ in range(most):
            if gate.limit >= level:
                break
            clock[0] += step
            gate.answered(0.01)
        return round(clock[0] - began, 2)

    fast_answers_until(7)
    assert gate.limit == 7
    # The queue overflows at 7 in flight; the signal (a SYN sent again) comes a second later, when the
    # limit has grown to 12: the level that struggled is the one in force when the slow request started.
    started = clock[0]
    fast_answers_until(12)
    clock[0] = started + 1.05
    gate.answered(1.05)
    assert gate.struggled_at == 7 and gate.limit == 3
    waits = []
    for _ in range(3):  # each time the host struggles at 7 again
        assert fast_answers_until(6) < 0.5  # well below the level: back quickly
        waits.append(fast_answers_until(7))  # the step to the level waits for the signal, ever longer
        clock[0] += 1.05
        gate.answered(1.05)
        assert gate.limit == 3 and gate.struggled_at == 7
    assert [round(w) for w in waits] == [1, 2, 4]  # 1.05 s, then twice as long each time
    # A host that recovers is used fully again in time: no ceiling is learnt for good.
    fast_answers_until(16, step=0.5)
    assert gate.limit == 16
