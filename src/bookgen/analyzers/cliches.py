"""Cliche density: stock phrases and LLM-isms per 1,000 words, from ``cliches.json``.

Phrases are matched word by word (case, punctuation and curly apostrophes aside), so
"Couldn’t help but" counts as "couldn't help but" and a phrase never matches inside a
longer word. Texts under 1,000 words are counted as if they had 1,000, so that one
stock phrase in a short scene is not a "density".
"""

from __future__ import annotations

import itertools
import json
import operator
from collections import Counter
from collections.abc import Iterable
from importlib import resources

from bookgen.analyzers._text import clamp, lower_words, words
from bookgen.analyzers.base import Draft, Finding, Result, Severity

MINOR_PER_1000 = 2.0
MAJOR_PER_1000 = 4.0
WORST_SHOWN = 3


def _tokens(text: str) -> list[str]:
    return lower_words(text, straight_apostrophes=True)


def load_cliches() -> list[str]:
    """The packaged phrase list (lower-case)."""
    text = resources.files("bookgen.analyzers").joinpath("cliches.json").read_text("utf-8")
    phrases: list[str] = json.loads(text)
    return phrases


class ClichesAnalyzer:
    """Stock phrases per 1,000 words; ``phrases`` defaults to the packaged list.

    >>> ClichesAnalyzer(["a sense of"]).count("A sense of dread, a sense of doom.")
    Counter({'a sense of': 2})
    """

    name = "cliches"
    weight = 1.0

    def __init__(self, phrases: Iterable[str] | None = None) -> None:
        # Phrases by their first two words (one for a one-word phrase), longest first, so
        # "a beacon of hope" wins over "a beacon of" and few phrases are tried per word.
        self._index: dict[tuple[str, ...], list[tuple[tuple[str, ...], str]]] = {}
        for phrase in load_cliches() if phrases is None else phrases:
            if tokens := tuple(_tokens(phrase)):
                self._index.setdefault(tokens[:2], []).append((tokens, phrase))
        for entries in self._index.values():
            entries.sort(key=lambda entry: -len(entry[0]))
        # Where a phrase can start: a pair of words that opens one, or a one-word phrase.
        self._pairs = {head for head in self._index if len(head) == 2}
        self._singles = {head[0] for head in self._index if len(head) == 1}

    def count(self, text: str) -> Counter[str]:
        """How often each phrase occurs in ``text`` (matches don't overlap)."""
        found: Counter[str] = Counter()
        tokens = _tokens(text)
        # The few places a phrase can start, found without a Python step per word.
        pairs = itertools.chain(map(self._pairs.__contains__, itertools.pairwise(tokens)), [False])
        singles = map(self._singles.__contains__, tokens)
        end = 0  # the first word after the last match
        for i in itertools.compress(itertools.count(), map(operator.or_, pairs, singles)):
            if i >= end and (match := self._match(tokens, i)):
                found[match[1]] += 1
                end = i + len(match[0])
        return found

    def _match(self, tokens: list[str], i: int) -> tuple[tuple[str, ...], str] | None:
        for head in (tuple(tokens[i : i + 2]), (tokens[i],)):
            for entry in self._index.get(head, ()):
                if tuple(tokens[i : i + len(entry[0])]) == entry[0]:
                    return entry
        return None

    def __call__(self, draft: Draft) -> Result:
        found = self.count(draft.text)
        total = sum(found.values())
        density = total * 1000 / max(len(words(draft.text)), 1000)
        score = clamp(1.0 - density / 10)
        if density < MINOR_PER_1000:
            return Result(self.name, score)
        worst = ", ".join(f'"{phrase}" ({n})' for phrase, n in found.most_common(WORST_SHOWN))
        message = (
            f"Stock phrases: {density:.1f} per 1,000 words ({total} in all); most used: "
            f"{worst}. Replace them with concrete, specific detail of this story."
        )
        severity: Severity = "major" if density >= MAJOR_PER_1000 else "minor"
        return Result(self.name, score, [Finding(self.name, severity, message)])


CLICHES = ClichesAnalyzer()
