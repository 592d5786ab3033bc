from __future__ import annotations

import pytest

from bookgen.analyzers.base import Finding, GenreStyle
from bookgen.analyzers.style import STYLE, dialogue_share, sentence_variety
from tests.analyzers.helpers import BODY, CLEAN, draft

NARRATION = BODY.replace(
    "“We’ll be lucky to see the other side before dark,” the mate told her. “Then I’ll read,” "
    "Ines said, and she did.",
    "The mate thought they would be lucky to see the other side before dark.",
)
MYSTERY = GenreStyle("mystery", 0.2, 0.6, 0.3)
NON_FICTION = GenreStyle("non-fiction", 0.0, 0.2, 0.25)


def test_dialogue_share_counts_words_inside_curly_and_straight_quotes() -> None:
    assert dialogue_share("“Come in,” she said. He stayed outside.") == pytest.approx(2 / 7)
    assert dialogue_share('"Come in," she said. "Now." He stayed.') == pytest.approx(3 / 7)
    assert dialogue_share("No one spoke.") == 0.0


def test_british_single_quotes_count_when_there_are_no_double_ones() -> None:
    assert dialogue_share("‘Don’t go,’ she said. He went anyway.") == pytest.approx(2 / 7)


def test_an_unclosed_quote_stops_at_its_paragraph() -> None:
    text = "“Wait, she said.\n\nHe did not wait. He went down to the boats."
    assert dialogue_share(text) == pytest.approx(3 / 13)


def test_little_dialogue_is_minor() -> None:
    assert "“" not in NARRATION
    result = STYLE(draft(NARRATION))
    assert result.score == pytest.approx(0.85)
    assert result.findings == [
        Finding(
            "style",
            "minor",
            "There is little dialogue (0% of the words; a general chapter usually has 5%-60%). "
            "Let the characters speak: turn some summary into exchanges.",
        )
    ]


def test_non_fiction_needs_no_dialogue() -> None:
    assert STYLE(draft(NARRATION, style=NON_FICTION)).findings == []


def test_too_much_dialogue_for_the_genre_is_minor() -> None:
    things = "boat ferry dinghy skiff barge sloop ketch yawl cutter lugger".split()
    text = " ".join(
        f"“Did you see the {thing} go out this morning, or was it still tied up?” he asked."
        for thing in things
    )
    assert STYLE(draft(text, style=MYSTERY)).findings == [
        Finding(
            "style",
            "minor",
            "Dialogue takes 88% of the words (a mystery chapter usually has 20%-60%). Ground the "
            "talk in action, setting and the characters' reactions.",
        )
    ]


def test_sentences_of_one_length_are_minor() -> None:
    things = "boat net rope sail oar mast deck hull keel tide lamp bell door roof".split()
    text = " ".join(
        f"“The {thing} is down by the pier,” she told him."
        if i % 2
        else f"The {thing} lay by the pier in the cold rain."
        for i, thing in enumerate(things * 2)
    )
    assert sentence_variety(text) == 0.0
    assert STYLE(draft(text)).findings == [
        Finding(
            "style",
            "minor",
            "Sentences are all about the same length (variation 0.00; aim for 0.25 or more). Mix "
            "short, direct sentences with longer ones.",
        )
    ]


def test_clean_chapter_passes_every_preset_it_fits() -> None:
    assert sentence_variety(CLEAN) == pytest.approx(0.8166, abs=1e-4)
    for style in [GenreStyle("general", 0.05, 0.6, 0.25), GenreStyle("literary", 0.05, 0.45, 0.35)]:
        assert STYLE(draft(CLEAN, style=style)).findings == []


def test_short_texts_are_not_judged() -> None:
    assert STYLE(draft("He went. She went. They went. We went. You went.")).findings == []
