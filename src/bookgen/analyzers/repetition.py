"""Repetition inside the chapter and across chapters.

Inside: a degenerate loop (a block of sentences repeated three or more times in a row,
or repeated at the very end, where a model stuck in a loop stops) is a hard defect;
repeated sentences and paragraphs and a high rate of repeated four-word sequences are
major or minor. Across chapters: the same opening as another chapter, or a paragraph
copied from one, is major. ``cut_repeated_tail`` (from ``loops``) repairs a looping
ending.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Sequence

from bookgen.analyzers._text import (
    WORD,
    clamp,
    first_sentence,
    key,
    lower_words,
    paragraphs,
    quote,
)
from bookgen.analyzers.base import Draft, Finding, Result, Severity
from bookgen.analyzers.loops import cut_repeated_tail, find_loops, units

__all__ = ["REPETITION", "RepetitionAnalyzer", "cut_repeated_tail"]

SENTENCE_WORDS = 8  # shorter sentences may recur ("He waited.")
PARAGRAPH_WORDS = 12
NGRAM_MINOR, NGRAM_MAJOR = 0.04, 0.08  # share of 4-grams that repeat an earlier one
OPENING_WORDS = 12
SHARED_WORDS = 20  # paragraphs this long are compared across chapters


def _ngram_rate(words: Sequence[str], *, at_least: float = 0.0) -> tuple[float, str, int]:
    """The share of 4-grams that repeat an earlier one, and the commonest 4-gram (looked
    for only when the share reaches ``at_least``: counting them all costs more)."""
    grams = list(zip(words, words[1:], words[2:], words[3:], strict=False))
    if not grams:
        return 0.0, "", 0
    rate = 1.0 - len(set(grams)) / len(grams)
    if rate < at_least or not rate:
        return rate, "", 0
    top, count = Counter(grams).most_common(1)[0]
    return rate, " ".join(top), count


@functools.lru_cache(maxsize=512)
def _fingerprint(text: str) -> tuple[tuple[str, str], frozenset[str]]:
    """What the cross-chapter checks need of another chapter, worked out once per text:
    every chapter job compares itself with the same finished chapters."""
    return _opening(text), frozenset(paragraphs(text))


def _opening(text: str) -> tuple[str, str]:
    """Keys of the first sentence (if 4+ words) and of the first OPENING_WORDS words."""
    # The first lines are enough, and reading no further keeps 20 other chapters cheap.
    lines = (line for line in text[:2000].splitlines() if line.strip() and line[0] != "#")
    head = next(lines, "")
    first = key(first_sentence(head))
    # Only the first OPENING_WORDS words are wanted: the scan stops there.
    joined = " ".join([head, *itertools.islice(lines, 3)]).lower()
    words = [m.group() for m in itertools.islice(WORD.finditer(joined), OPENING_WORDS)]
    return (first if first.count(" ") >= 3 else ""), (
        " ".join(words) if len(words) == OPENING_WORDS else ""
    )


class RepetitionAnalyzer:
    """Loops, repeated sentences, paragraphs and phrases; openings and paragraphs reused.

    >>> REPETITION(Draft("It rained on the old town all night. " * 3, 1, "Rain", 20)).hard
    True
    """

    name = "repetition"
    weight = 3.0

    def __call__(self, draft: Draft) -> Result:
        spans, keys, sizes = units(draft.text)
        loops = find_loops(keys, sizes)
        if loops:
            run = loops[0]
            block = quote(draft.text[spans[run.start][0] : spans[run.start + run.period - 1][1]])
            message = (
                f'The text loops: "{block}" repeats {1 + run.length // run.period} times in a '
                "row. Keep one copy, cut the rest and continue the story from there."
            )
            return Result(self.name, 0.0, [Finding(self.name, "hard", message)])
        found = _inside(draft.text, spans, keys, sizes) + _across(draft)
        penalty = sum(0.3 if severity == "major" else 0.1 for severity, _ in found)
        return Result(self.name, clamp(1.0 - penalty), [Finding(self.name, *f) for f in found])


def _inside(
    text: str, spans: list[tuple[int, int]], keys: list[str], sizes: list[int]
) -> list[tuple[Severity, str]]:
    found: list[tuple[Severity, str]] = []
    counts = Counter(k for k, size in zip(keys, sizes, strict=True) if size >= SENTENCE_WORDS)
    if repeated := [k for k, n in counts.most_common() if n > 1]:
        start, end = spans[keys.index(repeated[0])]
        message = (
            f"Sentences repeat ({len(repeated)} used more than once, e.g. "
            f'"{quote(text[start:end])}"). Say each thing once.'
        )
        found.append(("major" if len(repeated) >= 3 else "minor", message))
    paras = Counter(p for p in paragraphs(text) if len(p.split()) >= PARAGRAPH_WORDS)
    if doubled := [(p, n) for p, n in paras.most_common() if n > 1]:
        message = (
            f'A paragraph appears {doubled[0][1]} times ("{quote(doubled[0][0])}"). Keep one '
            "and write something new in place of the others."
        )
        found.append(("major", message))
    rate, gram, count = _ngram_rate(lower_words(text), at_least=NGRAM_MINOR)
    if rate >= NGRAM_MINOR:
        message = (
            f"Phrases repeat: {rate:.0%} of four-word sequences occur more than once (most "
            f'often "{gram}", {count} times). Vary the wording.'
        )
        found.append(("major" if rate >= NGRAM_MAJOR else "minor", message))
    return found


def _across(draft: Draft) -> list[tuple[Severity, str]]:
    found: list[tuple[Severity, str]] = []
    first, opening = _opening(draft.text)
    # Verbatim copies only: that is how models reuse a paragraph, and it keeps this cheap.
    own = [p for p in paragraphs(draft.text) if len(p.split()) >= SHARED_WORDS]
    for number, other in sorted(draft.others.items()):
        if number == draft.number:
            continue
        (their_first, their_opening), theirs = _fingerprint(other)
        if first == their_first != "" or opening == their_opening != "":
            message = (
                f'The chapter opens the same way as chapter {number} ("{quote(draft.text)}"). '
                "Open with a different image or action."
            )
            found.append(("major", message))
        if shared := [p for p in own if p in theirs]:
            message = (
                f"Paragraphs are copied from chapter {number} ({len(shared)} in all, e.g. "
                f'"{quote(shared[0])}"). Rewrite them so this chapter says something new.'
            )
            found.append(("major", message))
    return found


REPETITION = RepetitionAnalyzer()
