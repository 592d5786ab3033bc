from __future__ import annotations

import random

import pytest

from bookgen.analyzers.base import Finding
from bookgen.analyzers.loops import MAX_PERIOD, Run, find_loops, runs_at
from bookgen.analyzers.repetition import REPETITION, cut_repeated_tail
from tests.analyzers.helpers import BODY, CLEAN, draft

# Three sentences, 27 words: a paragraph a looping model might repeat.
LOOPED = (
    "She turned the page and found the same figures staring back at her. The columns did "
    "not add up. Somewhere in the town a bell was ringing for the evening tide."
)
OPENING = "The ledger lay open on the counter where Ines Calder had left it."


def test_a_paragraph_repeated_in_a_row_is_a_hard_loop() -> None:
    text = "\n\n".join([BODY, LOOPED, LOOPED, LOOPED, LOOPED, BODY.replace("ferry", "boat")])
    result = REPETITION(draft(text))
    assert result.score == 0.0
    assert result.findings == [
        Finding(
            "repetition",
            "hard",
            'The text loops: "She turned the page and found the same figures staring back…" '
            "repeats 4 times in a row. Keep one copy, cut the rest and continue the story from "
            "there.",
        )
    ]


def test_one_sentence_three_times_in_a_row_is_a_loop() -> None:
    sentence = "He said that the salt would have to wait until morning. "
    [finding] = REPETITION(draft(BODY + " " + sentence * 3 + "Then they slept.")).findings
    assert finding.severity == "hard"
    assert "repeats 3 times in a row" in finding.message


def test_a_block_repeated_once_at_the_very_end_is_a_loop() -> None:
    [finding] = REPETITION(draft("\n\n".join([BODY, LOOPED, LOOPED]))).findings
    assert finding.severity == "hard"
    assert "repeats 2 times in a row" in finding.message


def test_short_repeats_are_style_not_loops() -> None:
    text = BODY + "\n\n“No. No. No.” She shook her head. Then the boat came in."
    assert REPETITION(draft(text)).findings == []


def test_a_short_block_repeated_twice_mid_text_is_not_a_loop() -> None:
    text = BODY + " She waited for him. She waited for him. Then the boat came in."
    assert REPETITION(draft(text)).findings == []


def test_repeated_sentence_far_apart_is_minor_and_quoted() -> None:
    sentence = "The salt had always been the town's only real money."
    text = f"{sentence} {BODY}\n\n{sentence}"
    assert REPETITION(draft(text)).findings == [
        Finding(
            "repetition",
            "minor",
            'Sentences repeat (1 used more than once, e.g. "The salt had always been the '
            "town's only real money.\"). Say each thing once.",
        )
    ]


def test_three_repeated_sentences_are_major() -> None:
    repeated = [
        "The salt had always been the town's only real money.",
        "Nobody in the harbour trusted a clerk from the city.",
        "Her uncle never once raised his voice at the crew.",
    ]
    text = " ".join(repeated) + "\n\n" + BODY + "\n\n" + " ".join(reversed(repeated))
    finding = REPETITION(draft(text)).findings[0]
    assert finding.severity == "major"
    assert finding.message.startswith("Sentences repeat (3 used more than once, e.g. ")


def test_a_paragraph_repeated_far_apart_is_major() -> None:
    text = "\n\n".join([LOOPED, BODY, LOOPED])
    findings = REPETITION(draft(text)).findings
    assert (
        Finding(
            "repetition",
            "major",
            'A paragraph appears 2 times ("She turned the page and found the same figures staring '
            'back…"). Keep one and write something new in place of the others.',
        )
        in findings
    )


def test_heavy_phrase_repetition_names_the_phrase() -> None:
    things = "rope net sail oar mast deck hull keel tide salt pier bell lamp door roof".split()
    text = " ".join(
        f"She looked at the {a} for a while and then she looked at the {b} again."
        for a, b in zip(things, things[1:] + things[:1], strict=True)
    )
    [finding] = REPETITION(draft(text)).findings
    assert finding.severity == "major"
    assert finding.message.startswith("Phrases repeat: ")
    assert '(most often "she looked at the", 30 times). Vary the wording.' in finding.message


