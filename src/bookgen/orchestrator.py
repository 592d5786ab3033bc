"""The asyncio coordinator: admission, scheduling, the executor, cancellation, results.

The coordinator admits chapter jobs in schedule order, at most ``max_concurrent``
at a time (a semaphore), and runs each job in a ThreadPoolExecutor. Jobs make
their provider calls synchronously in their worker thread, each call gated by
the run's rate limiter. The event loop thread only schedules and collects.
"""

from __future__ import annotations

import asyncio
import math
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Literal

from bookgen.analyzers.readability import load_in_background
from bookgen.bible import StoryBible, load_bible, outline_bible, parse_bible, save_bible
from bookgen.concurrency import Admission
from bookgen.cost import Budget, BudgetExhausted, Pricing, find_price
from bookgen.dryrun import DryRun, plan_run
from bookgen.errors import (
    BookgenError,
    FatalProviderError,
    OptionError,
    ProviderError,
    TransientProviderError,
)
from bookgen.events import Event, EventSink, SafeSink, discard
from bookgen.export import FORMATS
from bookgen.export import export as export_book
from bookgen.models import (
    MAX_TARGET_WORDS,
    BookSpec,
    ChapterResult,
    CompletionRequest,
    Manifest,
    Message,
    RunSummary,
)
from bookgen.outline import load_outline
from bookgen.pipeline import ChapterJob, RunContext
from bookgen.prompts import TIERS, PromptBuilder, Tier
from bookgen.providers.base import Provider, available_providers, create_provider, plan_only
from bookgen.providers.retry import DEFAULT_MAX_RETRIES, ProviderCaller
from bookgen.ratelimit import NoLimit, RateLimiter, make_limiter
from bookgen.schedule import SCHEDULES, Schedule, order
from bookgen.status import book_cost, known_cost
from bookgen.store import BookStore, slugify
from bookgen.tokens import max_tokens_for, reserved_tokens
from bookgen.workers import SharedRun, process_pool, run_chapter

# How long an interrupted run waits for jobs in flight to notice before leaving them.
INTERRUPT_GRACE_SECONDS = 5.0
BIBLE_MAX_TOKENS = 4000
BIBLE_RETRY = (
    "That could not be read as the JSON object asked for. Reply again with only the JSON "
    "object: no prose, no code fences, no comments."
)


def check_range(
    option: str,
    value: float | None,
    *,
    minimum: float,
    strict: bool = False,
    maximum: float | None = None,
) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        raise OptionError(f"{option} must be a finite number, got {value}")
    if maximum is not None and value > maximum:
        raise OptionError(f"{option} must be at most {maximum:,}, got {value:,}")
    bad = value <= minimum if strict else value < minimum
    if bad:
        bound = f"greater than {minimum:g}" if strict else f"at least {minimum:g}"
        raise OptionError(f"{option} must be {bound}, got {value:g}")


