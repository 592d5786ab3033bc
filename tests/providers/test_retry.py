"""The retry, rate-limit and fallback layer, with a scripted provider and a fake clock."""

from __future__ import annotations

import threading
import time

import pytest

from bookgen.errors import (
    AuthenticationError,
    BadRequestError,
    BrokenStreamError,
    JobCancelled,
    ProviderConnectionError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    TransientProviderError,
    UnparseableResponseError,
)
from bookgen.models import Completion, CompletionRequest, Message
from bookgen.providers import retry
from bookgen.providers.retry import ProviderCaller
from bookgen.ratelimit import NoLimit
from tests.conftest import FakeClock, ScriptedProvider

REQUEST = CompletionRequest(
    messages=[Message(role="user", content="Write about 20 words.")], max_tokens=100
)


class Primary(ScriptedProvider):
    name = "primary"


class Backup(ScriptedProvider):
    name = "backup"


def caller_for(
    *providers: ScriptedProvider, clock: FakeClock, **kwargs
) -> tuple[ProviderCaller, list[float]]:  # type: ignore[no-untyped-def]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    caller = ProviderCaller(
        list(providers),
        [NoLimit(clock=clock) for _ in providers],
        clock=clock.now,
        sleep=sleep,
        seed=1,
        **kwargs,
    )
    return caller, sleeps


@pytest.mark.parametrize(
    "error",
    [
        RateLimitError("429"),
        ServerError("503"),
        ServerError("529 overloaded"),
        ProviderTimeoutError("read timeout"),
        ProviderConnectionError("reset"),
        BrokenStreamError("cut"),
        UnparseableResponseError("not json"),
    ],
)
def test_transient_errors_are_retried(fake_clock: FakeClock, error: TransientProviderError) -> None:
    provider = Primary()
    provider.enqueue(error, error)
    caller, sleeps = caller_for(provider, clock=fake_clock)
    completion = caller.complete(REQUEST)
    assert len(completion.text.split()) == 20
    assert len(provider.history) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("error", [BadRequestError("400 bad"), AuthenticationError("401")])
def test_client_errors_are_never_retried(fake_clock: FakeClock, error: Exception) -> None:
    provider = Primary()
    provider.enqueue(error)
    caller, sleeps = caller_for(provider, clock=fake_clock)
    with pytest.raises(type(error)):
        caller.complete(REQUEST)
    assert (len(provider.history), sleeps) == (1, [])


def test_retries_stop_at_max_retries(fake_clock: FakeClock) -> None:
    provider = Primary()
    provider.enqueue(*[ServerError("503")] * 10)
    caller, sleeps = caller_for(provider, clock=fake_clock, max_retries=3)
    with pytest.raises(ServerError):
        caller.complete(REQUEST)
    assert len(provider.history) == 4
    assert len(sleeps) == 3


def test_max_retries_zero_makes_one_call(fake_clock: FakeClock) -> None:
    provider = Primary()
    provider.enqueue(ServerError("503"))
    caller, sleeps = caller_for(provider, clock=fake_clock, max_retries=0)
    with pytest.raises(ServerError):
        caller.complete(REQUEST)
    assert (len(provider.history), sleeps) == (1, [])


def test_server_retry_after_is_the_wait(fake_clock: FakeClock) -> None:
    provider = Primary()
    provider.enqueue(ServerError("503", retry_after=7.0), RateLimitError("429", retry_after=2.5))
    caller, sleeps = caller_for(provider, clock=fake_clock)
    caller.complete(REQUEST)
    assert sleeps == [7.0, 2.5]


