"""Degenerate loops: a block of sentences repeated over and over, and the repair.

A model stuck in a loop repeats the same sentence or paragraph, often until the output
limit stops it. A block (up to MAX_PERIOD sentences) counts as a loop when it comes
three or more times in a row and has LOOP_WORDS words or more, or when it repeats at the
very end of the text with TAIL_WORDS words or more; shorter blocks ("No. No. No.") are
left to the writer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import NamedTuple

from bookgen.analyzers._text import (
    key,
    lowers_word_by_word,
    sentence_spans,
    sentence_words,
)

MAX_PERIOD = 24  # sentences in the longest block looked for
LOOP_WORDS = 8
TAIL_WORDS = 12


class Run(NamedTuple):
    """Sentences ``start + period ...`` (``length`` of them) repeat the ones ``period`` back."""

    start: int
    period: int
    length: int


def units(text: str) -> tuple[list[tuple[int, int]], list[str], list[int]]:
    """Sentence spans, keys and word counts; an unfinished last sentence is left out (a
    loop cut off by the output limit ends in a partial copy)."""
    spans = list(sentence_spans(text))
    if spans and text[spans[-1][0] : spans[-1][1]].rstrip()[-1] not in ".!?…\"'”’)":
        spans.pop()
    if not spans:
        keys = []
    elif lowers_word_by_word(text):  # almost always: the draft's split, lower-cased at once
        split = sentence_words(text)[: len(spans)]
        keys = "\n".join([" ".join(words) for words in split]).lower().split("\n")
    else:
        keys = [key(text[a:b]) for a, b in spans]
    return spans, keys, [k.count(" ") + 1 for k in keys]


def find_loops(keys: list[str], sizes: list[int]) -> list[Run]:
    """Degenerate runs: 3+ copies of a block of LOOP_WORDS+, or 2+ at the end of TAIL_WORDS+."""
    return runs_at(keys, sizes, sorted(_repeat_periods(keys)))


def _repeat_periods(keys: list[str]) -> set[int]:
    """The periods at which some sentence equals one earlier (the only ones at which a
    block can repeat): the distances between equal sentences, none in most texts."""
    longest = min(MAX_PERIOD, len(keys) // 2)
    seen: dict[str, list[int]] = {}
    for index, k in enumerate(keys):
        seen.setdefault(k, []).append(index)
    periods: set[int] = set()
    for places in seen.values():
        for i, a in enumerate(places):
            # Places are in order: only the next few can be close enough.
            for b in itertools.islice(places, i + 1, None):
                if b - a > longest:
                    break
                periods.add(b - a)
            if len(periods) == longest:
                return periods  # every period is a candidate (a sentence said over and over)
    return periods


def runs_at(keys: list[str], sizes: list[int], periods: Iterable[int]) -> list[Run]:
    """The degenerate runs with these periods, longest first."""
    found, n = [], len(keys)
    for period in periods:
        j = period
        while j < n:
            if keys[j] != keys[j - period]:
                j += 1
                continue
            first = j
            while j < n and keys[j] == keys[j - period]:
                j += 1
            run = Run(first - period, period, j - first)
            words = sum(sizes[run.start : first])
            if (run.length >= 2 * period and words >= LOOP_WORDS) or (
                j == n and run.length >= period and words >= TAIL_WORDS
            ):
                found.append(run)
    return sorted(found, key=lambda r: (-r.length, r.period))


def cut_repeated_tail(text: str) -> str:
    """``text`` with a looping ending cut back to its first copy (unchanged if none).

    >>> cut_repeated_tail("She ran. " + "The door would not open however hard she pushed. " * 3)
    'She ran. The door would not open however hard she pushed.'
    """
    spans, keys, sizes = units(text)
    tails = [r for r in find_loops(keys, sizes) if r.start + r.period + r.length == len(keys)]
    if not tails:
        return text
    return text[: spans[tails[0].start + tails[0].period - 1][1]].rstrip()