class AsyncBookOrchestrator:
    """Generates the chapters of one book in parallel, into a crash-safe book folder.

    >>> orchestrator = AsyncBookOrchestrator(
    ...     source_file="outlines/deep-signal.md", provider="sim", max_concurrent=5
    ... )                                                          # doctest: +SKIP
    >>> results = asyncio.run(orchestrator.generate_chapters_parallel([1, 2, 3]))  # doctest: +SKIP
    >>> [r.status for r in results]                                # doctest: +SKIP
    ['completed', 'completed', 'completed']

    Everything is validated in the constructor: a bad outline or option raises an
    InputError before any file is written or any call is made.
    """

    def __init__(
        self,
        source_file: str | Path,
        book_name: str | None = None,
        genre: str | None = None,
        provider: str | Provider = "sim",
        max_concurrent: int = 3,
        rate_limit_calls: int | None = None,
        rate_limit_period: float = 60.0,
        *,
        rate_limit_tokens: int | None = None,
        schedule: Schedule = "priority",
        adaptive: bool = False,
        executor: Literal["thread", "process"] = "thread",
        export: bool = True,
        tier: Tier = "ultra",
        quality_threshold: float = 0.75,
        bible: bool = True,
        max_cost: float | None = None,
        price_input: float | None = None,
        price_output: float | None = None,
        output_dir: str | Path = "books",
        model: str | None = None,
        provider_options: list[str] | None = None,
        fallbacks: list[str] | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_iterations: int = 3,
        target_words: int | None = None,
        force: bool = False,
        events: EventSink = discard,
        limiter: RateLimiter | None = None,
        planning_only: bool = False,
    ) -> None:
        check_range("--max-concurrent", max_concurrent, minimum=1)
        check_range("--rate-limit-calls", rate_limit_calls, minimum=1)
        check_range("--rate-limit-period", rate_limit_period, minimum=0, strict=True)
        check_range("--rate-limit-tokens", rate_limit_tokens, minimum=1)
        if schedule not in SCHEDULES:
            raise OptionError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        check_range("--max-iterations", max_iterations, minimum=1)
        check_range("--target-words", target_words, minimum=1, maximum=MAX_TARGET_WORDS)
        check_range("--max-retries", max_retries, minimum=0)
        self.source_file = Path(source_file)
        self.book: BookSpec = load_outline(self.source_file, target_words=target_words, genre=genre)
        self.store = BookStore(
            output_dir,
            book_name
            if book_name is not None
            else slugify(self.book.title, fallback=slugify(self.source_file.stem)),
        )
        self.store.check_paths()
        if executor not in ("thread", "process"):
            raise OptionError(f"--executor must be thread or process, got {executor!r}")
        self.planning_only = planning_only
        # For a dry run (planning_only) a missing API key is fine: nothing is called.
        with plan_only() if planning_only else nullcontext():
            if isinstance(provider, Provider):
                if executor == "process":
                    raise OptionError(
                        "--executor process needs the provider by name, not an instance"
                    )
                self.provider = provider
            else:
                self.provider = create_provider(provider, model=model, options=provider_options)
            # How each provider of the chain is built, (name, model, -O options): worker
            # processes build the same ones from this.
            self.provider_specs = [(self.provider.name, model, list(provider_options or []))]
            self.provider_specs += [
                fallback_spec(spec, self.provider_specs[0]) for spec in fallbacks or []
            ]
            self.fallbacks = [
                create_provider(name, model=fallback_model, options=options)
                for name, fallback_model, options in self.provider_specs[1:]
            ]
        for fallback in self.fallbacks:
            if fallback.simulated and not self.provider.simulated:
                raise OptionError(
                    f"--fallback {fallback.name} would fill a real book with simulated text; "
                    "name a real provider"
                )
        self.executor_kind = executor
        self.export = export
        check_range("--max-cost", max_cost, minimum=0, strict=True)
        check_range("--price-input", price_input, minimum=0)
        check_range("--price-output", price_output, minimum=0)
        self.pricing = Pricing(
            {
                f"{p.name}:{p.model}": find_price(
                    p.name,
                    p.model,
                    free=p.simulated or not p.key_env,
                    price_input=price_input if p is self.provider else None,
                    price_output=price_output if p is self.provider else None,
                )
                for p in [self.provider, *self.fallbacks]
            },
            free=frozenset(
                p.name for p in [self.provider, *self.fallbacks] if p.simulated or not p.key_env
            ),
        )
        unknown = [name for name, price in self.pricing.prices.items() if price is None]
        if max_cost is not None and unknown:
            raise OptionError(
                f"--max-cost needs prices, and none is known for {', '.join(unknown)}: "
                "pass --price-input and --price-output"
            )
        self.max_cost = max_cost
        self.budget: Budget | None = None
        self.max_retries = max_retries
        self.max_concurrent = max_concurrent
        self.max_iterations = max_iterations
        self.force = force
        self.events = SafeSink(events)
        self.limiter = limiter or make_limiter(
            rate_limit_calls, rate_limit_period, tokens=rate_limit_tokens
        )
        self.schedule: Schedule = schedule
        self.adaptive = adaptive
        if tier not in TIERS:
            raise OptionError(f"--tier must be one of {', '.join(TIERS)}, got {tier!r}")
        check_range("--quality-threshold", quality_threshold, minimum=0, maximum=1)
        self.tier: Tier = tier
        self.quality_threshold = quality_threshold
        self.use_bible = bible
        self.bible: StoryBible | None = None
        self.prompts = PromptBuilder(self.book, tier=tier)
        self.context_tokens: int | None = None
        self.fatal: BookgenError | None = None
        self.requested: list[int] = []
        self.results: list[ChapterResult] = []
        self.summary: RunSummary | None = None
        self.interrupted = False

    def resolve_chapters(self, chapter_numbers: list[int] | None) -> list[int]:
        """The chapters to run, in outline order; numbers not in the outline are an error."""
        if not chapter_numbers:
            return self.book.numbers
        known = set(self.book.numbers)
        missing = [number for number in chapter_numbers if number not in known]
        if missing:
            listed = ", ".join(str(number) for number in missing)
            raise OptionError(
                f"--chapters: {listed} not in the outline (it has chapters "
                f"{_ranges(self.book.numbers)})",
                where=self.source_file,
            )
        wanted = set(chapter_numbers)
        return [number for number in self.book.numbers if number in wanted]

    def _refuse_simulated_text_in_a_real_book(self, manifest: Manifest) -> None:
        """A book a model has written chapters of is not finished with simulated text."""
        simulated = {name for name, cls in available_providers().items() if cls.simulated}
        real = sorted(
            {
                f"{s.provider}:{s.model}"
                for s in manifest.chapters
                if s.status == "completed" and s.provider and s.provider not in simulated
            }
        )
        if real:
            raise OptionError(
                f"book {self.store.name!r} was written by {', '.join(real)}; --provider "
                f"{self.provider.name} would fill it with simulated text: choose a real "
                "provider, or another --book-name"
            )

    def _context_tokens(self) -> int | None:
        """The smallest context window of the provider chain, if any has a small one."""
        windows = [p.context_window() for p in [self.provider, *self.fallbacks]]
        return min((w for w in windows if w is not None), default=None)

    def _plan_bible(self) -> StoryBible:
        """The story bible: bible.json as it is (the user may have edited it), else
        planned with the model (one retry), else built from the outline."""
        existing = load_bible(self.store)
        if existing is not None:
            return existing
        caller = ProviderCaller(
            [self.provider, *self.fallbacks],
            [self.limiter, *(NoLimit() for _ in self.fallbacks)],
            max_retries=self.max_retries,
            pricing=self.pricing,
            budget=self.budget,
        )
        messages = self.prompts.bible_request()
        request = CompletionRequest(
            messages=messages,
            max_tokens=BIBLE_MAX_TOKENS,
            metadata={"book": self.store.name, "step": "bible"},
        )
        bible = None
        attempts = 2
        price = self.pricing.of(f"{self.provider.name}:{self.provider.model}")
        if self.budget is not None and price is not None:
            worst = price.worst_case(reserved_tokens(request) - BIBLE_MAX_TOKENS, BIBLE_MAX_TOKENS)
            if self.budget.spent + worst > self.budget.limit:
                attempts = 0  # the budget cannot afford planning: the outline has to do
        for attempt in range(attempts):
            try:
                completion = caller.complete(request)
            except FatalProviderError:
                raise
            except (ProviderError, BudgetExhausted) as exc:
                # A refused or failed planning call costs the book its bible, not its run.
                self.events(Event("notice", data={"message": f"story bible call failed: {exc}"}))
                break
            author = f"{completion.provider}:{completion.model}"
            self.store.add_planning(completion.usage, self.pricing.cost(author, completion.usage))
            bible = parse_bible(completion.text, self.book)
            if bible is not None:
                break
            if attempt == 0:
                retry = [
                    *messages,
                    Message(role="assistant", content=completion.text),
                    Message(role="user", content=BIBLE_RETRY),
                ]
                request = request.model_copy(update={"messages": retry})
        if bible is None:
            bible = outline_bible(self.book)
            message = "the model's story bible could not be used; using one built from the outline"
            self.events(Event("notice", data={"message": message}))
        save_bible(self.store, bible, self.book.title)
        return bible

    def check_requests(self, numbers: list[int]) -> None:
        """Refuse, before any call, a chapter whose first request could never pass the
        token limit."""
        for number in numbers:
            chapter = self.book.chapter(number)
            request = CompletionRequest(
                messages=self.prompts.chapter(chapter),
                max_tokens=max_tokens_for(self.book.target_for(chapter)),
            )
            try:
                self.limiter.check(reserved_tokens(request))
            except OptionError as exc:
                raise OptionError(f"chapter {number}: {exc.message}") from exc

    def known_names(self) -> frozenset[str]:
        names = outline_bible(self.book).names()
        return names | self.bible.names() if self.bible is not None else names

    def dry_run(self, chapter_numbers: list[int] | None = None) -> DryRun:
        """What ``generate_chapters_parallel`` would do and cost; no call, no write."""
        numbers = self.resolve_chapters(chapter_numbers)
        self.check_requests(numbers)
        return plan_run(
            self.book,
            self.store,
            numbers,
            force=self.force,
            max_iterations=self.max_iterations,
            price=self.pricing.of(f"{self.provider.name}:{self.provider.model}"),
        )

    async def generate_chapters_parallel(
        self, chapter_numbers: list[int] | None = None
    ) -> list[ChapterResult]:
        """Generate the chapters asked for (all by default) and return one result each,
        in outline order. Completed chapters are skipped unless ``force``."""
        if self.planning_only:
            raise OptionError("this orchestrator was built for a dry run; it makes no calls")
        numbers = self.resolve_chapters(chapter_numbers)
        self.requested = numbers
        self.check_requests(numbers)
        started = time.monotonic()
        with self.store.locked():
            if self.provider.simulated and self.store.exists():
                # Checked before prepare() writes anything.
                self._refuse_simulated_text_in_a_real_book(self.store.load())
            manifest = self.store.prepare(self.book, source=self.source_file)
            spent_before = book_cost(manifest)
            plan = self.store.plan(self.book, numbers, force=self.force)
            if self.max_cost is not None:
                # The budget is the book's: what earlier runs spent counts.
                self.budget = Budget(self.max_cost, spent=known_cost(manifest))
            self.events(
                Event(
                    "run_started",
                    data={
                        "book": self.store.name,
                        "title": self.book.title,
                        "folder": str(self.store.root),
                        "chapters": len(numbers),
                        "to_run": len(plan.to_run),
                        "skipped": len(plan.skipped),
                        "provider": self.provider.name,
                        "model": self.provider.model,
                        "fallbacks": [f"{p.name}:{p.model}" for p in self.fallbacks],
                        "simulated": self.provider.simulated,
                        "max_concurrent": self.max_concurrent,
                        "adaptive": self.adaptive,
                        "schedule": self.schedule,
                    },
                )
            )
            if self.store.book_changed and plan.skipped:
                message = (
                    "the book's title, genre, audience, style or author changed since the "
                    "completed chapters were written; they are kept (use --force to rewrite them)"
                )
                self.events(Event("notice", data={"message": message}))
            for number, reason in plan.reasons.items():
                self.events(Event("notice", number, data={"message": f"regenerating: {reason}"}))
            by_number: dict[int, ChapterResult] = {}
            for number in plan.skipped:
                state = self.store.manifest.state(number)
                by_number[number] = ChapterResult(
                    number=number,
                    title=state.title,
                    status="skipped",
                    words=state.words,
                    file=state.file,
                )
                self.events(Event("chapter_skipped", number, state.title, {"words": state.words}))
            try:
                if plan.to_run:
                    if self.executor_kind == "thread":
                        # The analyzers' dictionaries load while the access check, the
                        # planning call and the first chapters' calls are in flight
                        # (worker processes load their own: workers._start_worker).
                        load_in_background()
                    # A refused key stops the run here, before any chapter starts.
                    for provider in [self.provider, *self.fallbacks]:
                        provider.plan_workers(self.max_concurrent)
                        await asyncio.to_thread(provider.check_access)
                    self.context_tokens = self._context_tokens()
                    self.prompts = PromptBuilder(
                        self.book, tier=self.tier, context_tokens=self.context_tokens
                    )
                    if self.use_bible:
                        self.bible = await asyncio.to_thread(self._plan_bible)
                        self.prompts = PromptBuilder(
                            self.book,
                            tier=self.tier,
                            bible=self.bible,
                            context_tokens=self.context_tokens,
                        )
                to_run = order(self.book, plan.to_run, self.schedule)
                by_number.update(await self._run_jobs(to_run))
            finally:
                self.results = [by_number[n] for n in numbers if n in by_number]
                self.summary = RunSummary.of(self.results, time.monotonic() - started)
                for provider in [self.provider, *self.fallbacks]:
                    provider.close()
                self.store.close()
            if self.fatal is not None:
                raise self.fatal
            spent_after = book_cost(self.store.manifest)
            costs = {
                # None when a price is unknown: unknown is never shown as $0.
                "run_cost_usd": None
                if spent_after is None or spent_before is None
                else round(spent_after - spent_before, 6),
                "book_cost_usd": spent_after,
            }
            self.events(Event("run_finished", data={**self.summary.model_dump(), **costs}))
            if self.export and all(s.status == "completed" for s in self.store.manifest.chapters):
                self._export()
        return self.results

    def _export(self) -> None:
        """The run completed the book: write manuscript.md and the EPUB."""
        try:
            files = export_book(self.store, list(FORMATS))
        except Exception as exc:  # noqa: BLE001 - the chapters are safe; export can be rerun
            message = (
                f"export failed ({exc}); run `bookgen export --book-name {self.store.name} "
                f"--output-dir {self.store.output_dir}`"
            )
            self.events(Event("notice", data={"message": message}))
            return
        self.events(Event("book_exported", data={"files": [str(path) for path in files]}))

    async def _run_jobs(self, to_run: list[int]) -> dict[int, ChapterResult]:
        admission = Admission(
            self.max_concurrent, adaptive=self.adaptive, on_change=self._limit_changed
        )
        cancel = threading.Event()
        caller = ProviderCaller(
            [self.provider, *self.fallbacks],
            # The configured limit is the primary's; a fallback only gets its own 429 pause.
            [self.limiter, *(NoLimit() for _ in self.fallbacks)],
            max_retries=self.max_retries,
            cancel=cancel,
            listener=_Listener(self.events, admission),
            pricing=self.pricing,
            budget=self.budget,
        )
        context = RunContext(
            book=self.book,
            book_name=self.store.name,
            store=self.store,
            caller=caller,
            prompts=self.prompts,
            events=self.events,
            max_iterations=self.max_iterations,
            cancel=cancel,
            quality_threshold=self.quality_threshold,
            known_names=self.known_names(),
        )
        loop = asyncio.get_running_loop()
        results: dict[int, ChapterResult] = {}
        running: set[asyncio.Task[ChapterResult]] = set()
        shared: SharedRun | None = None
        executor: Executor
        if self.executor_kind == "process":
            shared = SharedRun(
                limiters=[route.limiter for route in caller.routes],
                store=self.store,
                events=self.events,
                listener=caller.listener,
                cancel=cancel,
                budget=self.budget,
            )
            plan = shared.plan(
                self.book,
                self.store.name,
                self.provider_specs,
                max_retries=self.max_retries,
                max_iterations=self.max_iterations,
                pricing=self.pricing,
                tier=self.tier,
                bible_json=self.bible.model_dump_json() if self.bible else None,
                quality_threshold=self.quality_threshold,
                known_names=self.known_names(),
                workers=self.max_concurrent,
                context_tokens=self.context_tokens,
            )
            executor = process_pool(self.max_concurrent, plan)
        else:
            executor = ThreadPoolExecutor(self.max_concurrent, thread_name_prefix="bookgen-chapter")

        async def run_one(job: ChapterJob) -> ChapterResult:
            try:
                if shared is not None:
                    return await loop.run_in_executor(executor, run_chapter, job.chapter.number)
                return await loop.run_in_executor(executor, job.run)
            except FatalProviderError as exc:
                # Every other call would be refused too: stop admitting, stop the rest.
                if self.fatal is None:
                    self.fatal = exc
                    caller.interrupt()
                return job.crashed(exc, status="interrupted")
            except Exception as exc:  # noqa: BLE001 - e.g. the manifest could not be written
                result = job.crashed(exc)
                self.events(
                    Event("chapter_failed", result.number, result.title, job.event_data(result))
                )
                return result
            finally:
                admission.release()

        terminate = _on_sigterm(loop)
        try:
            # Admit in schedule order; a chapter waits here, not in the executor's
            # queue, so an interruption has nothing queued to cancel but this loop.
            for number in to_run:
                await admission.acquire()
                if self.fatal is not None or (self.budget is not None and self.budget.exhausted):
                    admission.release()
                    break
                task = asyncio.create_task(run_one(ChapterJob(context, self.book.chapter(number))))
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(partial(_collect, results))
            if running:
                await asyncio.wait(set(running))
        except asyncio.CancelledError:
            self.interrupted = True
            await self._stop(context, running)
            raise
        finally:
            terminate()
            executor.shutdown(wait=not self.interrupted, cancel_futures=True)
            if shared is not None:
                shared.close()
        return results

    def _limit_changed(self, limit: int, reason: str) -> None:
        self.events(
            Event(
                "concurrency", data={"limit": limit, "max": self.max_concurrent, "reason": reason}
            )
        )

    async def _stop(
        self,
        context: RunContext,
        running: set[asyncio.Task[ChapterResult]],
    ) -> None:
        """Interrupted: stop admitting, tell jobs in flight to give up, and leave every
        chapter that did not finish as ``pending`` in the manifest."""
        context.caller.interrupt()
        if running:
            await asyncio.wait(set(running), timeout=INTERRUPT_GRACE_SECONDS)
        for state in self.store.manifest.chapters:
            if state.status == "running":
                self.store.update_chapter(state.number, status="pending")
        for task in running:
            if not task.done():
                task.cancel()