def test_backoff_is_full_jitter_exponential_with_a_cap(
    fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = Primary()
    provider.enqueue(*[ServerError("503")] * 8)
    caller, sleeps = caller_for(provider, clock=fake_clock, max_retries=8)
    caller.complete(REQUEST)
    assert len(sleeps) == 8
    for attempt, seconds in enumerate(sleeps, start=1):
        assert 0 <= seconds <= min(30.0, 0.5 * 2 ** (attempt - 1))
    assert max(sleeps[5:]) > 2.0  # the later waits really grow (seeded, so exact)


def test_a_429_pauses_every_worker(fake_clock: FakeClock) -> None:
    provider = Primary()
    limiter = NoLimit(clock=fake_clock)
    provider.enqueue(RateLimitError("429", retry_after=30.0))
    caller = ProviderCaller([provider], [limiter], clock=fake_clock.now, sleep=lambda s: None)
    first = threading.Thread(target=caller.complete, args=(REQUEST,))
    first.start()
    deadline = time.monotonic() + 5
    while len(provider.history) < 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.05)
    # Its own wait was instant, but the retry is held back by the pause like everyone else.
    assert first.is_alive()
    assert len(provider.history) == 1
    other_done = threading.Event()
    other = threading.Thread(target=lambda: (caller.complete(REQUEST), other_done.set()))
    other.start()
    time.sleep(0.05)
    assert not other_done.is_set()
    assert len(provider.history) == 1
    fake_clock.advance(30.0)
    assert other_done.wait(5)
    first.join(5)
    assert len(provider.history) == 3


def test_fallback_after_retries_run_out_and_recovery(fake_clock: FakeClock) -> None:
    primary, backup = Primary(), Backup()
    primary.enqueue(*[ServerError("503")] * 4)
    caller, _ = caller_for(primary, backup, clock=fake_clock, max_retries=3)
    assert caller.complete(REQUEST).provider == "backup"
    assert len(primary.history) == 4  # one call and its three retries
    # A call that ran out of retries puts the primary to rest: the next goes straight on.
    assert caller.complete(REQUEST).provider == "backup"
    assert len(primary.history) == 4
    # After its cooldown the primary is used again.
    fake_clock.advance(retry.COOLDOWN_SECONDS)
    assert caller.complete(REQUEST).provider == "primary"


def test_scattered_faults_do_not_send_work_elsewhere(fake_clock: FakeClock) -> None:
    primary, backup = Primary(), Backup()
    # 30% of calls fail, spread out: the primary stays in charge.
    for _ in range(10):
        primary.enqueue(ServerError("503"), "one two three.", "one two three.")
    caller, _ = caller_for(primary, backup, clock=fake_clock)
    providers = {caller.complete(REQUEST).provider for _ in range(20)}
    assert providers == {"primary"}
    assert backup.history == []


def test_a_failure_rate_puts_the_provider_to_rest(fake_clock: FakeClock) -> None:
    primary, backup = Primary(), Backup()
    primary.enqueue(*[ServerError("503", retry_after=5.0)] * 8)
    caller, _ = caller_for(primary, backup, clock=fake_clock, max_retries=20)
    assert caller.complete(REQUEST).provider == "backup"
    assert len(primary.history) == retry.FAILURES_TO_COOL
    # The rest lasts what the server asked for when it said.
    fake_clock.advance(5.0)
    assert caller.complete(REQUEST).provider == "primary"


def test_every_provider_failing_raises_the_last_error(fake_clock: FakeClock) -> None:
    primary, backup = Primary(), Backup()
    primary.enqueue(*[ServerError("primary down")] * 10)
    backup.enqueue(*[ServerError("backup down")] * 10)
    caller, _ = caller_for(primary, backup, clock=fake_clock, max_retries=1)
    with pytest.raises(ServerError, match="backup down"):
        caller.complete(REQUEST)


def test_interrupt_cuts_a_retry_wait_short() -> None:
    provider = Primary()
    provider.enqueue(ServerError("503", retry_after=60.0))
    caller = ProviderCaller([provider], [NoLimit()])
    threading.Timer(0.05, caller.interrupt).start()
    with pytest.raises(JobCancelled):
        caller.complete(REQUEST)


def test_completion_passes_through(fake_clock: FakeClock) -> None:
    provider = Primary()
    provider.enqueue(Completion(text="done.", finish_reason="length"))
    caller, _ = caller_for(provider, clock=fake_clock)
    assert caller.complete(REQUEST).finish_reason == "length"
