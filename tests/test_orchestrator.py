"""The coordinator and the chapter job, through the public API with a scripted provider."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textstat.backend import utils as textstat_utils

from bookgen import AsyncBookOrchestrator, ProviderError
from bookgen.analyzers import readability
from bookgen.errors import BadRequestError, OptionError
from bookgen.events import Event
from bookgen.models import Completion, CompletionRequest, Usage
from tests.conftest import ScriptedProvider


def make(
    outline: Path, tmp_path: Path, provider: ScriptedProvider, **kwargs
) -> AsyncBookOrchestrator:  # type: ignore[no-untyped-def]
    kwargs.setdefault("bible", False)
    return AsyncBookOrchestrator(
        source_file=outline, provider=provider, output_dir=tmp_path / "books", **kwargs
    )


def words(n: int) -> str:
    return " ".join(["word"] * (n - 1)) + " end."


async def test_generates_every_chapter_in_outline_order(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    orchestrator = make(outline, tmp_path, scripted, max_concurrent=2)
    results = await orchestrator.generate_chapters_parallel()
    assert [(r.number, r.status, r.calls) for r in results] == [
        (1, "completed", 1),
        (2, "completed", 1),
        (3, "completed", 1),
        (4, "completed", 1),
    ]
    assert all(r.words == 300 for r in results)
    manifest = json.loads((tmp_path / "books/the-test-book/manifest.json").read_text())
    assert [c["status"] for c in manifest["chapters"]] == ["completed"] * 4
    assert len(scripted.history) == 4
    # The shared part of the prompt comes first and is the same for every chapter.
    systems = {r.messages[0].content for r in scripted.history}
    assert len(systems) == 1
    assert "about 300 words of finished prose" in scripted.history[0].messages[-1].content


async def test_a_failing_chapter_does_not_stop_the_others(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    def answer(request: CompletionRequest) -> Completion:
        if request.metadata["chapter"] == "2":
            raise ProviderError("model refused")
        return Completion(text=words(300), usage=Usage(prompt_tokens=5, completion_tokens=7))

    scripted.enqueue(*[answer] * 4)
    events: list[Event] = []
    orchestrator = make(outline, tmp_path, scripted, events=events.append)
    results = await orchestrator.generate_chapters_parallel()
    assert [r.status for r in results] == ["completed", "failed", "completed", "completed"]
    assert results[1].error == "model refused"
    state = orchestrator.store.manifest.state(2)
    assert (state.status, state.error, state.calls) == ("failed", "model refused", 0)
    assert orchestrator.summary is not None
    assert (orchestrator.summary.completed, orchestrator.summary.failed) == (3, 1)
    failed = [e for e in events if e.kind == "chapter_failed"]
    assert [(e.chapter, e.data["error"]) for e in failed] == [(2, "model refused")]
    # The failed chapter runs again next time; nothing else does.
    rerun = await make(outline, tmp_path, scripted).generate_chapters_parallel()
    assert [r.status for r in rerun] == ["skipped", "completed", "skipped", "skipped"]


async def test_paid_calls_are_counted_even_when_the_job_fails_later(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    scripted.enqueue(words(50), ProviderError("boom"))
    orchestrator = make(outline, tmp_path, scripted)
    results = await orchestrator.generate_chapters_parallel([1])
    assert results[0].status == "failed"
    state = orchestrator.store.manifest.state(1)
    assert (state.calls, state.prompt_tokens) == (1, 10)


async def test_admission_never_exceeds_max_concurrent(outline: Path, tmp_path: Path) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def answer(request: CompletionRequest) -> Completion:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        release.wait(0.05)
        with lock:
            active -= 1
        return Completion(text=words(300))

    provider = ScriptedProvider()
    provider.enqueue(*[answer] * 4)
    results = await make(outline, tmp_path, provider, max_concurrent=2).generate_chapters_parallel()
    assert [r.status for r in results] == ["completed"] * 4
    assert peak == 2


async def test_chapters_not_in_outline_are_an_error(outline: Path, tmp_path: Path) -> None:
    orchestrator = make(outline, tmp_path, ScriptedProvider())
    with pytest.raises(
        OptionError, match=r"--chapters: 7, 9 not in the outline \(it has chapters 1-4\)"
    ):
        await orchestrator.generate_chapters_parallel([1, 7, 9])
    assert not (tmp_path / "books").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_concurrent": 0}, "--max-concurrent must be at least 1, got 0"),
        ({"max_concurrent": -2}, "--max-concurrent must be at least 1, got -2"),
        ({"rate_limit_calls": 0}, "--rate-limit-calls must be at least 1, got 0"),
        ({"rate_limit_period": 0}, "--rate-limit-period must be greater than 0, got 0"),
        ({"rate_limit_period": -1.5}, "--rate-limit-period must be greater than 0, got -1.5"),
        ({"max_iterations": 0}, "--max-iterations must be at least 1, got 0"),
        ({"target_words": 0}, "--target-words must be at least 1, got 0"),
    ],
)
def test_numeric_options_are_range_checked(outline: Path, tmp_path: Path, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OptionError) as info:
        make(outline, tmp_path, ScriptedProvider(), **kwargs)
    assert str(info.value) == message


async def test_cancel_leaves_unfinished_chapters_pending(outline: Path, tmp_path: Path) -> None:
    both_started = threading.Barrier(3)
    provider = ScriptedProvider()

    def slow(request: CompletionRequest) -> Completion:
        both_started.wait(5)
        provider.interrupted.wait(10)
        from bookgen.errors import JobCancelled

        raise JobCancelled("interrupted")

    provider.enqueue(slow, slow)
    orchestrator = make(outline, tmp_path, provider, max_concurrent=2)
    task = asyncio.create_task(orchestrator.generate_chapters_parallel())
    await asyncio.to_thread(both_started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    statuses = [s.status for s in orchestrator.store.manifest.chapters]
    assert statuses == ["pending"] * 4
    on_disk = json.loads(orchestrator.store.manifest_path.read_text())
    assert [c["status"] for c in on_disk["chapters"]] == ["pending"] * 4
    assert len(provider.history) == 2  # chapters 3 and 4 were never admitted


async def test_book_level_change_keeps_chapters_and_says_so(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    await make(outline, tmp_path, scripted).generate_chapters_parallel()
    events: list[Event] = []
    again = make(outline, tmp_path, scripted, genre="horror", events=events.append)
    results = await again.generate_chapters_parallel()
    assert [r.status for r in results] == ["skipped"] * 4
    notices = [e.data["message"] for e in events if e.kind == "notice"]
    assert notices == [
        "the book's title, genre, audience, style or author changed since the completed "
        "chapters were written; they are kept (use --force to rewrite them)"
    ]
    assert len(scripted.history) == 4


async def test_chapter_level_change_regenerates_that_chapter(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    await make(outline, tmp_path, scripted).generate_chapters_parallel()
    outline.write_text(outline.read_text().replace("A storm traps them", "A flood traps them"))
    results = await make(outline, tmp_path, scripted).generate_chapters_parallel()
    assert [r.status for r in results] == ["skipped", "skipped", "completed", "skipped"]


async def test_a_job_that_crashes_outside_its_handler_is_a_failed_chapter(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    orchestrator = make(outline, tmp_path, scripted)
    real_update = orchestrator.store.update_chapter

    def update(number: int, **changes: object):  # type: ignore[no-untyped-def]
        if number == 2 and changes.get("status") == "running":
            raise OSError(28, "No space left on device")
        return real_update(number, **changes)

    monkeypatch.setattr(orchestrator.store, "update_chapter", update)
    results = await orchestrator.generate_chapters_parallel()
    assert [r.status for r in results] == ["completed", "failed", "completed", "completed"]
    assert results[1].error == "OSError: [Errno 28] No space left on device"


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [("outline", [1, 2, 3, 4]), ("priority", [1, 4, 2, 3]), ("longest", [1, 2, 3, 4])],
)
async def test_schedule_decides_the_start_order(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider, schedule: str, expected: list[int]
) -> None:
    events: list[Event] = []
    orchestrator = make(
        outline, tmp_path, scripted, max_concurrent=1, schedule=schedule, events=events.append
    )
    results = await orchestrator.generate_chapters_parallel()
    assert [e.chapter for e in events if e.kind == "chapter_started"] == expected
    assert [r.number for r in results] == [1, 2, 3, 4]  # results stay in outline order


async def test_token_limit_refuses_an_impossible_chapter_before_any_call(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    orchestrator = make(outline, tmp_path, scripted, rate_limit_tokens=500)
    with pytest.raises(
        OptionError,
        match=r"^chapter 1: a request needs about \d[\d,]* tokens but --rate-limit-tokens allows 500 per 60 s",
    ):
        await orchestrator.generate_chapters_parallel()
    assert scripted.history == []
    assert not (tmp_path / "books").exists()


async def test_token_limit_reserves_and_settles(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    orchestrator = make(outline, tmp_path, scripted, rate_limit_tokens=100_000, max_concurrent=4)
    results = await orchestrator.generate_chapters_parallel()
    assert [r.status for r in results] == ["completed"] * 4
    assert orchestrator.limiter.started == 4  # type: ignore[attr-defined]


async def test_a_changed_chapter_is_regenerated_once_not_on_every_run(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    await make(outline, tmp_path, scripted).generate_chapters_parallel()
    outline.write_text(outline.read_text().replace("A storm traps them", "A flood traps them"))
    await make(outline, tmp_path, scripted).generate_chapters_parallel()
    third = await make(outline, tmp_path, scripted).generate_chapters_parallel()
    assert [r.status for r in third] == ["skipped"] * 4
    assert len(scripted.history) == 5


async def test_a_chapter_dropped_and_restored_is_not_paid_again(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    await make(outline, tmp_path, scripted).generate_chapters_parallel()
    full = outline.read_text()
    outline.write_text(full.split("## Chapter 4")[0])
    shorter = make(outline, tmp_path, scripted)
    assert [r.status for r in await shorter.generate_chapters_parallel()] == ["skipped"] * 3
    detached = shorter.store.manifest.detached
    assert [(s.number, s.status, s.calls) for s in detached] == [(4, "completed", 1)]
    outline.write_text(full)
    restored = await make(outline, tmp_path, scripted).generate_chapters_parallel()
    assert [r.status for r in restored] == ["skipped"] * 4
    assert len(scripted.history) == 4


async def test_another_book_with_the_same_folder_name_is_refused(
    tmp_path: Path, scripted: ScriptedProvider
) -> None:
    from bookgen.errors import BookNameError

    first = tmp_path / "a.md"
    first.write_text("# 戦争と平和\n\n## 第一章\nある日。\n")
    second = tmp_path / "b.md"
    second.write_text("# 罪と罰\n\n## 始まり\n暑い日。\n")
    one = make(first, tmp_path, scripted, book_name="shared")
    await one.generate_chapters_parallel()
    with pytest.raises(
        BookNameError, match=r"holds another book, '戦争と平和' from .*a\.md; pass --book-name"
    ):
        await make(second, tmp_path, scripted, book_name="shared").generate_chapters_parallel()
    assert len(scripted.history) == 1


def test_default_folder_names_keep_other_scripts(
    tmp_path: Path, scripted: ScriptedProvider
) -> None:
    path = tmp_path / "war.md"
    path.write_text("# 戦争と平和\n\n## 第一章\nある日。\n")
    assert make(path, tmp_path, scripted).store.name == "戦争と平和"
    symbols = tmp_path / "my-notes.md"
    symbols.write_text("# ???\n\n## One\nx\n")
    assert make(symbols, tmp_path, scripted).store.name == "my-notes"


async def test_a_failing_display_never_fails_a_chapter(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    def sink(event: Event) -> None:
        if event.kind == "chapter_started":
            raise BrokenPipeError(32, "Broken pipe")

    orchestrator = make(outline, tmp_path, scripted, events=sink)
    results = await orchestrator.generate_chapters_parallel()
    assert [r.status for r in results] == ["completed"] * 4
    assert [s.status for s in orchestrator.store.manifest.chapters] == ["completed"] * 4
    assert isinstance(orchestrator.events.error, BrokenPipeError)


async def test_usage_sums_per_chapter_and_per_book(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    from bookgen.status import status_data

    usage = Usage(prompt_tokens=100, completion_tokens=400, cached_prompt_tokens=60)
    scripted.enqueue(
        Completion(
            text=words(100), usage=usage, provider="scripted", model="m"
        ),  # short: continued
        Completion(text=words(200), usage=usage, provider="scripted", model="m"),
        *[Completion(text=words(300), usage=usage, provider="scripted", model="m")] * 3,
    )
    orchestrator = make(outline, tmp_path, scripted, max_concurrent=1, schedule="outline")
    await orchestrator.generate_chapters_parallel()
    first = orchestrator.store.manifest.state(1)
    assert (
        first.calls,
        first.prompt_tokens,
        first.completion_tokens,
        first.cached_prompt_tokens,
    ) == (2, 200, 800, 120)
    assert first.providers == ["scripted:m"]
    totals = status_data(orchestrator.store, orchestrator.store.load())["totals"]
    assert (totals["calls"], totals["prompt_tokens"], totals["completion_tokens"]) == (5, 500, 2000)
    assert totals["cached_prompt_tokens"] == 300
    assert totals["cache_hit_ratio"] == 0.6
    assert totals["cost_usd"] == 0.0  # a keyless provider costs nothing


def prose(words_: int, seed: str = "x") -> str:
    from bookgen.models import CompletionRequest, Message
    from bookgen.providers.sim import write_prose

    request = CompletionRequest(
        messages=[Message(role="user", content="x")],
        max_tokens=10,
        metadata={"title": "the harbour"},
    )
    return write_prose(words_, seed, request)


async def test_a_clean_first_draft_is_accepted_without_a_revision(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    scripted.enqueue(prose(300))
    orchestrator = make(outline, tmp_path, scripted)
    results = await orchestrator.generate_chapters_parallel([1])
    assert (results[0].calls, results[0].needs_review) == (1, False)
    state = orchestrator.store.manifest.state(1)
    assert [(it["kind"], it["calls"]) for it in state.iterations] == [("draft", 1)]
    assert state.score is not None and state.score >= 0.75
    # No call followed it, so it went straight to the chapter file: no checkpoint copy.
    assert state.iterations[0]["file"] == state.file == "chapters/01-arrival.md"
    assert not (tmp_path / "books/the-test-book/drafts").exists()


async def test_an_empty_answer_is_asked_for_again_and_never_saved(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    events: list[Event] = []
    scripted.enqueue("", "  \n", prose(300))
    orchestrator = make(outline, tmp_path, scripted, events=events.append)
    results = await orchestrator.generate_chapters_parallel([1])
    assert (results[0].status, results[0].calls, results[0].words) == ("completed", 3, 300)
    notices = [e.data["message"] for e in events if e.kind == "notice" and e.chapter == 1]
    assert notices == ["the model's answer was empty; asking again"] * 2
    # All three calls were paid for and are counted.
    assert orchestrator.store.manifest.state(1).calls == 3
    # Asked again with a note, not word for word (a fixed seed would answer the same).
    first, second, third = (r.messages[-1].content for r in scripted.history)
    assert second == first + "\n\n(Your previous answer was empty. Write the text now: prose only.)"
    assert third.endswith(
        "prose only.)\n\n(Your previous answer was empty. Write the text now: prose only.)"
    )


@pytest.mark.parametrize("iterations", [3, 4])
async def test_a_model_that_keeps_answering_nothing_fails_the_chapter(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider, iterations: int
) -> None:
    # With 4 iterations the empty draft is checkpointed before a fourth call (a
    # revision) is paid for; the failure must drop that checkpoint too.
    scripted.enqueue(*[""] * iterations)
    orchestrator = make(outline, tmp_path, scripted, max_iterations=iterations)
    results = await orchestrator.generate_chapters_parallel([1])
    # --max-iterations bounds the calls, empty answers included.
    assert (results[0].status, results[0].calls) == ("failed", iterations)
    assert results[0].error == f"the model answered with no text ({iterations} calls)"
    state = orchestrator.store.manifest.state(1)
    assert (state.status, state.file, state.iterations) == ("failed", None, [])
    assert not (tmp_path / "books/the-test-book/chapters").exists() or not any(
        (tmp_path / "books/the-test-book/chapters").iterdir()
    )
    # A rerun starts afresh (it does not resume the empty checkpoints) and writes it.
    scripted.enqueue(prose(300))
    again = await make(
        outline, tmp_path, scripted, max_iterations=iterations
    ).generate_chapters_parallel([1])
    assert (again[0].status, again[0].calls, again[0].words) == ("completed", 1, 300)


async def test_a_refused_enhancement_keeps_the_best_draft(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    events: list[Event] = []
    cut = " ".join(prose(290, "c").split()[:289]) + " and then she"
    scripted.enqueue(
        Completion(text=cut, finish_reason="length"),
        BadRequestError("the prompt is 4,100 tokens and the model's context window holds 4,096"),
    )
    orchestrator = make(outline, tmp_path, scripted, events=events.append)
    results = await orchestrator.generate_chapters_parallel([2])
    assert (results[0].status, results[0].calls, results[0].needs_review) == (
        "completed",
        1,
        True,
    )
    assert (
        (tmp_path / "books/the-test-book" / str(results[0].file))
        .read_text()
        .endswith("and then she\n")
    )
    [notice] = [e.data["message"] for e in events if e.kind == "notice" and e.chapter == 2]
    assert notice.startswith("stopped improving the chapter: the provider refused the request")


async def test_a_short_draft_is_continued(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    scripted.enqueue(prose(100, "a"), prose(200, "b"))
    results = await make(outline, tmp_path, scripted).generate_chapters_parallel([1])
    assert (results[0].calls, results[0].words) == (2, 300)
    follow_up = scripted.history[1].messages[-1].content
    assert "it has 100 words and should have about 300" in follow_up
    assert "Write about 200 more words" in follow_up


async def test_a_truncated_draft_is_continued(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    cut = " ".join(prose(290, "c").split()[:289]) + " and then she"
    scripted.enqueue(Completion(text=cut, finish_reason="length"), prose(40, "d"))
    results = await make(outline, tmp_path, scripted).generate_chapters_parallel([2])
    assert results[0].calls == 2
    assert "should have about 300" in scripted.history[1].messages[-1].content


async def test_the_iteration_limit_holds_and_the_chapter_is_flagged(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    scripted.enqueue(prose(30, "e"), prose(30, "f"), prose(30, "g"), prose(30, "h"))
    orchestrator = make(outline, tmp_path, scripted, max_iterations=3)
    results = await orchestrator.generate_chapters_parallel([1])
    assert (results[0].status, results[0].calls, results[0].needs_review) == ("completed", 3, True)
    assert [it["kind"] for it in orchestrator.store.manifest.state(1).iterations] == [
        "draft",
        "continuation",
        "continuation",
    ]


async def test_a_plateau_stops_the_loop_and_the_best_draft_is_kept(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    first = prose(300, "i")
    worse = prose(150, "j")  # acceptable? no: under 60% is a hard defect, so worse
    scripted.enqueue(first, worse, prose(300, "n"))
    # A threshold no draft reaches: only the plateau rule can stop the loop early.
    orchestrator = make(outline, tmp_path, scripted, max_iterations=4, quality_threshold=0.999)
    results = await orchestrator.generate_chapters_parallel([1])
    state = orchestrator.store.manifest.state(1)
    assert results[0].calls == 2  # the revision did not improve on an acceptable draft: stop
    assert [it["kind"] for it in state.iterations] == ["draft", "revision"]
    saved = (tmp_path / "books/the-test-book" / state.file).read_text()  # type: ignore[operator]
    assert saved.split("\n\n", 1)[1].strip() == first.strip()  # the better draft was kept
    # Both paid versions are on disk: the draft checkpointed before the revision was
    # paid for, the revision when the loop ended.
    assert [it["file"] for it in state.iterations] == ["drafts/01-i1.md", "drafts/01-i2.md"]
    drafts = tmp_path / "books/the-test-book/drafts"
    assert (drafts / "01-i2.md").read_text().strip() == worse.strip()
    assert not state.needs_review
    assert (
        "An editor" in scripted.history[1].messages[-1].content
        or "editor" in scripted.history[1].messages[-1].content
    )


async def test_an_unacceptable_draft_is_worth_every_remaining_call(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    looping = (
        prose(200, "o")
        + ("\n\n" + "She waited by the door and counted the boats in the harbour again.") * 6
    )
    scripted.enqueue(looping, looping, looping, prose(300, "p"))
    orchestrator = make(outline, tmp_path, scripted, max_iterations=4)
    results = await orchestrator.generate_chapters_parallel([1])
    # The repeated tail is cut by rule; what is left is short, so it is continued.
    assert results[0].needs_review is False
    assert results[0].calls <= 4


async def test_an_early_end_marker_is_removed_by_rule(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    scripted.enqueue(prose(300, "q") + "\n\nThe End.")
    orchestrator = make(outline, tmp_path, scripted)
    results = await orchestrator.generate_chapters_parallel([1])
    state = orchestrator.store.manifest.state(1)
    assert (results[0].calls, [it["kind"] for it in state.iterations]) == (1, ["draft", "repair"])
    saved = (tmp_path / "books/the-test-book" / state.file).read_text()  # type: ignore[operator]
    assert "The End" not in saved


async def test_rules_repair_leaked_chatter_without_a_call(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    leaky = (
        "Sure! Here is the chapter you requested:\n\n"
        + prose(300, "k")
        + "\n\nI hope you enjoyed this chapter! Let me know if you want changes."
    )
    scripted.enqueue(leaky)
    orchestrator = make(outline, tmp_path, scripted)
    results = await orchestrator.generate_chapters_parallel([1])
    assert results[0].calls == 1
    state = orchestrator.store.manifest.state(1)
    assert [it["kind"] for it in state.iterations] == ["draft", "repair"]
    saved = (tmp_path / "books/the-test-book" / state.file).read_text()  # type: ignore[operator]
    assert "Here is the chapter" not in saved and "hope you enjoyed" not in saved


async def test_a_loop_cut_short_resumes_at_its_last_checkpoint(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    scripted.enqueue(prose(100, "l"), ProviderError("connection lost for good"))
    first = await make(outline, tmp_path, scripted, max_retries=0).generate_chapters_parallel([1])
    assert first[0].status == "failed"
    assert len(scripted.history) == 2
    again = ScriptedProvider()
    again.enqueue(prose(200, "m"))
    second = await make(outline, tmp_path, again).generate_chapters_parallel([1])
    assert (second[0].status, second[0].words) == ("completed", 300)
    # Only the continuation was paid for again: the first draft came from drafts/.
    assert len(again.history) == 1
    assert "it has 100 words" in again.history[0].messages[-1].content


async def test_chapters_whose_calls_return_together_finish_one_at_a_time(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bookgen import pipeline, quality

    # All four calls return at the same moment; each chapter's analysis then pauses
    # (releasing the GIL), which is where time-slicing would interleave them.
    barrier = threading.Barrier(4)
    timeline: list[tuple[str, int]] = []
    during_calls: list[bool] = []

    def answer(request: CompletionRequest) -> Completion:
        during_calls.append(pipeline._FINISHING.locked())
        barrier.wait(timeout=10)
        return Completion(text=prose(300, request.metadata["chapter"]), finish_reason="stop")

    measure = quality.QualityLoop.measure

    def slow_measure(self: quality.QualityLoop, text: str, finish: str):  # type: ignore[no-untyped-def]
        timeline.append(("start", self.chapter.number))
        time.sleep(0.02)
        try:
            return measure(self, text, finish)
        finally:
            timeline.append(("end", self.chapter.number))

    monkeypatch.setattr(quality.QualityLoop, "measure", slow_measure)
    scripted.enqueue(answer, answer, answer, answer)
    results = await make(outline, tmp_path, scripted, max_concurrent=4).generate_chapters_parallel()
    assert [r.status for r in results] == ["completed"] * 4
    assert during_calls == [False] * 4
    # Each chapter's analysis ended before the next one's started.
    assert [kind for kind, _ in timeline] == ["start", "end"] * 4
    assert [n for kind, n in timeline if kind == "start"] == [
        n for kind, n in timeline if kind == "end"
    ]


async def test_a_chapter_gives_up_its_turn_before_each_further_call(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    from bookgen import pipeline

    held: list[bool] = []

    def answer(words_: int) -> Callable[[CompletionRequest], Completion]:
        def complete(request: CompletionRequest) -> Completion:
            held.append(pipeline._FINISHING.locked())
            return Completion(text=prose(words_, str(words_)), finish_reason="stop")

        return complete

    scripted.enqueue(answer(100), answer(200))
    results = await make(outline, tmp_path, scripted).generate_chapters_parallel([1])
    assert (results[0].status, results[0].calls) == ("completed", 2)  # draft, continuation
    # The continuation was asked for after the draft was analysed, with the turn given up.
    assert held == [False, False]
    assert not pipeline._FINISHING.locked()  # and the job's end gave it back


async def test_the_started_line_is_on_disk_before_the_chapter_file(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The "running" line is written without waiting for the disk; resume adopts a
    # chapter file only if that line (its start time) is durable, and the call's usage
    # must be there too, or the adopted chapter would cost nothing.
    from bookgen.store import BookStore

    seen: list[tuple[bool, str, int]] = []
    write = BookStore.write_chapter

    def checked_write(self: BookStore, chapter, text):  # type: ignore[no-untyped-def]
        journal = self._journal
        assert journal is not None
        lines = self.journal_path.read_text().splitlines()
        last = [json.loads(line)["state"] for line in lines][-1]
        seen.append((journal._synced == journal._written, last["status"], last["calls"]))
        return write(self, chapter, text)

    monkeypatch.setattr(BookStore, "write_chapter", checked_write)
    results = await make(outline, tmp_path, scripted).generate_chapters_parallel([1])
    assert results[0].status == "completed"
    assert seen == [(True, "running", 1)]


async def test_versions_paid_for_are_kept_when_saving_the_chapter_fails(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bookgen.store import BookStore

    # Two short answers: the second (a continuation) is recorded but, no call following
    # it, not yet in drafts/ when the chapter file cannot be written.
    scripted.enqueue(prose(100, "a"), prose(100, "b"))

    def full_disk(self: BookStore, chapter, text):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BookStore, "write_chapter", full_disk)
    orchestrator = make(outline, tmp_path, scripted, max_iterations=2)
    results = await orchestrator.generate_chapters_parallel([1])
    assert (results[0].status, results[0].calls) == ("failed", 2)
    state = orchestrator.store.manifest.state(1)
    assert [it["file"] for it in state.iterations] == ["drafts/01-i1.md", "drafts/01-i2.md"]
    monkeypatch.undo()
    again = ScriptedProvider()
    rerun = await make(outline, tmp_path, again, max_iterations=2).generate_chapters_parallel([1])
    # Both versions came back from drafts/: nothing was paid for twice.
    assert (rerun[0].status, rerun[0].words, len(again.history)) == ("completed", 200, 0)


async def test_a_chapter_whose_job_failed_after_saving_resumes_from_its_file(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bookgen import pipeline

    # The job fails after the chapter and its "completed" line are saved (here: while
    # building its result); the run marks it failed and keeps its records, whose best
    # version points at the chapter file.
    result = pipeline.ChapterJob._result

    def broken(self, status, started, **extra):  # type: ignore[no-untyped-def]
        if status == "completed":
            raise RuntimeError("broke after saving")
        return result(self, status, started, **extra)

    monkeypatch.setattr(pipeline.ChapterJob, "_result", broken)
    scripted.enqueue(prose(300, "z"))
    first = await make(outline, tmp_path, scripted).generate_chapters_parallel([1])
    assert first[0].status == "failed"
    monkeypatch.undo()
    again = ScriptedProvider()
    rerun = await make(outline, tmp_path, again).generate_chapters_parallel([1])
    assert (rerun[0].status, len(again.history)) == ("completed", 0)
    state = make(outline, tmp_path, again).store.load().state(1)
    saved = (tmp_path / "books/the-test-book" / str(state.file)).read_text()
    assert saved.count("# Chapter 1") == 1  # the heading was not taken for text
    assert saved.split("\n\n", 1)[1].strip() == prose(300, "z").strip()


async def test_the_dictionaries_load_while_the_first_call_is_in_flight(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a fresh process: neither of readability's dictionaries is loaded.
    monkeypatch.setattr(readability, "_LOADED", threading.Event())
    textstat_utils.get_cmudict.cache_clear()
    textstat_utils.get_pyphen.cache_clear()
    loaded: list[bool] = []

    def answer(request: CompletionRequest) -> Completion:
        # Loaded only by the chapter's analysis, they would come after this call ends.
        loaded.append(readability._LOADED.wait(timeout=20))
        return scripted._completion(words(400))

    scripted.enqueue(answer)
    results = await make(outline, tmp_path, scripted).generate_chapters_parallel([1])
    assert loaded == [True]
    assert [r.status for r in results] == ["completed"]


async def test_a_chapter_is_completed_in_the_journal_file_before_it_is_reported(
    outline: Path, tmp_path: Path, scripted: ScriptedProvider
) -> None:
    # The completed line is written at once (a kill -9 cannot lose it) but not waited
    # for: the next save or the run's last snapshot puts it on disk.
    from bookgen.journal import read_entries

    in_file: list[tuple[int, str]] = []

    def on_event(event: Event) -> None:
        if event.kind == "chapter_completed":
            path = orchestrator.store.journal_path
            states = [
                e["state"] for e in read_entries(path) if e["state"]["number"] == event.chapter
            ]
            in_file.append((event.chapter, states[-1]["status"]))

    orchestrator = make(outline, tmp_path, scripted, max_concurrent=1, events=on_event)
    results = await orchestrator.generate_chapters_parallel([1, 2])
    assert [r.status for r in results] == ["completed", "completed"]
    assert sorted(in_file) == [(1, "completed"), (2, "completed")]
    manifest = orchestrator.store.load()  # the snapshot the run ended with
    assert [manifest.state(n).status for n in (1, 2)] == ["completed", "completed"]
