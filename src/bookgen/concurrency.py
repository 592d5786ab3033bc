"""How many chapter jobs may run at once: fixed, or adaptive (AIMD) with ``--adaptive``.

Adaptive concurrency is additive-increase, multiplicative-decrease on the number of
chapters admitted, the way TCP treats its congestion window: a 429 halves the limit
(never below 1), and a run of successful calls while at least half the admitted
chapters are busy adds one back (never above ``--max-concurrent``). A 429 from a call
that started before the last decrease is ignored: it tells of the old limit, and
counting it would halve the limit once per worker instead of once per overload.

The coordinator awaits ``acquire()`` on the event loop; worker threads report calls
through ``succeeded`` and ``rate_limited``, which are thread-safe.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

# Successful calls in a row that earn one more admitted chapter.
INCREASE_AFTER = 5

ChangeListener = Callable[[int, str], None]


class Admission:
    """A semaphore whose size can shrink and grow while the run goes on.

    >>> admission = Admission(5, adaptive=True)     # doctest: +SKIP
    >>> await admission.acquire(); ...; admission.release()
    """

    def __init__(
        self,
        maximum: int,
        *,
        adaptive: bool = False,
        increase_after: int = INCREASE_AFTER,
        clock: Callable[[], float] = time.monotonic,
        on_change: ChangeListener | None = None,
    ) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.adaptive = adaptive
        self.in_use = 0
        self.increase_after = increase_after
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._streak = 0
        self._last_decrease = float("-inf")
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def acquire(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self.in_use < self.limit:
                    self.in_use += 1
                    return
                self._wake.clear()
            await self._wake.wait()

    def release(self) -> None:
        """Called on the event loop when an admitted chapter finishes."""
        with self._lock:
            self.in_use -= 1
        self._wake.set()

    def rate_limited(self, started: float) -> None:
        if not self.adaptive:
            return
        with self._lock:
            if started < self._last_decrease or self.limit == 1:
                return
            self.limit = max(1, self.limit // 2)
            self._last_decrease = self._clock()
            self._streak = 0
            limit = self.limit
        self._changed(limit, "rate limited")

    def succeeded(self, started: float) -> None:
        if not self.adaptive:
            return
        with self._lock:
            self._streak += 1
            grow = (
                self._streak >= self.increase_after
                and self.limit < self.maximum
                and self.in_use * 2 >= self.limit
            )
            if not grow:
                return
            self.limit += 1
            self._streak = 0
            limit = self.limit
        self._changed(limit, "calls succeeding")

    def _changed(self, limit: int, reason: str) -> None:
        if self._on_change is not None:
            self._on_change(limit, reason)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)
