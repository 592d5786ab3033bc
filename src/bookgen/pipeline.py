"""One chapter job: prompt -> generate -> analyze -> enhance, until done, then save.

A job runs in a worker thread. Every provider call first takes a permit from the
run's rate limiter, and its usage is written to the manifest as soon as it returns,
so a paid call is counted even if the job fails later.

The analysis here is the length check (and the finish reason); the quality issue
grows ``analyze`` into the analyzer registry and ``enhance`` into revisions.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from bookgen.cost import BudgetExhausted
from bookgen.errors import FatalProviderError, JobCancelled, ProviderError
from bookgen.events import Event, EventSink
from bookgen.models import (
    BookSpec,
    ChapterResult,
    ChapterSpec,
    ChapterState,
    Completion,
    CompletionRequest,
    Message,
    ResultStatus,
    Usage,
)
from bookgen.prompts import PromptBuilder
from bookgen.providers.retry import ProviderCaller
from bookgen.quality import QualityLoop
from bookgen.tokens import max_tokens_for

# An empty answer is asked for again this many times before the chapter fails.
EMPTY_ANSWER_RETRIES = 2
EMPTY_NUDGE = "(Your previous answer was empty. Write the text now: prose only.)"
# A draft shorter than this share of its target gets a continuation call.
MIN_LENGTH_RATIO = 0.9


class _EmptyChapter(ProviderError):
    """Every answer the chapter got was empty: it fails, and starts afresh on a rerun."""


# A chapter's work between one provider call and the next (analysis, repairs, saving)
# is Python under the GIL: chapters whose calls return together cannot do it in
# parallel, only time-sliced, so they would all finish late, and the chapters waiting
# for their workers would all start late. Taking turns, the first finishes at once and
# its worker starts the next chapter. Held from a call's answer to the next call or the
# job's end; never during a call.
_FINISHING = threading.Lock()


class ChapterStore(Protocol):
    """What a chapter job needs of the book store: a BookStore, or a proxy to one in
    the coordinator's process when jobs run in worker processes."""

    def state(self, number: int) -> ChapterState: ...

    def update_chapter(self, number: int, **changes: Any) -> ChapterState: ...

    def add_usage(
        self, number: int, usage: Usage, *, provider: str, cost: float | None, save: bool = True
    ) -> None: ...

    def save(self) -> None: ...

    def write_chapter(self, chapter: ChapterSpec, text: str) -> tuple[str, str]: ...

    def write_draft(self, number: int, iteration: int, text: str) -> str: ...

    def read_text(self, relpath: str) -> str | None: ...

    def other_chapters(self, number: int) -> dict[int, str]: ...


@dataclass
class RunContext:
    """What every chapter job of one run shares."""

    book: BookSpec
    book_name: str
    store: ChapterStore
    caller: ProviderCaller
    prompts: PromptBuilder
    events: EventSink
    max_iterations: int
    cancel: threading.Event = field(default_factory=threading.Event)
    quality_threshold: float = 0.75
    # Names the outline and the story bible know (continuity checks).
    known_names: frozenset[str] = frozenset()


