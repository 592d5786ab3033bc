"""Shared fixtures: a scripted fake provider, a fake clock, outlines in a temp folder."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pytest

from bookgen.models import Completion, CompletionRequest, Usage
from bookgen.providers.base import Provider
from bookgen.providers.sim import requested_words, sim_bible, write_prose
from bookgen.tokens import estimate_tokens

SAMPLE_MD = """\
# The Test Book
Genre: fantasy
Target words: 300

## Chapter 1: Arrival
Mara arrives at the harbour.
- She finds a key.

## Chapter 2: The Mill
Tobias shows her the mill.

## Chapter 3: The Storm
A storm traps them in the mill.

## Chapter 4: Departure
They leave together.
"""

Answer = str | Completion | BaseException | Callable[[CompletionRequest], Completion]


class ScriptedProvider(Provider):
    """A fake provider: answers queued with ``enqueue()``, else prose of the asked length.

    Every request is kept in ``history``. Thread-safe.
    """

    name = "scripted"
    description = "scripted answers for tests"
    default_model = "scripted-1"

    def __init__(self) -> None:
        super().__init__()
        self.queue: deque[Answer] = deque()
        self.history: list[CompletionRequest] = []
        self.planning: list[CompletionRequest] = []
        self.lock = threading.Lock()

    def enqueue(self, *answers: Answer) -> None:
        self.queue.extend(answers)

    def complete(self, request: CompletionRequest) -> Completion:
        if request.metadata.get("step") == "bible":
            # Planning calls get a bible built from the outline and stay out of the
            # script and the history, which are about chapters.
            with self.lock:
                self.planning.append(request)
            return self._completion(sim_bible(request.prompt_text))
        with self.lock:
            self.history.append(request)
            answer = self.queue.popleft() if self.queue else None
        if answer is None:
            text = write_prose(requested_words(request), str(len(self.history)), request)
            return self._completion(text)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Completion):
            return answer
        if callable(answer):
            return answer(request)
        return self._completion(answer)

    def _completion(self, text: str) -> Completion:
        return Completion(
            text=text,
            usage=Usage(prompt_tokens=10, completion_tokens=estimate_tokens(text)),
            provider=self.name,
            model=self.model,
        )


class FakeClock:
    """A clock for the limiter whose time moves only when the test says so."""

    def __init__(self) -> None:
        self.time = 0.0
        self.conditions: set[threading.Condition] = set()
        self.lock = threading.Lock()

    def now(self) -> float:
        return self.time

    def wait(self, condition: threading.Condition, timeout: float) -> None:
        with self.lock:
            self.conditions.add(condition)
        condition.wait()

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.time += seconds
            conditions = list(self.conditions)
        for condition in conditions:
            with condition:
                condition.notify_all()


@pytest.fixture
def scripted() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
def outline(tmp_path: Path) -> Path:
    path = tmp_path / "book.md"
    path.write_text(SAMPLE_MD, encoding="utf-8")
    return path


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _no_raise_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOOKGEN_RAISE_ERRORS", raising=False)


FAKE_KEY = "sk-bookgen-test-KEY-7f3a9c2e1d5b"
# The sim provider with no waiting: what most book-level tests run (the default
# provider is the embedded local model, which the local-model tests exercise).
FAST = ["--provider", "sim", "-O", "latency=0", "-O", "jitter=0"]


@pytest.fixture
def llm():  # type: ignore[no-untyped-def]
    """A loopback server speaking the OpenAI and Anthropic protocols, expecting FAKE_KEY."""
    from tests.fakellm import FakeLLMServer

    with FakeLLMServer(api_key=FAKE_KEY) as server:
        yield server


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff waits of zero, for tests that are not about timing."""
    from bookgen.providers import retry

    monkeypatch.setattr(retry, "BACKOFF_BASE", 0.0)


@pytest.fixture
def provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys and base URLs from the environment only as each test sets them."""
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "BOOKGEN_DEBUG_HTTP",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_provider():  # type: ignore[no-untyped-def]
    """create_provider, with every provider it made closed at the end of the test."""
    from bookgen.providers.base import create_provider

    made: list[Provider] = []

    def make(name: str, **kwargs):  # type: ignore[no-untyped-def]
        provider = create_provider(name, **kwargs)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()
