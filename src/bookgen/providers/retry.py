"""The one layer where provider calls are retried, rate limited and sent down the fallback chain.

Every call of a run goes through ``ProviderCaller.complete``:

1. pick the first provider of the chain that is not cooling down;
2. take a permit from that provider's rate limiter (the 429 pause lives there, so
   a 429 holds back every worker's calls to that provider, not only this one);
3. call it; on a transient error retry with tenacity, waiting what the server
   asked (``retry-after-ms``, ``Retry-After``), else exponential backoff with full
   jitter (base 0.5 s, cap 30 s); never retry authentication or bad-request errors;
4. when the retries run out, or the provider starts cooling down after repeated
   failures, go on to the next provider in the chain. A cooled-down provider is
   tried again once its cooldown has passed.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from bookgen.cost import Budget, Pricing
from bookgen.errors import (
    BadRequestError,
    JobCancelled,
    RateLimitError,
    ServerError,
    TransientProviderError,
)
from bookgen.models import Completion, CompletionRequest
from bookgen.providers.base import Provider
from bookgen.ratelimit import RateLimiter
from bookgen.tokens import reserved_tokens

BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
DEFAULT_MAX_RETRIES = 6
# A provider with this many failures among its last HEALTH_WINDOW calls rests (when the
# chain has somewhere else to go): a failure rate, so that a few unlucky faults in a row
# across many workers do not send a healthy provider's work elsewhere.
HEALTH_WINDOW = 10
FAILURES_TO_COOL = 8
COOLDOWN_SECONDS = 60.0
# Waiting out 429s does not use up --max-retries (the server says when to come back);
# this much waiting on one call does.
RATE_LIMIT_BUDGET_SECONDS = 600.0


class CallListener(Protocol):
    """What the coordinator hears about calls (progress notes, adaptive concurrency).

    Providers are named, not passed: a listener may live in another process.

    ``started`` is the call's start on the limiter's clock, so a listener can tell
    calls launched before a change from calls launched after it.
    """

    def retrying(self, provider: str, error: TransientProviderError, seconds: float) -> None: ...

    def succeeded(self, provider: str, started: float) -> None: ...

    def rate_limited(self, provider: str, started: float) -> None: ...

    def resting(self, provider: str, seconds: float, error: str) -> None: ...

    def falling_back(self, provider: str, fallback: str, error: str) -> None: ...


@dataclass
class Route:
    """One provider of the chain with its own limiter and recent health."""

    provider: Provider
    limiter: RateLimiter
    cooling_until: float = 0.0
    # The last HEALTH_WINDOW outcomes (True = failed) of calls to this provider.
    outcomes: deque[bool] = field(default_factory=lambda: deque(maxlen=HEALTH_WINDOW))
    lock: threading.RLock = field(default_factory=threading.RLock)

    def cooling(self, now: float) -> bool:
        return now < self.cooling_until

    def failed(self, now: float, error: TransientProviderError) -> bool:
        """Count a failure; returns True when it puts the provider to rest."""
        with self.lock:
            self.outcomes.append(True)
            if sum(self.outcomes) >= FAILURES_TO_COOL and not self.cooling(now):
                self.rest(now, error)
                return True
            return False

    def rest(self, now: float, error: TransientProviderError | None) -> None:
        """Rest for what the server asked, else COOLDOWN_SECONDS."""
        seconds = error.retry_after if error is not None and error.retry_after else COOLDOWN_SECONDS
        with self.lock:
            self.cooling_until = now + seconds
            self.outcomes.clear()

    def succeeded(self) -> None:
        with self.lock:
            self.outcomes.append(False)
            self.cooling_until = 0.0


class ProviderCaller:
    """Retries, rate limits and fallbacks around the providers of one run.

    >>> caller = ProviderCaller([primary, backup], [limiter, NoLimit()])  # doctest: +SKIP
    >>> completion = caller.complete(request)                             # doctest: +SKIP
    """

    def __init__(
        self,
        providers: list[Provider],
        limiters: list[RateLimiter],
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        cancel: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        listener: CallListener | None = None,
        sleep: Callable[[float], None] | None = None,
        seed: int | None = None,
        pricing: Pricing | None = None,
        budget: Budget | None = None,
    ) -> None:
        if not providers or len(providers) != len(limiters):
            raise ValueError("one limiter per provider, at least one provider")
        self.routes = [Route(p, lim) for p, lim in zip(providers, limiters, strict=True)]
        self.max_retries = max_retries
        self.cancel = cancel or threading.Event()
        self.clock = clock
        self.listener = listener
        self._sleeper = sleep
        self.pricing = pricing or Pricing({})
        self.budget = budget
        self._random = random.Random(seed)

    @property
    def primary(self) -> Provider:
        return self.routes[0].provider

    def complete(self, request: CompletionRequest) -> Completion:
        last: TransientProviderError | None = None
        candidates = self._candidates()
        for index, route in enumerate(candidates):
            if last is not None and self.listener is not None:
                self.listener.falling_back(
                    candidates[index - 1].provider.name, route.provider.name, str(last)
                )
            try:
                return self._call(route, request, can_fall_back=index < len(candidates) - 1)
            except TransientProviderError as exc:
                last = exc
        assert last is not None
        raise last

    def _candidates(self) -> list[Route]:
        now = self.clock()
        ready = [route for route in self.routes if not route.cooling(now)]
        resting = sorted((r for r in self.routes if r.cooling(now)), key=lambda r: r.cooling_until)
        return ready + resting

    def _call(self, route: Route, request: CompletionRequest, *, can_fall_back: bool) -> Completion:
        """One call with its retries. Failures other than 429 count against
        --max-retries; 429s count only once their waits pass the rate-limit budget."""
        tally = {"failures": 0, "rate_limit_wait": 0.0}

        def stop(state: RetryCallState) -> bool:
            spent = tally["failures"] > self.max_retries
            waited = tally["rate_limit_wait"] > RATE_LIMIT_BUDGET_SECONDS
            # Another worker's failures put this provider to rest: go to the next one now.
            resting = can_fall_back and route.cooling(self.clock())
            return spent or waited or resting

        retrying = Retrying(
            stop=stop,
            retry=retry_if_exception_type(TransientProviderError),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=lambda state: self._before_sleep(route, state),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    try:
                        completion = self._attempt(
                            route, request, attempt.retry_state.attempt_number
                        )
                    except RateLimitError as exc:
                        tally["rate_limit_wait"] += exc.retry_after or 0.0
                        raise
                    except TransientProviderError:
                        tally["failures"] += 1
                        raise
        except TransientProviderError as exc:
            if can_fall_back and not route.cooling(self.clock()):
                route.rest(self.clock(), exc)
                self._resting(route, exc)
            raise
        route.succeeded()
        return completion

    def _attempt(self, route: Route, request: CompletionRequest, attempt: int) -> Completion:
        if self.cancel.is_set():
            raise JobCancelled("interrupted")
        reserved = reserved_tokens(request)
        prompt = reserved - request.max_tokens
        price = self.pricing.of(f"{route.provider.name}:{route.provider.model}")
        ticket = None
        if self.budget is not None and price is not None:
            ticket = self.budget.reserve(price.worst_case(prompt, request.max_tokens))
        try:
            completion = self._limited(route, request, attempt, reserved)
        except BaseException as exc:
            if ticket is not None and price is not None:
                # A refusal (an HTTP error status) is not billed; a call that broke off
                # after it started (timeout, cut stream) may have been, for its prompt.
                refused = isinstance(exc, (RateLimitError, ServerError, BadRequestError))
                cost = 0.0 if refused else price.worst_case(prompt, 0)
                self.budget.settle(ticket, cost)  # type: ignore[union-attr]
            raise
        if ticket is not None and price is not None:
            self.budget.settle(ticket, price.cost(completion.usage))  # type: ignore[union-attr]
        return completion

    def _limited(
        self, route: Route, request: CompletionRequest, attempt: int, reserved: int
    ) -> Completion:
        permit = route.limiter.acquire(reserved)
        try:
            if self.cancel.is_set():
                raise JobCancelled("interrupted")
            completion = route.provider.complete(request)
        except TransientProviderError as exc:
            if isinstance(exc, RateLimitError):
                # Hold back every worker's calls to this provider, starting now (before
                # settling, so the limiter reads this answer as a refusal).
                exc.retry_after = self.wait_for(exc, attempt=attempt)
                route.limiter.pause(exc.retry_after)
                if self.listener is not None:
                    self.listener.rate_limited(route.provider.name, permit.started)
            # A failed call used at most its prompt.
            route.limiter.settle(permit, reserved - request.max_tokens)
            if self.cancel.is_set():
                raise JobCancelled("interrupted") from None
            if route.failed(self.clock(), exc) and len(self.routes) > 1:
                self._resting(route, exc)
            raise
        except BaseException:
            route.limiter.settle(permit, reserved - request.max_tokens)
            raise
        usage = completion.usage
        route.limiter.settle(permit, usage.prompt_tokens + usage.completion_tokens)
        if self.listener is not None:
            self.listener.succeeded(route.provider.name, permit.started)
        return completion

    def _resting(self, route: Route, error: TransientProviderError) -> None:
        if self.listener is not None:
            seconds = max(0.0, route.cooling_until - self.clock())
            self.listener.resting(route.provider.name, seconds, str(error))

    def wait_for(self, exc: BaseException | None, *, attempt: int) -> float:
        """The server's Retry-After when it gave one, else full-jitter exponential backoff."""
        if isinstance(exc, TransientProviderError) and exc.retry_after is not None:
            return exc.retry_after
        return self._random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)))

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self.wait_for(exc, attempt=state.attempt_number)

    def _before_sleep(self, route: Route, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        assert isinstance(exc, TransientProviderError)
        seconds = state.next_action.sleep if state.next_action else 0.0
        if self.listener is not None:
            self.listener.retrying(route.provider.name, exc, seconds)

    def _sleep(self, seconds: float) -> None:
        if self._sleeper is not None:  # tests: a fake clock's advance
            self._sleeper(seconds)
        if self.cancel.wait(0 if self._sleeper else seconds):
            raise JobCancelled("interrupted")

    def interrupt(self) -> None:
        self.cancel.set()
        for route in self.routes:
            route.limiter.interrupt()
            route.provider.interrupt()

    def close(self) -> None:
        for route in self.routes:
            route.provider.close()
