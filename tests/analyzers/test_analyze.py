from __future__ import annotations

import doctest
import importlib
import random
from dataclasses import dataclass

import pytest

from bookgen.analyzers import ANALYZERS, Analysis, analyze, forget_texts
from bookgen.analyzers.base import Draft, Finding, Result
from bookgen.analyzers.leaks import strip_leaks
from bookgen.analyzers.repetition import cut_repeated_tail
from tests.analyzers.helpers import BODY, CLEAN, KNOWN, draft

LOOPED = "She turned the page and found the same figures staring back at her, again and again."


@dataclass
class Fixed:
    """An analyzer that returns what it is told."""

    name: str
    weight: float
    score: float
    findings: tuple[Finding, ...] = ()

    def __call__(self, draft: Draft) -> Result:
        return Result(self.name, self.score, list(self.findings))


def test_the_clean_3000_word_chapter_triggers_nothing() -> None:
    backwards = "\n\n".join(" ".join(p.split()[::-1]) for p in CLEAN.split("\n\n"))
    others = {1: BODY, 2: "Rain fell on Kellhaven all night.\n\n" + BODY, 4: backwards}
    analysis = analyze(
        draft(CLEAN, target_words=3000, others=others, required_names=frozenset({"Osk"}))
    )
    assert analysis.findings == []
    assert analysis.acceptable
    assert analysis.score == 1.0
    assert [r.score for r in analysis.results] == [1.0] * len(ANALYZERS)


def test_registry_order_names_and_weights() -> None:
    assert [(a.name, a.weight) for a in ANALYZERS] == [
        ("truncation", 3.0),
        ("length", 3.0),
        ("leaks", 3.0),
        ("ending", 3.0),
        ("repetition", 3.0),
        ("continuity", 2.0),
        ("readability", 1.0),
        ("style", 1.0),
        ("cliches", 1.0),
    ]


def test_score_is_the_weighted_mean() -> None:
    analysis = analyze(draft(BODY), [Fixed("a", 3.0, 0.0), Fixed("b", 1.0, 1.0)])
    assert analysis.score == pytest.approx(0.25)
    assert [r.analyzer for r in analysis.results] == ["a", "b"]


def test_a_hard_finding_makes_the_draft_unacceptable_whatever_its_score() -> None:
    hard = Finding("a", "hard", "cut off")
    analysis = analyze(draft(BODY), [Fixed("a", 1.0, 1.0, (hard,)), Fixed("b", 9.0, 1.0)])
    assert (analysis.score, analysis.acceptable) == (1.0, False)


def test_major_and_minor_findings_leave_it_acceptable() -> None:
    findings = (Finding("a", "major", "x"), Finding("a", "minor", "y"))
    analysis = analyze(draft(BODY), [Fixed("a", 1.0, 0.2, findings)])
    assert analysis.acceptable
    assert analysis.score == pytest.approx(0.2)


def test_findings_are_ordered_hard_major_minor_stably() -> None:
    minor, major = Finding("a", "minor", "m1"), Finding("a", "major", "M1")
    hard1, hard2 = Finding("b", "hard", "H1"), Finding("c", "hard", "H2")
    analysis = analyze(
        draft(BODY),
        [
            Fixed("a", 1.0, 0.5, (minor, major)),
            Fixed("b", 1.0, 0.0, (hard1,)),
            Fixed("c", 1.0, 0.0, (hard2,)),
        ],
    )
    assert analysis.findings == [hard1, hard2, major, minor]


def test_as_json_for_the_manifest() -> None:
    analysis = Analysis(
        score=2 / 3,
        results=[Result("length", 1 / 3, [Finding("length", "major", "short")]), Result("x", 1.0)],
        findings=[Finding("length", "major", "short")],
        acceptable=True,
    )
    assert analysis.as_json() == {
        "score": 0.6667,
        "acceptable": True,
        "analyzers": {"length": 0.3333, "x": 1.0},
        "findings": [{"analyzer": "length", "severity": "major", "message": "short"}],
    }


@pytest.mark.parametrize(
    ("text", "finish_reason", "analyzer"),
    [
        (" ".join(CLEAN.split()[:1200]) + ".", "stop", "length"),
        (CLEAN, "length", "truncation"),
        (CLEAN.rstrip().rstrip("."), "stop", "truncation"),
        ("Here is the chapter you asked for:\n\n" + CLEAN, "stop", "leaks"),
        (CLEAN + "\n\nI hope you enjoyed it! Let me know if you'd like changes.", "stop", "leaks"),
        (CLEAN + ("\n\n" + LOOPED) * 4, "stop", "repetition"),
        (CLEAN + "\n\nThe End.", "stop", "ending"),
    ],
)
def test_each_known_defect_makes_a_chapter_unacceptable(
    text: str, finish_reason: str, analyzer: str
) -> None:
    analysis = analyze(draft(text, finish_reason=finish_reason))
    assert not analysis.acceptable
    assert analysis.findings[0].analyzer == analyzer
    assert analysis.findings[0].severity == "hard"


