"""The prompt tiers and the builder: shared-first order, byte-identical shared parts,
genre presets, the bible and each chapter's contract in the right place."""

from __future__ import annotations

import pytest

from bookgen.bible import Character, Contract, StoryBible
from bookgen.models import BookSpec, ChapterSpec
from bookgen.prompts import TIERS, PromptBuilder, genre_preset, genres

BOOK = BookSpec(
    title="The Salt Road",
    genre="Sci-Fi",
    audience="adults",
    target_words=900,
    chapters=[
        ChapterSpec(number=1, title="Dust", synopsis="Mara leaves the colony.", beats=["A gate"]),
        ChapterSpec(number=2, title="Salt", synopsis="Mara crosses the flats."),
        ChapterSpec(number=3, title="Home", synopsis="Mara returns."),
    ],
)
BIBLE = StoryBible(
    characters=[Character(name="Mara Voss", role="surveyor", traits="stubborn")],
    rules=["The flats kill anyone out after dark."],
    chapters=[Contract(number=2, starts="At the colony gate", characters=["Mara Voss"])],
)


@pytest.mark.parametrize("tier", TIERS)
def test_every_request_of_a_tier_shares_one_system_message(tier: str) -> None:
    builder = PromptBuilder(BOOK, tier=tier, bible=BIBLE)  # type: ignore[arg-type]
    requests = [
        builder.chapter(BOOK.chapters[0]),
        builder.chapter(BOOK.chapters[2]),
        builder.revision(BOOK.chapters[1], "A draft.", ["Too short."]),
        builder.continuation(BOOK.chapters[1], "A draft cut"),
    ]
    # Shared first, byte-identical: the provider can cache it across the book.
    assert {r[0].content for r in requests} == {builder.system}
    assert [[m.role for m in r] for r in requests] == [["system", "user"]] * 4
    assert "Mara Voss; surveyor; stubborn" in builder.system
    assert "The flats kill anyone out after dark." in builder.system
    # The chapter-specific part comes last, in the user message.
    first, third = requests[0][1].content, requests[1][1].content
    assert "Dust" in first and "A gate" in first and "Dust" not in third
    assert "opening chapter" in first and "final chapter" in third
    assert "900" in first
    revision = requests[2][1].content
    assert "A draft." in revision and "Too short." in revision
    assert "At the colony gate" in revision  # chapter 2's contract
    assert "At the colony gate" not in first


def test_tiers_differ_and_grow() -> None:
    systems = {
        tier: PromptBuilder(BOOK, tier=tier).chapter(BOOK.chapters[1])  # type: ignore[arg-type]
        for tier in TIERS
    }
    sizes = {tier: sum(len(m.content) for m in messages) for tier, messages in systems.items()}
    assert sizes["basic"] < sizes["standard"] < sizes["ultra"]
    assert len({messages[0].content for messages in systems.values()}) == 3


def test_genre_presets_and_aliases() -> None:
    key, preset = genre_preset("Sci-Fi")
    assert key == "science fiction"
    builder = PromptBuilder(BOOK, tier="ultra")
    assert preset["voice"] in builder.system
    assert genre_preset("YA")[0] == "young adult"
    assert genre_preset("cookbook")[0] == "general"
    expected = {
        "fantasy",
        "science fiction",
        "mystery",
        "thriller",
        "romance",
        "literary",
        "horror",
        "young adult",
        "non-fiction",
        "general",
    }
    assert expected <= set(genres())
    for preset in genres().values():
        assert 0 <= preset["dialogue_min"] < preset["dialogue_max"] <= 1


def test_the_bible_request_carries_the_outline() -> None:
    for tier in TIERS:
        (message,) = PromptBuilder(BOOK, tier=tier).bible_request()  # type: ignore[arg-type]
        assert message.role == "user"
        assert "1. Dust: Mara leaves the colony." in message.content
        assert "3. Home: Mara returns." in message.content
