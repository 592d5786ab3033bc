"""Readability against the audience: Flesch reading ease and Flesch-Kincaid grade.

The audience is read from the book's free-text audience ("readers aged 12 to 16",
"children", "researchers") into one of four bands. The formulas come from textstat
(syllables from the CMU pronouncing dictionary, pyphen for the rest), computed on
whole chapters; shorter texts are too noisy to judge.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import NamedTuple

from textstat.backend import selections, transformations, utils

from bookgen.analyzers._text import words
from bookgen.analyzers.base import Draft, Finding, Result

MIN_WORDS = 150
EASE_MARGIN = 10.0  # reading-ease points past the band before a finding is major
GRADE_MARGIN = 2.0  # grades past the band before a finding is major


class Band(NamedTuple):
    readers: str
    ease_min: float  # Flesch reading ease: higher is easier
    ease_max: float
    grade_min: float  # Flesch-Kincaid grade: higher is harder
    grade_max: float


BANDS = {
    "children": Band("children", 75.0, 120.0, -5.0, 6.0),
    "young adult": Band("young adult readers", 60.0, 110.0, -5.0, 9.0),
    "general": Band("general readers", 50.0, 105.0, -5.0, 12.0),
    "academic": Band("academic readers", 0.0, 70.0, 8.0, 30.0),
}
_CHILD = re.compile(r"\b(?:child|children|kids?|picture book|early readers?|middle grade)\b")
_TEEN = re.compile(r"\b(?:young adults?|teens?|teenagers?|adolescents?|ya)\b")
_ACADEMIC = re.compile(
    r"\b(?:academic|scholars?|scholarly|researchers?|specialists?|experts?|professionals?|"
    r"graduate|postgraduate|technical)\b"
)
_AGES = re.compile(r"\b(\d{1,2})\s*(?:\+|-|–|to)?\s*(\d{1,2})?\b")


def audience_band(audience: str) -> Band:
    """The band for a free-text audience; ages decide when given ("aged 12 to 16").

    >>> audience_band("readers aged 12 to 16").readers
    'young adult readers'
    """
    text = audience.lower()
    if "age" in text and (ages := [int(a) for m in _AGES.finditer(text) for a in m.groups() if a]):
        if max(ages) <= 12:
            return BANDS["children"]
        return BANDS["general" if min(ages) >= 18 else "young adult"]
    for pattern, band in ((_CHILD, "children"), (_TEEN, "young adult"), (_ACADEMIC, "academic")):
        if pattern.search(text):
            return BANDS[band]
    return BANDS["general"]


LANG = "en_US"
# textstat's caches of the texts it was given (see analyzers.forget_texts).
TEXTSTAT_CACHES = (selections.list_words, transformations.remove_punctuation)


_LOADED = threading.Event()
_LOADING = threading.Lock()


def load_dictionaries() -> None:
    """Load the pronouncing and hyphenation dictionaries textstat counts syllables with
    (about a second of CPU, once a process). Safe from any thread: a second caller
    waits for the first instead of loading them again."""
    if _LOADED.is_set():
        return
    with _LOADING:
        utils.get_cmudict(LANG)
        utils.get_pyphen(LANG)
        _LOADED.set()


def load_in_background() -> None:
    """Start ``load_dictionaries`` in a thread of its own. A run calls this before its
    first provider call, so the dictionaries load while that call is in flight instead
    of in the first chapter's analysis (where, with chapters taking turns to finish,
    every chapter answered meanwhile would wait for them too)."""
    if not _LOADED.is_set():
        threading.Thread(target=load_dictionaries, name="bookgen-dictionaries", daemon=True).start()


@lru_cache(maxsize=50_000)
def _syllables(word: str) -> int:
    """One word's syllables as textstat's ``count_syllables`` counts them in a text
    (the word as its word list has it: asking it about the word alone would clean the
    word again, and change one such as "i̇" that lower-casing "İ" made)."""
    try:
        return sum(1 for phone in utils.get_cmudict(LANG)[word][0] if phone[-1].isdigit())
    except (TypeError, IndexError, KeyError):
        return len(utils.get_pyphen(LANG).positions(word)) + 1


# textstat's sentences (count_sentences), and a run of non-spaces holding a letter or
# digit (textstat's words, below).
_PIECE = re.compile(r"\b[^.!?]+[.!?]*")
_WORDY = re.compile(r"\S*\w\S*")
_WORD_CHARACTER = re.compile(r"\w")


def sentence_count(text: str) -> int:
    """textstat's ``count_sentences``: pieces ending in . ! or ?, not counting those of
    two words or fewer. textstat counts a piece's words by deleting its punctuation and
    splitting on whitespace: a run of non-spaces with a letter or digit in it stays a
    word, and one without loses every character (its apostrophes too, none being
    followed by a letter), so the words are the runs that hold one: counted here with
    one regex instead of textstat's three passes."""
    if not text:
        return 0
    pieces = _PIECE.findall(text)
    has_word = _WORD_CHARACTER.search
    ignored = 0
    for piece in pieces:
        # Almost every piece of prose opens with three words: that settles it.
        first = piece.split(maxsplit=3)
        if len(first) >= 3 and has_word(first[0]) and has_word(first[1]) and has_word(first[2]):
            continue
        if len(_WORDY.findall(piece)) <= 2:
            ignored += 1
    return max(1, len(pieces) - ignored)


