"""Rate limiting for provider calls, shared by every worker thread of a run.

``RateLimiter`` is the interface the pipeline uses: ``acquire()`` blocks the calling
thread until a call may start. ``SlidingWindowLimiter`` is the in-process
implementation; a cross-process one (e.g. Redis-backed) can replace it without
the pipeline noticing.

Semantics of ``SlidingWindowLimiter(calls=N, period=P)``: at most N calls start in
any window of P seconds. It is a token bucket of N tokens in which each token
comes back exactly P seconds after it was taken, rather than trickling back at
N/P per second: a plain refilling bucket can start 2N calls inside one window
(a full bucket, then a refill's worth), this design cannot. Waiters are served
first come, first served, and block on a condition variable (no busy waiting).

>>> limiter = SlidingWindowLimiter(calls=2, period=1.0)
>>> limiter.acquire(); limiter.acquire()   # both start at once
>>> limiter.acquire()                      # waits until the first is a second old
"""

from __future__ import annotations

import asyncio
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """Where the limiter reads time and waits; tests pass a fake that never sleeps."""

    def now(self) -> float: ...

    def wait(self, condition: threading.Condition, timeout: float) -> None:
        """Wait on ``condition`` (held by the caller) for at most ``timeout`` seconds."""


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def wait(self, condition: threading.Condition, timeout: float) -> None:
        condition.wait(timeout)


SYSTEM_CLOCK = SystemClock()


class RateLimiter(ABC):
    """Interface: a gate every provider call passes before it starts."""

    @abstractmethod
    def acquire(self) -> None:
        """Block until one call may start, and count it as started."""

    async def acquire_async(self) -> None:
        """Await a permit without blocking the event loop (waits in a worker thread)."""
        await asyncio.to_thread(self.acquire)

    @abstractmethod
    def pause(self, seconds: float) -> None:
        """Hold back every call for ``seconds`` (a provider said 429)."""


class NoLimit(RateLimiter):
    """No configured limit: calls start at once, but a 429 pause still holds them."""

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._paused_until = 0.0

    def acquire(self) -> None:
        with self._cond:
            while (remaining := self._paused_until - self._clock.now()) > 0:
                self._clock.wait(self._cond, remaining)

    def pause(self, seconds: float) -> None:
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock.now() + seconds)
            self._cond.notify_all()


class SlidingWindowLimiter(RateLimiter):
    """At most ``calls`` starts in any window of ``period`` seconds, FIFO, thread-safe."""

    def __init__(
        self,
        calls: int,
        period: float,
        *,
        clock: Clock = SYSTEM_CLOCK,
        on_start: Callable[[float], None] | None = None,
    ) -> None:
        if calls < 1:
            raise ValueError("calls must be at least 1")
        if period <= 0:
            raise ValueError("period must be positive")
        self.calls = calls
        self.period = period
        self._clock = clock
        self._cond = threading.Condition()
        self._starts: deque[float] = deque()  # start times still inside the window
        self._queue: deque[object] = deque()  # waiting tickets, oldest first
        self._paused_until = 0.0
        self._on_start = on_start
        self.started = 0

    @property
    def waiting(self) -> int:
        """How many callers are queued for a permit."""
        with self._cond:
            return len(self._queue)

    def acquire(self) -> None:
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            try:
                while True:
                    wait = self._try_start(ticket)
                    if wait is None:
                        return
                    self._clock.wait(self._cond, wait)
            except BaseException:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                    self._cond.notify_all()
                raise

    def _try_start(self, ticket: object) -> float | None:
        """Start ``ticket`` if it is first in line and the window has room.

        Returns None when started, else how long to wait before looking again
        (a waiter that is not first only needs waking when the line moves).
        """
        now = self._clock.now()
        while self._starts and now - self._starts[0] >= self.period:
            self._starts.popleft()
        if self._queue[0] is not ticket:
            return self.period
        if now < self._paused_until:
            return self._paused_until - now
        if len(self._starts) >= self.calls:
            return self._starts[0] + self.period - now
        self._starts.append(now)
        self._queue.popleft()
        self.started += 1
        if self._on_start is not None:
            self._on_start(now)
        # The next in line may be able to start at once.
        self._cond.notify_all()
        return None

    def pause(self, seconds: float) -> None:
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock.now() + seconds)
            self._cond.notify_all()


def make_limiter(calls: int | None, period: float, *, clock: Clock = SYSTEM_CLOCK) -> RateLimiter:
    if calls is None:
        return NoLimit(clock=clock)
    return SlidingWindowLimiter(calls, period, clock=clock)
