"""Rate limiting for provider calls, shared by every worker of a run.

``RateLimiter`` is the interface the call layer uses: ``acquire()`` blocks the calling
thread until a call may start and returns a ``Permit``; ``settle()`` corrects the
permit's token count once the real usage is known; ``pause()`` holds every call back
(a provider answered 429). ``SlidingWindowLimiter`` is the in-process implementation;
a cross-process one (e.g. Redis-backed) can replace it without the pipeline noticing.

Semantics of ``SlidingWindowLimiter(calls=N, period=P, tokens=T)``:

- at most N calls start in any window of P seconds. It is a bucket of N tokens in
  which each token comes back exactly P seconds after it was taken, rather than
  trickling back at N/P per second: a plain refilling bucket can start 2N calls
  inside one window (a full bucket, then a refill's worth); this design cannot,
  and a saturated run still starts N calls every P seconds;
- the calls started in any window of P seconds reserve at most T tokens: a call
  reserves its prompt estimate plus its ``max_tokens`` and, once answered, is
  settled to the tokens it really used, which frees the difference at once;
- a slot is held ``period`` plus a small margin (2% of the period, at most 0.25 s):
  the provider counts a call when it arrives, a moment after it started here, and
  arrival delays vary, so without the margin two calls a window apart could
  arrive less than a window apart. It costs at most 2% of the rate;
- ``pause(seconds)`` (a 429) holds every call back; when it ends, calls resume by
  slow start: one goes first and the others wait for its answer (``settle``), then
  two, then four..., so a provider that still refuses sees one more request, not
  one per worker, and a recovered one is back at full speed in a few rounds;
- waiters are served first come, first served, and block on a condition variable
  (no busy waiting); ``acquire_async`` awaits a permit without blocking the loop.

>>> limiter = SlidingWindowLimiter(calls=2, period=1.0)
>>> first = limiter.acquire(); second = limiter.acquire()   # both start at once
>>> third = limiter.acquire()                               # waits until first is 1 s old
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bookgen.errors import JobCancelled, OptionError

MARGIN_FRACTION = 0.02
MARGIN_CAP = 0.25
# How long calls wait for answers during recovery from a 429 before going anyway.
PROBE_TIMEOUT = 60.0
# Recovery ends when this many calls may be unanswered at once.
RECOVERED_AT = 64


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


@dataclass(eq=False)  # identity: two permits can start at the same instant
class Permit:
    """One started call: when it started and the tokens it holds in the window."""

    started: float
    tokens: int = 0
    # Names the permit across a process boundary, where a pickled copy is not the object.
    ident: int = 0


class RateLimiter(ABC):
    """Interface: a gate every provider call passes before it starts."""

    @abstractmethod
    def acquire(self, tokens: int = 0) -> Permit:
        """Block until a call reserving ``tokens`` may start; count it as started."""

    def settle(self, permit: Permit, tokens: int) -> None:  # noqa: B027 - optional
        """The call of ``permit`` really used ``tokens``."""

    def check(self, tokens: int) -> None:  # noqa: B027 - optional
        """Raise OptionError for a request that could never start (too many tokens)."""

    async def acquire_async(self, tokens: int = 0) -> Permit:
        """Await a permit without blocking the event loop (waits in a worker thread)."""
        return await asyncio.to_thread(self.acquire, tokens)

    @abstractmethod
    def pause(self, seconds: float) -> None:
        """Hold back every call for ``seconds`` (a provider said 429)."""

    @abstractmethod
    def interrupt(self) -> None:
        """The run is stopping: every waiter, now and later, raises JobCancelled."""


class SlidingWindowLimiter(RateLimiter):
    """At most ``calls`` starts and ``tokens`` reserved tokens in any window of ``period``
    seconds; FIFO; thread-safe. Either limit may be None (not limited)."""

    def __init__(
        self,
        calls: int | None,
        period: float,
        *,
        tokens: int | None = None,
        clock: Clock = SYSTEM_CLOCK,
        on_start: Callable[[Permit], None] | None = None,
    ) -> None:
        if calls is not None and calls < 1:
            raise ValueError("calls must be at least 1")
        if tokens is not None and tokens < 1:
            raise ValueError("tokens must be at least 1")
        if not math.isfinite(period) or period <= 0:
            raise ValueError("period must be a positive finite number")
        self.calls = calls
        self.tokens = tokens
        self.period = period
        # How long a start holds its slot; see the module docstring for the margin.
        self.hold = period + min(period * MARGIN_FRACTION, MARGIN_CAP)
        self._clock = clock
        self._cond = threading.Condition()
        self._window: deque[Permit] = deque()  # permits started inside the window, oldest first
        self._held: dict[int, Permit] = {}  # the same permits by ident (settle finds them)
        # Without a limit no window is kept: nothing would read it.
        self._windowed = calls is not None or tokens is not None
        self._window_tokens = 0
        self._queue: deque[object] = deque()  # waiting tickets, oldest first
        self._paused_until = 0.0
        self._on_start = on_start
        self._interrupted = False
        # Recovery after a 429 pause (slow start): at most ``_cap`` calls started since
        # the pause may be unanswered at once; the cap starts at 1 (a probe) and grows
        # by one with each answer, so it doubles every round while the provider keeps
        # answering, and a provider that still refuses sees one request, not one per
        # worker. A new 429 starts it over.
        self._recovering = False
        self._cap = 1
        self._unanswered: set[int] = set()
        self._recovery_deadline = 0.0
        self.started = 0

    @property
    def waiting(self) -> int:
        """How many callers are queued for a permit."""
        with self._cond:
            return len(self._queue)

    def check(self, tokens: int) -> None:
        """Refuse a request that could never start under the token limit."""
        if self.tokens is not None and tokens > self.tokens:
            raise OptionError(
                f"a request needs about {tokens:,} tokens but --rate-limit-tokens allows "
                f"{self.tokens:,} per {self.period:g} s; raise the limit or lower --target-words"
            )

    def acquire(self, tokens: int = 0) -> Permit:
        self.check(tokens)
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            try:
                while True:
                    result = self._try_start(ticket, tokens)
                    if isinstance(result, Permit):
                        return result
                    self._clock.wait(self._cond, result)
            except BaseException:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                    self._cond.notify_all()
                raise

    def _try_start(self, ticket: object, tokens: int) -> Permit | float:
        """Start ``ticket`` if it is first in line and the window has room.

        Returns the permit, or how long to wait before looking again (a waiter that
        is not first only needs waking when the line moves).
        """
        if self._interrupted:
            raise JobCancelled("interrupted")
        now = self._clock.now()
        self._evict(now)
        if self._queue[0] is not ticket:
            return self.period
        if now < self._paused_until:
            return self._paused_until - now
        if self._recovering and len(self._unanswered) >= self._cap:
            if now < self._recovery_deadline:
                return self._recovery_deadline - now  # woken early by an answer
            self._recovering = False  # answers that never came: stop waiting for them
        if self.calls is not None and len(self._window) >= self.calls:
            return self._window[0].started + self.hold - now
        if self.tokens is not None and self._window_tokens + tokens > self.tokens:
            return self._token_wait(now, tokens)
        self.started += 1
        permit = Permit(now, tokens, ident=self.started)
        if self._recovering:
            self._unanswered.add(permit.ident)
            self._recovery_deadline = now + PROBE_TIMEOUT
        if self._windowed:
            self._window.append(permit)
            self._held[permit.ident] = permit
            self._window_tokens += tokens
        self._queue.popleft()
        if self._on_start is not None:
            self._on_start(permit)
        # The next in line may be able to start at once.
        self._cond.notify_all()
        return permit

    def _evict(self, now: float) -> None:
        while self._window and now - self._window[0].started >= self.hold:
            permit = self._window.popleft()
            del self._held[permit.ident]
            self._window_tokens -= permit.tokens

    def _token_wait(self, now: float, tokens: int) -> float:
        """Seconds until enough of the oldest permits leave the window for ``tokens``."""
        assert self.tokens is not None
        excess = self._window_tokens + tokens - self.tokens
        for permit in self._window:
            excess -= permit.tokens
            if excess <= 0:
                return permit.started + self.hold - now
        return self.hold  # unreachable while check() holds; wait a window to be safe

    def settle(self, permit: Permit, tokens: int) -> None:
        with self._cond:
            if permit.ident in self._unanswered:
                self._unanswered.discard(permit.ident)
                # An answer while not paused again: the provider is taking calls.
                if self._clock.now() >= self._paused_until:
                    self._cap += 1
                    if self._cap >= RECOVERED_AT:
                        self._recovering = False
                self._cond.notify_all()
            # Another process's permit is a copy: the window's own is found by ident.
            held = self._held.get(permit.ident)
            if held is not None:
                self._window_tokens += tokens - held.tokens
                held.tokens = tokens
                self._cond.notify_all()
            permit.tokens = tokens

    def pause(self, seconds: float) -> None:
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock.now() + seconds)
            self._recovering = True
            self._cap = 1
            self._unanswered.clear()
            self._cond.notify_all()

    def interrupt(self) -> None:
        with self._cond:
            self._interrupted = True
            self._cond.notify_all()


class NoLimit(SlidingWindowLimiter):
    """No configured limit: calls start at once, but a 429 pause (and its probe) still
    holds them."""

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(None, 60.0, clock=clock)


def make_limiter(
    calls: int | None, period: float, *, tokens: int | None = None, clock: Clock = SYSTEM_CLOCK
) -> RateLimiter:
    if calls is None and tokens is None:
        return NoLimit(clock=clock)
    return SlidingWindowLimiter(calls, period, tokens=tokens, clock=clock)