def flesch(text: str) -> tuple[float, float]:
    """textstat's Flesch reading ease and Flesch-Kincaid grade (its English constants,
    words per sentence and syllable counts: the CMU pronouncing dictionary, pyphen for
    the rest), with the syllables looked up once per distinct word and remembered across
    chapters; textstat looks every occurrence up again, which was most of its time.
    Its words per sentence is the same words' count (lower-casing splits no word) over
    ``sentence_count``."""
    # Both loaded before the first word, as textstat does (so a warm-up loads both,
    # not a chapter's first unusual word).
    load_dictionaries()
    words_ = selections.list_words(text, lowercase=True)
    sentences = sentence_count(text)
    per_sentence = len(words_) / sentences if sentences else 0.0
    if not words_ or not per_sentence:
        return 0.0, 0.0
    per_word = sum(map(_syllables, words_)) / len(words_)
    if not per_word:
        return 0.0, 0.0
    ease = 206.835 - 1.015 * per_sentence - 84.6 * per_word
    grade = 0.39 * per_sentence + 11.8 * per_word - 15.59
    return ease, grade


class ReadabilityAnalyzer:
    """How hard the prose is to read, against the audience's band.

    >>> result = READABILITY(Draft("The cat sat. " * 60, 1, "Cats", 180, audience="scholars"))
    >>> result.findings[0].message[:49]
    'The prose is simpler than academic readers expect'
    """

    name = "readability"
    weight = 1.0

    def __call__(self, draft: Draft) -> Result:
        if len(words(draft.text)) < MIN_WORDS:
            return Result(self.name, 1.0)
        band = audience_band(draft.audience)
        ease, grade = flesch(draft.text)
        # How far outside the band, in margins: past one margin the finding is major.
        too_hard = max(
            (band.ease_min - ease) / EASE_MARGIN, (grade - band.grade_max) / GRADE_MARGIN
        )
        too_easy = max(
            (ease - band.ease_max) / EASE_MARGIN, (band.grade_min - grade) / GRADE_MARGIN
        )
        measured = f"reading ease {ease:.0f}, grade {grade:.1f}"
        if too_hard > 0:
            excess = too_hard
            message = (
                f"The prose is too hard for {band.readers} ({measured}; aim for reading ease "
                f"{band.ease_min:.0f} or more, grade {band.grade_max:.0f} or less). "
                "Use shorter sentences and plainer, more concrete words."
            )
        elif too_easy > 0:
            excess = too_easy
            message = (
                f"The prose is simpler than {band.readers} expect ({measured}; aim for reading "
                f"ease {band.ease_max:.0f} or less, grade {band.grade_min:.0f} or more). "
                "Use fuller sentences and more precise vocabulary."
            )
        else:
            return Result(self.name, 1.0)
        if excess > 1.0:
            return Result(self.name, 0.4, [Finding(self.name, "major", message)])
        return Result(self.name, 0.75, [Finding(self.name, "minor", message)])


READABILITY = ReadabilityAnalyzer()
