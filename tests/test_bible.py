"""The story bible: lenient parsing, one retry, the outline fallback, reuse and edits."""

from __future__ import annotations

import json
from pathlib import Path

from bookgen import AsyncBookOrchestrator
from bookgen.bible import outline_bible, parse_bible
from bookgen.events import Event
from bookgen.models import BookSpec, ChapterSpec, Completion, CompletionRequest
from tests.conftest import ScriptedProvider

BOOK = BookSpec(
    title="T",
    chapters=[
        ChapterSpec(number=1, title="One", synopsis="Mara meets Tobias."),
        ChapterSpec(number=2, title="Two"),
    ],
)


def test_parse_is_lenient() -> None:
    answer = 'Sure! Here it is:\n```json\n{"Characters": [{"name": "Mara", "role": "keeper", "extra": 1}], "Chapters": [{"number": 1, "starts": "the pier", "characters": ["Mara"]}, {"number": 9}]}\n```\nEnjoy!'
    bible = parse_bible(answer, BOOK)
    assert bible is not None
    assert [c.name for c in bible.characters] == ["Mara"]
    assert [c.number for c in bible.chapters] == [1]  # chapters not in the outline dropped
    assert parse_bible("Once upon a time there was no JSON.", BOOK) is None
    assert parse_bible('{"rules": ["x"]}', BOOK) is None  # nothing a chapter can use


def test_outline_fallback() -> None:
    bible = outline_bible(BOOK)
    assert bible.source == "outline"
    assert {c.name for c in bible.characters} == {"Mara", "Tobias"}
    assert bible.contract(1) is not None and bible.contract(1).characters == ["Mara", "Tobias"]  # type: ignore[union-attr]


def test_outline_fallback_tells_names_from_words_that_open_a_sentence() -> None:
    book = BookSpec(
        title="Salt",
        chapters=[
            ChapterSpec(
                number=1,
                title="One",
                synopsis="Fourteen-year-old Elin Rask meets Mr. Jory Penrose. Frost comes early.",
                beats=["Dragging the net ashore", "Over supper Penrose talks", "Slowly, Elin"],
            ),
            ChapterSpec(number=2, title="Two", synopsis="Mara waits for a hard frost."),
            ChapterSpec(
                number=3,
                title="Three",
                synopsis="Mr Smith and Dr Patel arrive. Grace sings.",
                beats=["Emily runs", "Ted waits", "Grace is saved by grace"],
            ),
        ],
    )
    bible = outline_bible(book)
    assert sorted(bible.names()) == [
        "Elin",
        "Emily",
        "Grace",
        "Jory",
        "Mara",
        "Patel",
        "Penrose",
        "Rask",
        "Smith",
        "Ted",
    ]
    assert bible.contract(2).characters == ["Mara"]  # type: ignore[union-attr]
    guide = book.model_copy(update={"genre": "non-fiction"})
    assert outline_bible(guide).names() == frozenset()


class Planner(ScriptedProvider):
    """Answers planning calls from its own script (prose, or JSON) and counts them."""

    def __init__(self, *answers: str) -> None:
        super().__init__()
        self.plans = list(answers)

    def complete(self, request: CompletionRequest) -> Completion:
        if request.metadata.get("step") == "bible":
            self.planning.append(request)
            return self._completion(self.plans.pop(0))
        return super().complete(request)


def run(
    outline: Path, tmp_path: Path, provider: ScriptedProvider, events: list[Event] | None = None
):  # type: ignore[no-untyped-def]
    import asyncio

    orchestrator = AsyncBookOrchestrator(
        source_file=outline,
        provider=provider,
        output_dir=tmp_path / "books",
        events=events.append if events is not None else (lambda event: None),
    )
    asyncio.run(orchestrator.generate_chapters_parallel())
    return orchestrator


def test_a_malformed_answer_is_asked_again_then_replaced_by_the_outline(
    outline: Path, tmp_path: Path
) -> None:
    events: list[Event] = []
    provider = Planner("No JSON here, sorry.", "Still prose.")
    orchestrator = run(outline, tmp_path, provider, events)
    assert len(provider.planning) == 2
    assert "only the JSON object" in provider.planning[1].messages[-1].content
    notes = [e.data["message"] for e in events if e.kind == "notice"]
    assert "the model's story bible could not be used; using one built from the outline" in notes
    saved = json.loads((tmp_path / "books/the-test-book/bible.json").read_text())
    assert saved["source"] == "outline"
    assert (
        (tmp_path / "books/the-test-book/bible.md")
        .read_text()
        .startswith("# Story bible: The Test Book")
    )
    assert [s.status for s in orchestrator.store.manifest.chapters] == ["completed"] * 4


def test_the_bible_is_in_every_chapter_prompt_and_reused_and_edits_are_honoured(
    outline: Path, tmp_path: Path
) -> None:
    plan = json.dumps(
        {
            "characters": [{"name": "Mara", "role": "the keeper's daughter"}],
            "chapters": [{"number": 2, "starts": "at the mill", "characters": ["Tobias"]}],
        }
    )
    provider = Planner(plan)
    run(outline, tmp_path, provider)
    assert len(provider.planning) == 1
    assert all("Mara; the keeper's daughter" in r.messages[0].content for r in provider.history)
    chapter_two = next(r for r in provider.history if r.metadata["chapter"] == "2")
    assert "Start: at the mill" in chapter_two.messages[-1].content
    # The user edits the bible; a forced rerun uses it as written and plans nothing.
    path = tmp_path / "books/the-test-book/bible.json"
    edited = json.loads(path.read_text())
    edited["characters"][0]["role"] = "the lighthouse keeper"
    path.write_text(json.dumps(edited))
    again = Planner()
    import asyncio

    orchestrator = AsyncBookOrchestrator(
        source_file=outline, provider=again, output_dir=tmp_path / "books", force=True
    )
    asyncio.run(orchestrator.generate_chapters_parallel([1]))
    assert again.planning == []
    assert "Mara; the lighthouse keeper" in again.history[0].messages[0].content