class ChapterJob:
    """Writes one chapter. Every outcome of ``run()`` is a ChapterResult and a manifest
    state; the one error it lets through is FatalProviderError, which ends the run.

    >>> job = ChapterJob(context, book.chapters[0])    # doctest: +SKIP
    >>> job.run().status                               # doctest: +SKIP
    'completed'
    """

    def __init__(self, context: RunContext, chapter: ChapterSpec) -> None:
        self.ctx = context
        self.chapter = chapter
        self.target = context.book.target_for(chapter)
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.generation_seconds = 0.0
        # Who wrote the text: with fallbacks, not always the primary provider.
        self.provider = context.caller.primary.name
        self.model = context.caller.primary.model
        self._finishing = False  # holds _FINISHING

    # --- the job -----------------------------------------------------------------

    def run(self) -> ChapterResult:
        try:
            return self._run()
        finally:
            self._take_turn(False)

    def _take_turn(self, finishing: bool) -> None:
        if finishing and not self._finishing:
            _FINISHING.acquire()
        elif not finishing and self._finishing:
            _FINISHING.release()
        self._finishing = finishing

    def _run(self) -> ChapterResult:
        ctx, number = self.ctx, self.chapter.number
        started = time.monotonic()
        state = ctx.store.state(number)
        spec_hash = ctx.book.spec_hash(self.chapter)
        # A loop a crash cut short goes on from its last checkpoint; anything else starts over.
        resumed = (
            state.iterations
            if state.iterations and state.status != "completed" and state.spec_hash == spec_hash
            else []
        )
        ctx.store.update_chapter(
            number,
            # On disk with the first checkpoint, or before the chapter file: nothing
            # is lost if a crash takes it first (a pending chapter runs again the same).
            durable=False,
            status="running",
            attempts=state.attempts + 1,
            started_at=time.time(),
            error=None,
            # The spec this attempt writes to: resume compares against it.
            spec_hash=spec_hash,
            iterations=resumed,
        )
        ctx.events(
            Event("chapter_started", number, self.chapter.title, {"target_words": self.target})
        )
        loop: QualityLoop | None = None
        try:
            loop = QualityLoop(self)
            best = loop.run(resumed)
            if not best.text.strip():
                # Never saved as written: the chapter fails and starts afresh next time.
                raise _EmptyChapter(f"the model answered with no text ({self.calls} calls)")
            # "running since" and the calls' usage on disk before the file: a crash
            # between the file and the next line is then adopted on resume (instead of
            # paid for again) with what it cost.
            ctx.store.save()
            relpath, digest = ctx.store.write_chapter(self.chapter, best.text)
        except BudgetExhausted as exc:
            # The book's budget, not this chapter, stopped it: it waits for a rerun.
            self._keep_unsaved(loop)
            ctx.store.update_chapter(number, status="pending", error=str(exc))
            ctx.events(
                Event("chapter_interrupted", number, self.chapter.title, {"reason": "budget"})
            )
            return self._result("interrupted", started)
        except FatalProviderError as exc:
            # Not this chapter's fault: it stays pending and the whole run stops.
            self._keep_unsaved(loop)
            ctx.store.update_chapter(number, status="pending", error=str(exc))
            raise
        except Exception as exc:  # noqa: BLE001 - one chapter's failure must not end the run
            empty = isinstance(exc, _EmptyChapter)
            # An empty chapter's checkpoints go with it (in the same journal line), or a
            # rerun would resume them; any other chapter keeps what it paid for.
            dropped: dict[str, Any] = {"iterations": []} if empty else {}
            if not empty:
                self._keep_unsaved(loop)
            if ctx.cancel.is_set():
                # Interrupted: whatever the call in flight raised, nothing failed.
                ctx.store.update_chapter(number, status="pending", **dropped)
                ctx.events(Event("chapter_interrupted", number, self.chapter.title))
                return self._result("interrupted", started)
            error = str(exc) or type(exc).__name__
            ctx.store.update_chapter(
                number,
                status="failed",
                error=error,
                duration=round(time.monotonic() - started, 3),
                finished_at=time.time(),
                **dropped,
            )
            result = self._result("failed", started, error=error)
            ctx.events(Event("chapter_failed", number, self.chapter.title, self.event_data(result)))
            return result
        seconds = round(time.monotonic() - started, 3)
        ctx.store.update_chapter(
            number,
            # Written at once (a kill -9 cannot lose it), on disk with the next job's save
            # or the run's last snapshot: a power cut before then leaves the "running"
            # line, the usage and the chapter file, all on disk, and resume adopts the
            # chapter at its cost (only its scores are lost). One fsync fewer a chapter.
            durable=False,
            status="completed",
            file=relpath,
            sha256=digest,
            duration=seconds,
            finished_at=time.time(),
            provider=self.provider,
            model=self.model,
            score=round(best.analysis.score, 4),
            needs_review=not best.analysis.acceptable,
            words=best.words,
            iterations=loop.finish(best, relpath),
        )
        short = best.words < MIN_LENGTH_RATIO * self.target
        result = self._result(
            "completed",
            started,
            words=best.words,
            file=relpath,
            short=short,
            score=round(best.analysis.score, 4),
            needs_review=not best.analysis.acceptable,
        )
        data = self.event_data(result)
        if result.tokens_per_second is not None and not ctx.caller.primary.simulated:
            data["tokens_per_second"] = round(result.tokens_per_second, 1)
        ctx.events(Event("chapter_completed", number, self.chapter.title, data))
        return result

    @staticmethod
    def _keep_unsaved(loop: QualityLoop | None) -> None:
        """Versions paid for but not yet in drafts/ (the loop writes them only before
        the next call) go there before the chapter is marked failed or pending, so a
        rerun resumes them instead of paying again. If the store is what failed, the
        state update that follows reports it."""
        if loop is not None and loop.unsaved:
            try:
                loop.checkpoint()
            except Exception:  # noqa: BLE001, S110 - best effort on a failure path
                pass

    def generate(self, messages: list[Message], words: int, *, max_calls: int = 1) -> Completion:
        """One answer, with text in it if the model gives any: an empty answer (small
        models sometimes stop at once) is asked for again, up to EMPTY_ANSWER_RETRIES
        times and within ``max_calls`` in all (the iterations the chapter has left), so
        --max-iterations bounds the calls. (A chapter that ends empty fails; see ``run``.)"""
        request = CompletionRequest(
            messages=messages,
            max_tokens=max_tokens_for(words),
            metadata={
                "book": self.ctx.book_name,
                "chapter": str(self.chapter.number),
                "title": self.chapter.title,
            },
        )
        attempts = max(1, min(EMPTY_ANSWER_RETRIES + 1, max_calls))
        for attempt in range(attempts):
            completion = self.call(request)
            if completion.text.strip():
                return completion
            if attempt < attempts - 1:
                message = "the model's answer was empty; asking again"
                self.ctx.events(
                    Event("notice", self.chapter.number, self.chapter.title, {"message": message})
                )
                # The same request may well get the same empty answer (fixed seeds, greedy
                # sampling): say what went wrong at the end of the last message.
                *rest, last = request.messages
                nudged = last.model_copy(update={"content": f"{last.content}\n\n{EMPTY_NUDGE}"})
                request = request.model_copy(update={"messages": [*rest, nudged]})
        return completion  # still empty: the enhance loop's other prompts may do better

    def call(self, request: CompletionRequest) -> Completion:
        """One provider call (retries, limits and fallbacks inside), counted in the
        manifest as soon as it returns."""
        ctx = self.ctx
        if ctx.cancel.is_set():
            raise JobCancelled("interrupted")
        if self.calls:
            # The last call's usage is on disk before another one is paid for.
            ctx.store.save()
        self._take_turn(False)
        completion = ctx.caller.complete(request)
        self._take_turn(True)
        if not self.calls:
            # The first draft's author is the chapter's; fallbacks are listed too.
            self.provider = completion.provider or self.provider
            self.model = completion.model or self.model
        self.calls += 1
        self.prompt_tokens += completion.usage.prompt_tokens
        self.completion_tokens += completion.usage.completion_tokens
        self.generation_seconds += completion.latency
        # Written with the chapter's next state change (completed, failed, pending) or
        # before its next call, whichever comes first: one manifest write fewer per call.
        author = f"{completion.provider or self.provider}:{completion.model or self.model}"
        ctx.store.add_usage(
            self.chapter.number,
            completion.usage,
            provider=author,
            cost=ctx.caller.pricing.cost(author, completion.usage),
            save=False,
        )
        return completion

    # --- results -----------------------------------------------------------------

    def _result(self, status: str, started: float, **extra: object) -> ChapterResult:
        return ChapterResult.model_validate(
            {
                "number": self.chapter.number,
                "title": self.chapter.title,
                "status": status,
                "calls": self.calls,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "seconds": round(time.monotonic() - started, 3),
                "generation_seconds": round(self.generation_seconds, 3),
                **extra,
            }
        )

    def crashed(self, exc: Exception, *, status: ResultStatus = "failed") -> ChapterResult:
        """The result of a job that failed outside its own error handling; the
        manifest is told too, if it can still be written."""
        error = f"{type(exc).__name__}: {exc}"
        try:
            self.ctx.store.update_chapter(
                self.chapter.number,
                status="failed" if status == "failed" else "pending",
                error=error if status == "failed" else str(exc),
            )
        except Exception:  # noqa: BLE001, S110 - the manifest is what failed; the result says so
            pass
        return ChapterResult(
            number=self.chapter.number,
            title=self.chapter.title,
            status=status,
            calls=self.calls,
            error=error,
        )

    @staticmethod
    def event_data(result: ChapterResult) -> dict[str, object]:
        data: dict[str, object] = {
            "words": result.words,
            "seconds": result.seconds,
            "calls": result.calls,
        }
        if result.error:
            data["error"] = result.error
        if result.short:
            data["short"] = True
        if result.score is not None:
            data["score"] = result.score
        if result.needs_review:
            data["needs_review"] = True
        return data
