from __future__ import annotations

from collections import Counter

import pytest

from bookgen.analyzers.base import Finding
from bookgen.analyzers.cliches import CLICHES, ClichesAnalyzer, load_cliches
from tests.analyzers.helpers import BODY, CLEAN, draft


def test_the_packaged_list_is_lower_case_and_without_duplicates() -> None:
    phrases = load_cliches()
    assert len(phrases) >= 150
    assert len(set(phrases)) == len(phrases)
    assert all(phrase == phrase.strip().lower() for phrase in phrases)
    assert {"a testament to", "couldn't help but", "tapestry of", "palpable"} <= set(phrases)


def test_count_matches_whole_words_ignoring_case_punctuation_and_curly_apostrophes() -> None:
    text = (
        "It was a testament to her patience. She couldn’t help but smile; she COULDN'T HELP "
        "BUT laugh. The tension was palpable, impalpable even."
    )
    assert CLICHES.count(text) == Counter(
        {"couldn't help but": 2, "a testament to": 1, "palpable": 1}
    )


def test_words_are_lower_cased_as_the_whole_text_is() -> None:
    # The words come from the draft's own split, lower-cased together; where that could
    # differ from lower-casing the text (a Greek capital sigma lower-cases by its
    # neighbours, "İ" to two characters) the text is split again.
    assert ClichesAnalyzer(["ασ"]).count("ΑΣ.Β") == Counter({"ασ": 1})
    assert ClichesAnalyzer(["σ"]).count("Α.Σ Α.Σ") == Counter()
    assert ClichesAnalyzer(["i̇stanbul nights"]).count("İstanbul nights, İstanbul") == Counter(
        {"i̇stanbul nights": 1}
    )


def test_the_longest_phrase_wins_and_matches_do_not_overlap() -> None:
    analyzer = ClichesAnalyzer(["a beacon of", "a beacon of hope", "hope"])
    assert analyzer.count("She was a beacon of hope, and hope was all.") == Counter(
        {"a beacon of hope": 1, "hope": 1}
    )


def test_dense_cliches_are_major_and_the_worst_are_named() -> None:
    text = BODY + (
        " A sense of dread filled her. The air was thick with salt and a sense of loss."
        " She couldn't help but notice a sense of calm. Palpable. In the blink of an eye it"
        " was gone, a testament to the sea. She couldn't help but wonder."
    )
    result = CLICHES(draft(text))
    assert result.score == pytest.approx(0.1)  # 9 under the 1,000-word floor
    assert result.findings == [
        Finding(
            "cliches",
            "major",
            'Stock phrases: 9.0 per 1,000 words (9 in all); most used: "a sense of" (3), '
            '"couldn\'t help but" (2), "the air was thick with" (1). Replace them with concrete, '
            "specific detail of this story.",
        )
    ]


def test_a_few_cliches_in_a_long_chapter_are_minor() -> None:
    text = CLEAN + (
        " It was a testament to her patience, a sense of duty, a sense of home. Her mind raced."
        " Time stood still. Little did she know. Only time would tell."
    )
    [finding] = CLICHES(draft(text)).findings
    assert finding.severity == "minor"
    assert finding.message.startswith("Stock phrases: 2.3 per 1,000 words (7 in all)")


def test_one_cliche_in_a_short_scene_is_not_a_density() -> None:
    assert CLICHES(draft("A sense of dread. She ran.")).findings == []


def test_clean_chapter_has_none() -> None:
    assert CLICHES.count(CLEAN) == Counter()
    assert CLICHES(draft(CLEAN)).score == 1.0