class _Listener:
    """Hears about calls from worker threads: notes retries, drives adaptive concurrency."""

    def __init__(self, events: EventSink, admission: Admission) -> None:
        self.events = SafeSink(events)
        self.admission = admission

    def retrying(self, provider: str, error: TransientProviderError, seconds: float) -> None:
        message = f"{error}; retrying {provider} in {seconds:.1f} s"
        self.events(Event("notice", data={"message": message}))

    def succeeded(self, provider: str, started: float) -> None:
        self.admission.succeeded(started)

    def rate_limited(self, provider: str, started: float) -> None:
        self.admission.rate_limited(started)

    def resting(self, provider: str, seconds: float, error: str) -> None:
        message = f"{provider} keeps failing ({error}); resting it for {seconds:.0f} s"
        self.events(Event("notice", data={"message": message}))

    def falling_back(self, provider: str, fallback: str, error: str) -> None:
        message = f"{provider} failed ({error}); this call goes to {fallback}"
        self.events(Event("notice", data={"message": message}))


def _collect(results: dict[int, ChapterResult], task: asyncio.Task[ChapterResult]) -> None:
    if not task.cancelled() and task.exception() is None:
        result = task.result()
        results[result.number] = result


ProviderSpec = tuple[str, "str | None", list[str]]


