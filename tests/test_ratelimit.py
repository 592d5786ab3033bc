from __future__ import annotations

import threading
import time

import pytest

from bookgen.errors import OptionError
from bookgen.ratelimit import NoLimit, Permit, SlidingWindowLimiter, make_limiter
from tests.conftest import FakeClock


def wait_until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


def max_in_window(starts: list[float], period: float) -> int:
    starts = sorted(starts)
    best = 0
    j = 0
    for i, start in enumerate(starts):
        while start - starts[j] >= period:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_many_threads_never_exceed_the_window() -> None:
    starts: list[float] = []
    lock = threading.Lock()

    def record(permit: Permit) -> None:
        with lock:
            starts.append(permit.started)

    limiter = SlidingWindowLimiter(calls=10, period=0.1, on_start=record)
    threads = [threading.Thread(target=limiter.acquire, daemon=True) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(starts) == 50
    assert limiter.started == 50
    assert max_in_window(starts, 0.1) == 10


def test_max_in_window_helper_sees_a_violation() -> None:
    assert max_in_window([0.0, 0.05, 0.099, 0.1], 0.1) == 3
    assert max_in_window([0.0, 0.01, 0.02], 0.1) == 3


def test_fake_clock_window_and_fifo_order(fake_clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(calls=2, period=10.0, clock=fake_clock)
    order: list[int] = []

    def worker(index: int) -> None:
        limiter.acquire()
        order.append(index)

    threads = []
    for index in range(5):
        thread = threading.Thread(target=worker, args=(index,), daemon=True)
        thread.start()
        threads.append(thread)
        # Queue them one by one so the arrival order is known.
        wait_until(lambda i=index: len(order) + limiter.waiting == i + 1)
    assert order == [0, 1]
    assert limiter.waiting == 3
    fake_clock.advance(10.15)  # a slot is held 10 s plus the 2% margin
    time.sleep(0.02)
    assert order == [0, 1]
    fake_clock.advance(0.1)
    wait_until(lambda: len(order) == 4)
    assert order == [0, 1, 2, 3]
    fake_clock.advance(10.3)
    wait_until(lambda: len(order) == 5)
    assert order == [0, 1, 2, 3, 4]
    for thread in threads:
        thread.join(5)


def test_pause_holds_every_caller_then_one_probes_first(fake_clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(calls=100, period=1.0, clock=fake_clock)
    limiter.pause(5.0)
    done: list[Permit] = []
    threads = [
        threading.Thread(target=lambda: done.append(limiter.acquire()), daemon=True)
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    wait_until(lambda: limiter.waiting == 3)
    fake_clock.advance(4.0)
    time.sleep(0.02)
    assert done == []
    fake_clock.advance(1.0)
    # The pause is over: one call goes first, the others wait for its answer.
    wait_until(lambda: len(done) == 1)
    time.sleep(0.02)
    assert len(done) == 1
    limiter.settle(done[0], 10)
    wait_until(lambda: len(done) == 3)
    for thread in threads:
        thread.join(5)


def test_a_probe_that_never_answers_stops_blocking(fake_clock: FakeClock) -> None:
    from bookgen.ratelimit import PROBE_TIMEOUT

    limiter = SlidingWindowLimiter(calls=None, period=1.0, clock=fake_clock)
    limiter.pause(1.0)
    fake_clock.advance(1.0)
    limiter.acquire()  # the probe, never settled
    done: list[Permit] = []
    waiter = threading.Thread(target=lambda: done.append(limiter.acquire()), daemon=True)
    waiter.start()
    wait_until(lambda: limiter.waiting == 1)
    fake_clock.advance(PROBE_TIMEOUT)
    wait_until(lambda: len(done) == 1)


def test_no_limit_passes_at_once_but_honours_a_pause(fake_clock: FakeClock) -> None:
    limiter = NoLimit(clock=fake_clock)
    for _ in range(1000):
        limiter.acquire()
    limiter.pause(2.0)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (limiter.acquire(), done.set()), daemon=True)
    thread.start()
    time.sleep(0.02)
    assert not done.is_set()
    fake_clock.advance(2.0)
    assert done.wait(5)
    thread.join(5)


async def test_acquire_async_does_not_block_the_loop(fake_clock: FakeClock) -> None:
    import asyncio

    limiter = SlidingWindowLimiter(calls=1, period=10.0, clock=fake_clock)
    await limiter.acquire_async()
    waiter = asyncio.create_task(limiter.acquire_async())
    await asyncio.sleep(0.02)
    assert not waiter.done()  # the loop kept running while the permit was awaited
    fake_clock.advance(10.3)
    await asyncio.wait_for(waiter, 5)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(calls=0, period=1.0)
    with pytest.raises(ValueError):
        SlidingWindowLimiter(calls=1, period=0)
    assert isinstance(make_limiter(None, 60.0), NoLimit)
    assert isinstance(make_limiter(5, 60.0), SlidingWindowLimiter)


def test_tokens_reserve_and_settle(fake_clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(None, 60.0, tokens=1000, clock=fake_clock)
    first = limiter.acquire(600)
    done: list[Permit] = []
    waiter = threading.Thread(target=lambda: done.append(limiter.acquire(600)), daemon=True)
    waiter.start()
    wait_until(lambda: limiter.waiting == 1)
    time.sleep(0.02)
    assert done == []  # 600 + 600 > 1000
    limiter.settle(first, 300)  # the call used less than it reserved
    wait_until(lambda: len(done) == 1)
    assert done[0].started == 0.0  # no time had to pass
    waiter.join(5)


def test_tokens_free_up_as_the_window_slides(fake_clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(None, 10.0, tokens=100, clock=fake_clock)
    limiter.acquire(60)
    fake_clock.advance(4.0)
    limiter.acquire(40)
    done: list[Permit] = []
    waiter = threading.Thread(target=lambda: done.append(limiter.acquire(50)), daemon=True)
    waiter.start()
    wait_until(lambda: limiter.waiting == 1)
    fake_clock.advance(6.15)
    time.sleep(0.02)
    assert done == []
    fake_clock.advance(0.1)  # the 60-token call is now 10 s (+2%) old
    wait_until(lambda: len(done) == 1)
    assert done[0].started == pytest.approx(10.25)
    waiter.join(5)


def test_calls_and_tokens_together(fake_clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(2, 10.0, tokens=1000, clock=fake_clock)
    limiter.acquire(10)
    limiter.acquire(10)
    done: list[Permit] = []
    waiter = threading.Thread(target=lambda: done.append(limiter.acquire(10)), daemon=True)
    waiter.start()
    wait_until(lambda: limiter.waiting == 1)
    time.sleep(0.02)
    assert done == []  # tokens to spare, but the call limit holds
    fake_clock.advance(10.3)
    wait_until(lambda: len(done) == 1)
    waiter.join(5)


def test_a_request_larger_than_the_token_limit_is_refused() -> None:
    limiter = SlidingWindowLimiter(None, 60.0, tokens=1000)
    with pytest.raises(
        OptionError,
        match="a request needs about 1,001 tokens but --rate-limit-tokens allows 1,000 per 60 s",
    ):
        limiter.acquire(1001)
    assert limiter.started == 0


def test_recovery_after_a_pause_is_slow_start(fake_clock: FakeClock) -> None:
    limiter = SlidingWindowLimiter(calls=None, period=1.0, clock=fake_clock)
    limiter.pause(1.0)
    fake_clock.advance(1.0)
    done: list[Permit] = []
    threads = [
        threading.Thread(target=lambda: done.append(limiter.acquire()), daemon=True)
        for _ in range(7)
    ]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(done) == 1)  # the probe
    time.sleep(0.02)
    assert len(done) == 1
    limiter.settle(done[0], 0)  # answered: two may be out at once
    wait_until(lambda: len(done) == 3)
    time.sleep(0.02)
    assert len(done) == 3
    limiter.settle(done[1], 0)
    limiter.settle(done[2], 0)  # cap 4, nothing unanswered: four more
    wait_until(lambda: len(done) == 7)
    # A new 429 starts over with a single probe.
    limiter.pause(1.0)
    fake_clock.advance(1.0)
    late: list[Permit] = []
    extra = [
        threading.Thread(target=lambda: late.append(limiter.acquire()), daemon=True)
        for _ in range(2)
    ]
    for thread in extra:
        thread.start()
    wait_until(lambda: len(late) == 1)
    time.sleep(0.02)
    assert len(late) == 1
