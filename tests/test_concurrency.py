from __future__ import annotations

import asyncio

from bookgen.concurrency import Admission


class Clock:
    def __init__(self) -> None:
        self.time = 0.0

    def __call__(self) -> float:
        return self.time


def test_fixed_admission_ignores_signals() -> None:
    admission = Admission(4)
    admission.rate_limited(0.0)
    for _ in range(20):
        admission.succeeded(0.0)
    assert admission.limit == 4


def test_aimd_transitions() -> None:
    clock = Clock()
    changes: list[tuple[int, str]] = []
    admission = Admission(
        8,
        adaptive=True,
        increase_after=3,
        clock=clock,
        on_change=lambda n, r: changes.append((n, r)),
    )
    admission.in_use = 8
    clock.time = 10.0
    admission.rate_limited(started=9.0)
    assert admission.limit == 4
    # Calls that started before the decrease tell of the old limit: ignored.
    admission.rate_limited(started=9.5)
    assert admission.limit == 4
    clock.time = 11.0
    admission.rate_limited(started=10.5)
    assert admission.limit == 2
    admission.rate_limited(started=11.5)
    assert admission.limit == 1
    admission.rate_limited(started=12.0)
    assert admission.limit == 1  # floor
    admission.in_use = 1
    for _ in range(3):
        admission.succeeded(12.0)
    assert admission.limit == 2
    admission.in_use = 0  # fewer than half the permits in use: no growth
    for _ in range(6):
        admission.succeeded(12.0)
    assert admission.limit == 2
    admission.in_use = 8
    for _ in range(3 * 10):
        admission.succeeded(12.0)
    assert admission.limit == 8  # never above the maximum
    assert changes[:4] == [
        (4, "rate limited"),
        (2, "rate limited"),
        (1, "rate limited"),
        (2, "calls succeeding"),
    ]


async def test_acquire_waits_for_a_release_and_a_raise() -> None:
    admission = Admission(2, adaptive=True, increase_after=1)
    await admission.acquire()
    await admission.acquire()
    admission.rate_limited(started=float("inf"))
    assert admission.limit == 1
    waiter = asyncio.create_task(admission.acquire())
    await asyncio.sleep(0.01)
    admission.release()  # 1 in use, limit 1: still full
    await asyncio.sleep(0.01)
    assert not waiter.done()
    admission.succeeded(0.0)  # 1 in use >= half of 1: the limit grows to 2
    await asyncio.wait_for(waiter, 5)
    assert (admission.limit, admission.in_use) == (2, 2)