def fallback_spec(spec: str, primary: ProviderSpec) -> ProviderSpec:
    """``PROVIDER[:MODEL][@URL]`` -> (name, model, options). The model may contain
    colons. A fallback of the primary's own kind inherits its -O options (base URL,
    timeout, ...) unless it names its own URL."""
    url = None
    head, at, tail = spec.rpartition("@")
    if at and tail.startswith(("http://", "https://")):
        spec, url = head, tail
    name, _, model = spec.partition(":")
    if not name:
        raise OptionError(f"--fallback expects PROVIDER[:MODEL][@URL], got {spec!r}")
    options = list(primary[2]) if name == primary[0] else []
    if url is not None:
        options = [option for option in options if not option.startswith("base_url=")]
        options.append(f"base_url={url}")
    return name, model or None, options


def _on_sigterm(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Treat SIGTERM like Ctrl-C while jobs run: cancel the coordinator cleanly.

    Returns the function that removes the handler again.
    """
    task = asyncio.current_task()
    if task is None:
        return lambda: None
    try:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    except (NotImplementedError, RuntimeError, ValueError):
        # Not the main thread, or a loop without signal support: Ctrl-C still works.
        return lambda: None
    return lambda: None if loop.remove_signal_handler(signal.SIGTERM) else None


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3, 5'"""
    groups: list[list[int]] = []
    for number in sorted(numbers):
        if groups and number == groups[-1][1] + 1:
            groups[-1][1] = number
        else:
            groups.append([number, number])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in groups)
