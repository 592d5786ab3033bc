"""Chapter jobs in worker processes (``--executor process``).

For CPU-bound providers (a model running in-process) threads share one GIL, so the
coordinator can hand chapter jobs to a ``ProcessPoolExecutor`` instead. Everything a
job shares with the rest of the run stays in the coordinator's process and is served
to the workers over a local socket by a ``multiprocessing`` manager running in a
thread there:

- the rate limiters, so ``--rate-limit-*`` and the 429 pause hold across all workers;
- the book store, so the manifest has one writer and the journal stays ordered;
- the event sink, the call listener (adaptive concurrency) and the cancel flag.

Each worker builds its own providers once, from their names and options. Workers
ignore SIGINT: Ctrl-C reaches the whole process group, and it is the coordinator
that decides what an interruption means.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.managers import BaseManager, BaseProxy
from typing import Any

from bookgen.analyzers.readability import load_in_background
from bookgen.bible import StoryBible
from bookgen.cost import Budget, Pricing
from bookgen.events import Event
from bookgen.models import BookSpec, ChapterResult, ChapterSpec, ChapterState, Usage
from bookgen.pipeline import ChapterJob, RunContext
from bookgen.prompts import PromptBuilder
from bookgen.providers.base import create_provider
from bookgen.providers.retry import ProviderCaller
from bookgen.ratelimit import Permit, RateLimiter


@dataclass(frozen=True)
class WorkerPlan:
    """What a worker process needs to build its side of the run (picklable)."""

    address: str
    authkey: bytes
    book_json: str
    book_name: str
    providers: list[tuple[str, str | None, list[str]]]  # (name, model, -O options)
    max_retries: int
    max_iterations: int
    pricing: Pricing
    has_budget: bool
    tier: str = "ultra"
    bible_json: str | None = None
    quality_threshold: float = 0.75
    known_names: frozenset[str] = frozenset()
    workers: int = 1  # chapter jobs at once, across all worker processes
    context_tokens: int | None = None


# --- proxies: what a worker holds instead of the coordinator's objects -------------


class LimiterProxy(BaseProxy, RateLimiter):
    _exposed_ = ("acquire", "settle", "pause", "interrupt", "check")

    def acquire(self, tokens: int = 0) -> Permit:
        permit: Permit = _call(self, "acquire", (tokens,))
        return permit

    def settle(self, permit: Permit, tokens: int) -> None:
        _call(self, "settle", (permit, tokens))

    def pause(self, seconds: float) -> None:
        _call(self, "pause", (seconds,))

    def interrupt(self) -> None:
        _call(self, "interrupt")

    def check(self, tokens: int) -> None:
        _call(self, "check", (tokens,))


class StoreProxy(BaseProxy):
    _exposed_ = (
        "state",
        "update_chapter",
        "add_usage",
        "save",
        "write_chapter",
        "write_draft",
        "read_text",
        "other_chapters",
    )

    def state(self, number: int) -> ChapterState:
        state: ChapterState = _call(self, "state", (number,))
        return state

    def update_chapter(self, number: int, **changes: Any) -> ChapterState:
        state: ChapterState = _call(self, "update_chapter", (number,), changes)
        return state

    def add_usage(
        self, number: int, usage: Usage, *, provider: str, cost: float | None, save: bool = True
    ) -> None:
        kwds = {"provider": provider, "cost": cost, "save": save}
        _call(self, "add_usage", (number, usage), kwds)

    def save(self) -> None:
        _call(self, "save")

    def write_draft(self, number: int, iteration: int, text: str) -> str:
        relpath: str = _call(self, "write_draft", (number, iteration, text))
        return relpath

    def read_text(self, relpath: str) -> str | None:
        text: str | None = _call(self, "read_text", (relpath,))
        return text

    def other_chapters(self, number: int) -> dict[int, str]:
        texts: dict[int, str] = _call(self, "other_chapters", (number,))
        return texts

    def write_chapter(self, chapter: ChapterSpec, text: str) -> tuple[str, str]:
        written: tuple[str, str] = _call(self, "write_chapter", (chapter, text))
        return written


class SinkProxy(BaseProxy):
    _exposed_ = ("__call__",)

    def __call__(self, event: Event) -> None:
        _call(self, "__call__", (event,))


class ListenerProxy(BaseProxy):
    _exposed_ = ("retrying", "succeeded", "rate_limited", "resting", "falling_back")

    def retrying(self, provider: str, error: Exception, seconds: float) -> None:
        _call(self, "retrying", (provider, error, seconds))

    def succeeded(self, provider: str, started: float) -> None:
        _call(self, "succeeded", (provider, started))

    def rate_limited(self, provider: str, started: float) -> None:
        _call(self, "rate_limited", (provider, started))

    def resting(self, provider: str, seconds: float, error: str) -> None:
        _call(self, "resting", (provider, seconds, error))

    def falling_back(self, provider: str, fallback: str, error: str) -> None:
        _call(self, "falling_back", (provider, fallback, error))


class BudgetProxy(BaseProxy):
    _exposed_ = ("reserve", "settle")

    def reserve(self, worst_case: float) -> int:
        ticket: int = _call(self, "reserve", (worst_case,))
        return ticket

    def settle(self, ticket: int, cost: float) -> None:
        _call(self, "settle", (ticket, cost))


class FlagProxy(BaseProxy):
    _exposed_ = ("is_set", "set", "wait")

    def is_set(self) -> bool:
        value: bool = _call(self, "is_set")
        return value

    def set(self) -> None:
        _call(self, "set")

    def wait(self, timeout: float | None = None) -> bool:
        value: bool = _call(self, "wait", (timeout,))
        return value


def _call(
    proxy: BaseProxy, method: str, args: tuple[Any, ...] = (), kwds: dict[str, Any] | None = None
) -> Any:
    """BaseProxy._callmethod, typed: it returns the remote method's result."""
    caller: Any = BaseProxy._callmethod
    return caller(proxy, method, args, kwds or {})