def test_clean_chapter_passes() -> None:
    assert REPETITION(draft(CLEAN)).findings == []


# --- across chapters ---------------------------------------------------------------------


def test_same_opening_as_another_chapter_is_major() -> None:
    other = OPENING + " Then she went out to the pier."
    result = REPETITION(draft(CLEAN, others={1: BODY, 2: other}))
    assert result.findings == [
        Finding(
            "repetition",
            "major",
            'The chapter opens the same way as chapter 2 ("The ledger lay open on the counter '
            'where Ines Calder had…"). Open with a different image or action.',
        )
    ]
    assert result.score == pytest.approx(0.7)


def test_same_first_twelve_words_is_the_same_opening() -> None:
    other = "The ledger lay open on the counter where Ines Calder had left it, wet and ruined."
    [finding] = REPETITION(draft(CLEAN, others={5: other})).findings
    assert finding.message.startswith("The chapter opens the same way as chapter 5")


def test_a_different_opening_with_the_same_first_words_passes() -> None:
    other = "The ledger lay open. Nobody had touched it for a week."
    assert REPETITION(draft(CLEAN, others={5: other})).findings == []


def test_paragraph_copied_from_another_chapter_is_major() -> None:
    other = "A different start entirely.\n\n" + BODY
    text = "Ines walked down to the pier.\n\n" + BODY
    assert REPETITION(draft(text, others={7: other})).findings == [
        Finding(
            "repetition",
            "major",
            'Paragraphs are copied from chapter 7 (1 in all, e.g. "The ferry left at dawn. Ines '
            'stood at the rail with her…"). Rewrite them so this chapter says something new.',
        )
    ]


def test_the_chapter_itself_among_others_is_ignored() -> None:
    assert REPETITION(draft(CLEAN, others={3: CLEAN})).findings == []


# --- cut_repeated_tail ------------------------------------------------------------------


def test_cut_repeated_tail_keeps_one_copy() -> None:
    text = "Rain fell.\n\n" + LOOPED + "\n\n" + LOOPED + "\n\n" + LOOPED
    assert cut_repeated_tail(text) == "Rain fell.\n\n" + LOOPED


def test_cut_repeated_tail_drops_a_copy_cut_off_midway() -> None:
    text = f"Rain fell. {LOOPED} {LOOPED} She turned the page and found"
    assert cut_repeated_tail(text) == f"Rain fell. {LOOPED}"


def test_cut_repeated_tail_finds_the_period_of_a_partial_last_block() -> None:
    a = "The first thing she saw was the ledger on the counter."
    b = "The second thing was the pencil lying across the page."
    c = "The third thing was the smell of tar from the door."
    text = f"Rain fell. {a} {b} {c} {a} {b} {c} {a} {b}"
    assert cut_repeated_tail(text) == f"Rain fell. {a} {b} {c}"


def test_cut_repeated_tail_leaves_text_without_a_looping_tail_unchanged() -> None:
    assert cut_repeated_tail(CLEAN) is CLEAN
    middle = "\n\n".join([LOOPED, LOOPED, LOOPED, BODY])
    assert cut_repeated_tail(middle) is middle


def _loops_at_every_period(keys: list[str], sizes: list[int]) -> list[Run]:
    """find_loops without its shortcut: every period searched."""
    return runs_at(keys, sizes, range(1, min(MAX_PERIOD, len(keys) // 2) + 1))


def test_find_loops_searches_every_period_that_can_repeat() -> None:
    # Only the distances between equal sentences are searched: the same runs as searching
    # them all, on random texts with and without repeated blocks.
    rng = random.Random(11)
    for _ in range(500):
        keys = [str(rng.randint(0, rng.randint(1, 12))) for _ in range(rng.randint(0, 70))]
        if keys and rng.random() < 0.5:
            start, period = rng.randrange(len(keys)), rng.randint(1, 5)
            keys[start:start] = keys[start : start + period] * rng.randint(2, 5)
        sizes = [rng.randint(1, 12) for _ in keys]
        assert find_loops(keys, sizes) == _loops_at_every_period(keys, sizes)
    many = ["no"] * 3000  # one sentence over and over: every period at once
    assert find_loops(many, [9] * 3000) == _loops_at_every_period(many, [9] * 3000)
