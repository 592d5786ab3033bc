"""Splitting prose into words, sentences and paragraphs, the same way for every analyzer.

The rules are deliberately simple (an abbreviation such as "Mr." ends a sentence): the
analyzers compare counts and shapes, so consistency matters more than linguistic
precision, and regular expressions keep each analyzer well inside its 20 ms budget.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from functools import lru_cache

WORD = re.compile(r"\w+(?:['’]\w+)*")
# A sentence runs to its terminal punctuation (plus closing quotes or brackets) when
# whitespace or the end of the line follows; a line without one is a sentence too. That
# is SENTENCE_RULE; _SENTENCE finds the same spans (tested) about three times faster,
# by taking what cannot end a sentence in runs instead of trying each character.
SENTENCE_RULE = r"\S.*?(?:[.!?…]+[\"'”’)\]]*(?=\s|$)|$)"
_END, _CLOSE = "[.!?…]++", r"[\"'”’)\]]*+"
_SENTENCE = re.compile(
    rf"\S(?:[^.!?…\n]++|{_END}{_CLOSE}(?!\s|$))*+(?:{_END}{_CLOSE}(?=\s|$)|$)", re.MULTILINE
)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


# Every analyzer splits the same draft the same ways, and all nine run on it one after
# another: the splits are kept for the last few texts (as tuples, so no caller can
# change what another one reads) instead of being made nine times.
_CACHED = 64


@lru_cache(maxsize=_CACHED)
def sentence_words(text: str) -> tuple[tuple[str, ...], ...]:
    """The words of each sentence of ``text`` (``sentence_spans``), as written: the one
    split of a draft into words, which gives its words, its sentence lengths and the
    loops' sentence keys."""
    find = WORD.findall
    return tuple(tuple(find(text, start, end)) for start, end in sentence_spans(text))


@lru_cache(maxsize=_CACHED)
def words(text: str) -> tuple[str, ...]:
    """The words of ``text`` ("don't" and "Mara’s" are one word each): its sentences'
    words in order, since no word crosses the end of a sentence and no word lies
    outside every sentence (equal to ``WORD.findall(text)``; tested)."""
    return tuple(itertools.chain.from_iterable(sentence_words(text)))


def lowers_word_by_word(text: str) -> bool:
    """Whether lower-casing ``text``'s words one by one gives the words of
    ``text.lower()``: no letter that lower-cases to two characters ("İ") or by its
    neighbours (a Greek capital sigma). (No character becomes or stops being a word
    character by lower-casing: checked over all of Unicode.)"""
    return "Σ" not in text and len(text.lower()) == len(text)


def lower_words(text: str, *, straight_apostrophes: bool = False) -> list[str]:
    """``WORD.findall(text.lower())``, with ’ made ' if asked: from the draft's cached
    split, lower-cased in one go (see ``lowers_word_by_word``)."""
    if not lowers_word_by_word(text):
        lowered = text.lower()
        return WORD.findall(lowered.replace("’", "'") if straight_apostrophes else lowered)
    split = words(text)
    if not split:
        return []
    joined = " ".join(split).lower()  # words hold no spaces
    return (joined.replace("’", "'") if straight_apostrophes else joined).split(" ")


def word_count(text: str) -> int:
    """Uncached, for the many small pieces (sentences, quotations) that would push a
    draft's own splits out of the cache; ``len(words(text))`` for a whole draft."""
    return len(WORD.findall(text))


@lru_cache(maxsize=_CACHED)
def paragraphs(text: str) -> tuple[str, ...]:
    """Blocks separated by blank lines, stripped, empty ones dropped."""
    return tuple(block.strip() for block in _PARAGRAPH_BREAK.split(text) if block.strip())


def _sentence_matches(text: str) -> Iterator[re.Match[str]]:
    """The sentences of ``text`` as they are found (a stretch without a word is none)."""
    return (m for m in _SENTENCE.finditer(text) if WORD.search(text, *m.span()))


@lru_cache(maxsize=_CACHED)
def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Where each sentence starts and ends; a sentence never crosses a line break."""
    return tuple(m.span() for m in _sentence_matches(text))


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (or ""), without splitting the rest of the text."""
    return next((m.group() for m in _sentence_matches(text)), "")


def key(text: str) -> str:
    """A comparison key: lower-case words only, so punctuation and spacing don't matter."""
    return " ".join(WORD.findall(text.lower()))


def quote(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut at a word to about ``limit`` characters, for a message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def clamp(value: float) -> float:
    return max(0.0, min(1.0, value))
