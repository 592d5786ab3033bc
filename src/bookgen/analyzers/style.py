"""Dialogue ratio and sentence-length variety against the genre preset.

Dialogue is the share of words inside quotation marks (straight or curly double
quotes; curly single quotes when a text uses no double ones, as British texts do). A
quotation is closed by its paragraph's end at the latest, so one stray mark cannot
swallow the chapter. Variety is the coefficient of variation (standard deviation over
mean) of sentence lengths in words: prose of same-length sentences reads flat.
"""

from __future__ import annotations

import math
import re

from bookgen.analyzers._text import clamp, paragraphs, sentence_words, word_count, words
from bookgen.analyzers.base import Draft, Finding, Result

MIN_WORDS = 150  # below this, ratios are too noisy to judge
MIN_SENTENCES = 5
_DOUBLE = re.compile(r"“[^”]*(?:”|$)|\"[^\"]*(?:\"|$)")
# A closing ’ is one not followed by a letter (so "don’t" stays inside the quotation).
_SINGLE = re.compile(r"‘.*?(?:’(?![A-Za-z])|$)", re.DOTALL)


def dialogue_share(text: str) -> float:
    """The share of the words of ``text`` that are inside quotation marks.

    >>> round(dialogue_share('“Come in,” she said. He stayed outside.'), 2)
    0.29
    """
    total = len(words(text))
    if not total:
        return 0.0
    pattern = _DOUBLE if ("“" in text or '"' in text) else _SINGLE
    quoted = sum(word_count(m.group()) for p in paragraphs(text) for m in pattern.finditer(p))
    return quoted / total


def sentence_variety(text: str) -> float | None:
    """Coefficient of variation of sentence lengths (0 when every sentence is as long), or
    None for a text of fewer than MIN_SENTENCES sentences."""
    lengths = [len(split) for split in sentence_words(text)]
    if len(lengths) < MIN_SENTENCES:
        return None
    average = sum(lengths) / len(lengths)
    return math.sqrt(sum((n - average) ** 2 for n in lengths) / len(lengths)) / average


class StyleAnalyzer:
    """Dialogue share and sentence variety, against ``draft.style`` (a genre preset).

    >>> [f.message[:30] for f in STYLE(Draft("He went. " * 200, 1, "Go", 400)).findings]
    ['There is little dialogue (0% o', 'Sentences are all about the sa']
    """

    name = "style"
    weight = 1.0

    def __call__(self, draft: Draft) -> Result:
        text, style = draft.text, draft.style
        if len(words(text)) < MIN_WORDS:
            return Result(self.name, 1.0)
        findings: list[str] = []
        share = dialogue_share(text)
        low, high = style.dialogue_min, style.dialogue_max
        expected = f"a {style.name} chapter usually has {low:.0%}-{high:.0%}"
        if share < low:
            findings.append(
                f"There is little dialogue ({share:.0%} of the words; {expected}). "
                "Let the characters speak: turn some summary into exchanges."
            )
        elif share > high:
            findings.append(
                f"Dialogue takes {share:.0%} of the words ({expected}). "
                "Ground the talk in action, setting and the characters' reactions."
            )
        variety = sentence_variety(text)
        if variety is not None and variety < style.sentence_cv_min:
            findings.append(
                f"Sentences are all about the same length (variation {variety:.2f}; "
                f"aim for {style.sentence_cv_min:.2f} or more). "
                "Mix short, direct sentences with longer ones."
            )
        score = clamp(1.0 - 0.15 * len(findings))
        return Result(self.name, score, [Finding(self.name, "minor", m) for m in findings])


STYLE = StyleAnalyzer()