def test_rule_repairs_restore_a_leaky_looping_chapter() -> None:
    text = "Sure! Here is chapter 3:\n\n" + CLEAN + ("\n\n" + LOOPED) * 5 + "\n\nWord count: 3,100"
    assert not analyze(draft(text)).acceptable
    repaired = cut_repeated_tail(strip_leaks(text))
    assert repaired == CLEAN.rstrip() + "\n\n" + LOOPED
    analysis = analyze(draft(repaired))
    assert analysis.acceptable
    assert analysis.findings == []


@pytest.mark.parametrize(
    "module",
    [
        "bookgen.analyzers",
        "bookgen.analyzers.cliches",
        "bookgen.analyzers.continuity",
        "bookgen.analyzers.ending",
        "bookgen.analyzers.leaks",
        "bookgen.analyzers.length",
        "bookgen.analyzers.loops",
        "bookgen.analyzers.readability",
        "bookgen.analyzers.repetition",
        "bookgen.analyzers.style",
        "bookgen.analyzers.truncation",
    ],
)
def test_docstring_examples_hold(module: str) -> None:
    failed, attempted = doctest.testmod(importlib.import_module(module))
    assert attempted > 0
    assert failed == 0


def test_known_fixture_names_are_the_cast() -> None:
    assert KNOWN == frozenset({"Ines Calder", "Tobias Wren", "Osk", "Kellhaven", "Marrow Point"})


def test_forget_texts_empties_every_cache_of_texts() -> None:
    from bookgen.analyzers import _text, readability, repetition

    caches = [
        _text.words,
        _text.sentence_words,
        _text.paragraphs,
        _text.sentence_spans,
        repetition._fingerprint,
        readability._syllables,
        *readability.TEXTSTAT_CACHES,
    ]
    analyze(draft(CLEAN, others={2: BODY}))
    assert all(cache.cache_info().currsize for cache in caches)
    forget_texts()
    assert [cache.cache_info().currsize for cache in caches] == [0] * len(caches)


@pytest.mark.parametrize(
    "text",
    ["", "...", CLEAN, "Don’t GO. İstanbul nights", "ΑΣ.Β Α.Σ ΟΔΥΣΣΕΥΣ", "Mara's ‘quiet’ DOOR"],
)
def test_lower_words_are_the_lower_cased_texts_words(text: str) -> None:
    from bookgen.analyzers._text import WORD, lower_words

    assert lower_words(text) == WORD.findall(text.lower())
    straight = WORD.findall(text.lower().replace("’", "'"))
    assert lower_words(text, straight_apostrophes=True) == straight


def _split_texts() -> list[str]:
    """Prose, and random texts of words, sentence ends, quotes, apostrophes, line breaks
    and letters that lower-case oddly ("İ", "Σ")."""
    rng = random.Random(5)
    parts = [*"ab  .!?…'’\"”)-,İΣ\n", "Mr. ", "don't ", "3.5 ", "ÉTÉ ", "\n\n"]
    fuzz = ["".join(rng.choice(parts) for _ in range(rng.randint(0, 80))) for _ in range(400)]
    return ["", "...", CLEAN, BODY, "Don’t GO. İstanbul nights", "ΑΣ.Β Α.Σ ΟΔΥΣΣΕΥΣ", *fuzz]


def test_one_split_serves_words_sentence_lengths_and_loop_keys() -> None:
    from bookgen.analyzers._text import WORD, key, sentence_spans, sentence_words, words
    from bookgen.analyzers.loops import units

    for text in _split_texts():
        forget_texts()
        spans = sentence_spans(text)
        assert words(text) == tuple(WORD.findall(text)), text
        assert [len(split) for split in sentence_words(text)] == [
            len(WORD.findall(text[a:b])) for a, b in spans
        ], text
        kept, keys, sizes = units(text)
        assert kept == list(spans[: len(kept)]), text
        assert keys == [key(text[a:b]) for a, b in kept], text
        assert sizes == [k.count(" ") + 1 for k in keys], text


def test_sentences_are_found_as_the_rule_says() -> None:
    import re

    from bookgen.analyzers._text import _SENTENCE, SENTENCE_RULE

    rule = re.compile(SENTENCE_RULE, re.MULTILINE)
    rng = random.Random(3)
    parts = [*"ab .!?…'’\"”)]-\n\r\t\x0b\x85\u2028", "Mr. ", "3.5", "\n\n", ".)", '!"', "…”"]
    fuzz = ["".join(rng.choice(parts) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    for text in [*_split_texts(), *fuzz]:
        assert [m.span() for m in _SENTENCE.finditer(text)] == [
            m.span() for m in rule.finditer(text)
        ], text