PROXIES: dict[str, type[BaseProxy]] = {
    "limiter": LimiterProxy,
    "store": StoreProxy,
    "events": SinkProxy,
    "listener": ListenerProxy,
    "cancel": FlagProxy,
    "budget": BudgetProxy,
}


class _WorkerManager(BaseManager):
    """The worker's side: typeids only; the objects live in the coordinator."""


for _typeid, _proxy in PROXIES.items():
    _WorkerManager.register(_typeid, proxytype=_proxy, create_method=True)


# --- the coordinator's side --------------------------------------------------------


@dataclass
class SharedRun:
    """Serves one run's shared objects to its worker processes, from a thread."""

    limiters: list[RateLimiter]
    store: Any
    events: Any
    listener: Any
    cancel: threading.Event
    budget: Budget | None = None
    folder: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="bookgen-run-"))
    authkey: bytes = field(default_factory=lambda: os.urandom(32))

    def __post_init__(self) -> None:
        objects: dict[str, Any] = {
            "store": self.store,
            "events": self.events,
            "listener": self.listener,
            "cancel": self.cancel,
            "budget": self.budget,
        }

        # A class per run: registrations are class-level and must not leak between runs.
        class RunManager(BaseManager):
            pass

        manager_class = RunManager
        manager_class.register(
            "limiter", callable=self.limiters.__getitem__, proxytype=LimiterProxy
        )
        for typeid, value in objects.items():
            manager_class.register(typeid, callable=_constant(value), proxytype=PROXIES[typeid])
        self.address = os.path.join(self.folder, "run.sock")
        manager = manager_class(address=self.address, authkey=self.authkey)
        server: Any = manager.get_server()
        # Server.serve_forever is made for a process of its own (it resets sys.stdout
        # and calls sys.exit), so this run serves connections from its own small loop.
        server.stop_event = threading.Event()
        self._server = server
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="bookgen-run-server", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection = self._server.listener.accept()
            except Exception:  # noqa: BLE001 - a failed handshake, or the listener closed
                continue
            threading.Thread(
                target=self._server.handle_request, args=(connection,), daemon=True
            ).start()

    def plan(
        self,
        book: BookSpec,
        book_name: str,
        providers: list[tuple[str, str | None, list[str]]],
        *,
        max_retries: int,
        max_iterations: int,
        pricing: Pricing,
        tier: str = "ultra",
        bible_json: str | None = None,
        quality_threshold: float = 0.75,
        known_names: frozenset[str] = frozenset(),
        workers: int = 1,
        context_tokens: int | None = None,
    ) -> WorkerPlan:
        return WorkerPlan(
            address=self.address,
            authkey=self.authkey,
            book_json=book.model_dump_json(),
            book_name=book_name,
            providers=providers,
            max_retries=max_retries,
            max_iterations=max_iterations,
            pricing=pricing,
            has_budget=self.budget is not None,
            tier=tier,
            bible_json=bible_json,
            quality_threshold=quality_threshold,
            known_names=known_names,
            workers=workers,
            context_tokens=context_tokens,
        )

    def close(self) -> None:
        self._closed.set()
        self._server.stop_event.set()
        # Closing the listener also runs its own clean-up (it unlinks the socket).
        self._server.listener.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _constant(value: Any) -> Any:
    return lambda: value


def process_pool(workers: int, plan: WorkerPlan) -> ProcessPoolExecutor:
    # spawn, not fork: the coordinator has threads (the event loop's helpers, the
    # manager server), and forking a process with threads can copy held locks.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(plan,)
    )


# --- the worker's side ----------------------------------------------------------------

# The run context of this worker process: built once by the pool's initializer, used
# by every chapter the process runs. A worker serves exactly one run.
_CONTEXT: RunContext | None = None


def _start_worker(plan: WorkerPlan) -> None:
    global _CONTEXT
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The analyzers' dictionaries load while this worker's first call is in flight.
    load_in_background()
    manager = _WorkerManager(address=plan.address, authkey=plan.authkey)
    manager.connect()
    book = BookSpec.model_validate_json(plan.book_json)
    providers = [
        create_provider(name, model=model, options=options)
        for name, model, options in plan.providers
    ]
    for provider in providers:
        provider.plan_workers(plan.workers)
    cancel: Any = manager.cancel()  # type: ignore[attr-defined]
    caller = ProviderCaller(
        providers,
        [manager.limiter(index) for index in range(len(providers))],  # type: ignore[attr-defined]
        max_retries=plan.max_retries,
        cancel=cancel,
        listener=manager.listener(),  # type: ignore[attr-defined]
        pricing=plan.pricing,
        budget=manager.budget() if plan.has_budget else None,  # type: ignore[attr-defined]
    )
    _CONTEXT = RunContext(
        book=book,
        book_name=plan.book_name,
        store=manager.store(),  # type: ignore[attr-defined]
        caller=caller,
        prompts=PromptBuilder(
            book,
            tier=plan.tier,  # type: ignore[arg-type]
            bible=StoryBible.model_validate_json(plan.bible_json) if plan.bible_json else None,
            context_tokens=plan.context_tokens,
        ),
        events=manager.events(),  # type: ignore[attr-defined]
        max_iterations=plan.max_iterations,
        cancel=cancel,
        quality_threshold=plan.quality_threshold,
        known_names=plan.known_names,
    )


def run_chapter(number: int) -> ChapterResult:
    """A chapter job, in a worker process."""
    assert _CONTEXT is not None, "worker started without its run context"
    return ChapterJob(_CONTEXT, _CONTEXT.book.chapter(number)).run()
