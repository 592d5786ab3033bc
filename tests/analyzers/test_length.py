from __future__ import annotations

import pytest

from bookgen.analyzers.base import Finding
from bookgen.analyzers.length import LENGTH
from tests.analyzers.helpers import draft


def words(n: int) -> str:
    return "word " * n


def test_far_too_short_is_hard_and_says_how_to_fix_it() -> None:
    result = LENGTH(draft(words(412), target_words=1500))
    assert result.findings == [
        Finding(
            "length",
            "hard",
            "The chapter has 412 words; it should have about 1,500. Continue the story through "
            "the rest of the chapter's events, developing each scene with action, dialogue and "
            "detail, to reach the length.",
        )
    ]
    assert result.score == pytest.approx(412 / 1500 / 0.9)


@pytest.mark.parametrize(
    ("count", "severity"),
    [(599, "hard"), (600, "major"), (799, "major"), (800, "minor"), (899, "minor")],
)
def test_shortfall_severity_steps_at_60_80_and_90_percent(count: int, severity: str) -> None:
    [finding] = LENGTH(draft(words(count), target_words=1000)).findings
    assert finding.severity == severity
    assert finding.message.startswith(f"The chapter has {count} words; it should have about 1,000.")


@pytest.mark.parametrize("count", [900, 1000, 1250, 1500])
def test_near_the_target_no_finding(count: int) -> None:
    assert LENGTH(draft(words(count), target_words=1000)).findings == []


def test_score_is_full_between_90_and_125_percent_then_falls() -> None:
    scores = {
        n: LENGTH(draft(words(n), target_words=1000)).score
        for n in (300, 600, 900, 1250, 1500, 2000)
    }
    assert scores[300] == pytest.approx(1 / 3)
    assert scores[600] == pytest.approx(2 / 3)
    assert scores[900] == scores[1250] == 1.0
    assert scores[1500] == pytest.approx(0.8)
    assert scores[2000] == pytest.approx(0.4)


def test_far_too_long_is_minor() -> None:
    assert LENGTH(draft(words(1501), target_words=1000)).findings == [
        Finding(
            "length",
            "minor",
            "The chapter has 1,501 words; it should have about 1,000. Tighten it: cut "
            "repetition and summary to come closer to the length.",
        )
    ]


def test_every_word_added_to_a_short_draft_raises_the_score() -> None:
    scores = [LENGTH(draft(words(n), target_words=1000)).score for n in range(0, 901, 50)]
    assert scores == sorted(set(scores))


def test_empty_text_scores_zero() -> None:
    result = LENGTH(draft("", target_words=1000))
    assert (result.score, result.hard) == (0.0, True)


def test_no_target_no_judgement() -> None:
    assert LENGTH(draft(words(5), target_words=0)).findings == []
