from __future__ import annotations

import random
import re

import pytest
from textstat.backend import counts, metrics

from bookgen.analyzers.base import Finding
from bookgen.analyzers.readability import LANG, READABILITY, audience_band, flesch, sentence_count
from tests.analyzers.helpers import BODY, CLEAN, FIXTURES, draft

# Dense academic prose: reading ease about -82, grade about 33.
ACADEMIC = (FIXTURES / "academic.txt").read_text(encoding="utf-8").strip()
# BODY with two academic sentences: reading ease 47.7, grade 10.9.
MIXED = BODY + " " + " ".join(re.split(r"(?<=\.) ", ACADEMIC)[:2])


@pytest.mark.parametrize(
    ("audience", "band"),
    [
        ("general readers", "general readers"),
        ("adults who like sea stories", "general readers"),
        ("readers aged 12 to 16", "young adult readers"),
        ("ages 14+", "young adult readers"),
        ("teenagers", "young adult readers"),
        ("Young Adult", "young adult readers"),
        ("children aged 6-9", "children"),
        ("ages 8 to 12", "children"),
        ("kids who love boats", "children"),
        ("middle grade", "children"),
        ("readers aged 18 and over", "general readers"),
        ("academic historians", "academic readers"),
        ("researchers and graduate students", "academic readers"),
    ],
)
def test_audience_band(audience: str, band: str) -> None:
    assert audience_band(audience).readers == band


def test_slightly_too_hard_for_general_readers_is_minor() -> None:
    result = READABILITY(draft(MIXED))
    assert result.score == 0.75
    assert result.findings == [
        Finding(
            "readability",
            "minor",
            "The prose is too hard for general readers (reading ease 48, grade 10.9; aim for "
            "reading ease 50 or more, grade 12 or less). Use shorter sentences and plainer, more "
            "concrete words.",
        )
    ]


def test_the_same_text_is_far_too_hard_for_young_adults() -> None:
    result = READABILITY(draft(MIXED, audience="readers aged 12 to 16"))
    assert result.score == 0.4
    assert result.findings == [
        Finding(
            "readability",
            "major",
            "The prose is too hard for young adult readers (reading ease 48, grade 10.9; aim for "
            "reading ease 60 or more, grade 9 or less). Use shorter sentences and plainer, more "
            "concrete words.",
        )
    ]


def test_academic_prose_is_major_for_general_readers() -> None:
    [finding] = READABILITY(draft(ACADEMIC)).findings
    assert finding.severity == "major"
    assert finding.message.startswith("The prose is too hard for general readers (reading ease -82")


def test_plain_fiction_is_too_simple_for_an_academic_audience() -> None:
    assert READABILITY(draft(CLEAN, audience="academic readers")).findings == [
        Finding(
            "readability",
            "major",
            "The prose is simpler than academic readers expect (reading ease 90, grade 3.9; aim "
            "for reading ease 70 or less, grade 8 or more). Use fuller sentences and more precise "
            "vocabulary.",
        )
    ]


@pytest.mark.parametrize("audience", ["general readers", "readers aged 12 to 16", "children"])
def test_clean_chapter_suits_fiction_audiences(audience: str) -> None:
    assert READABILITY(draft(CLEAN, audience=audience)).findings == []


def test_short_texts_are_not_judged() -> None:
    short = " ".join(ACADEMIC.split()[:140])
    assert READABILITY(draft(short, audience="children")).findings == []


def _odd_texts() -> list[str]:
    """Texts that stress textstat's own rules: two-word sentences, bare punctuation,
    apostrophes, a dotted capital I (lower-cased to two characters), run-on pieces."""
    rng = random.Random(7)
    parts = [*"ab  .!?'’\"-—,İ\n", "Mr. ", "don't ", "'tis "]
    fuzz = ["".join(rng.choice(parts) for _ in range(rng.randint(0, 60))) for _ in range(300)]
    return [
        "",
        "Hi.",
        "Hi. Go. Run now!",
        "'Tis the end... of days?! Yes -- it is. A b. c d e.",
        'He said, "No." "Yes," she said. — — — . . . Wait!',
        "end.Next one two. x.y.z",
        "İstanbul was big. Über alles ok. ’Twas 'n' so.",
        *fuzz,
    ]


@pytest.mark.parametrize("text", [BODY, CLEAN, ACADEMIC, MIXED, *_odd_texts()])
def test_figures_are_textstats(text: str) -> None:
    # The analyzer counts faster than textstat but must not count differently.
    assert sentence_count(text) == counts.count_sentences(text)
    assert flesch(text) == (
        metrics.flesch_reading_ease(text, LANG),
        metrics.flesch_kincaid_grade(text, LANG),
    )
