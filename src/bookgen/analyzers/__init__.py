"""The analyzers, in the order they run, and the overall verdict on a draft.

The overall score is the weighted mean of the analyzers' scores; the defects that make
a chapter unacceptable whatever its score (truncation, leaks, loops, a premature ending,
a chapter under 60% of its length) carry the most weight. See ``base`` for the
contract every analyzer keeps.

>>> analysis = analyze(Draft("Rain fell on the harbour.", 1, "Rain", target_words=5))
>>> analysis.acceptable, [f.analyzer for f in analysis.findings]
(True, [])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bookgen.analyzers import _text, readability, repetition
from bookgen.analyzers.base import Analyzer, Draft, Finding, Result
from bookgen.analyzers.cliches import CLICHES
from bookgen.analyzers.continuity import CONTINUITY
from bookgen.analyzers.ending import ENDING
from bookgen.analyzers.leaks import LEAKS
from bookgen.analyzers.length import LENGTH
from bookgen.analyzers.readability import READABILITY
from bookgen.analyzers.repetition import REPETITION
from bookgen.analyzers.style import STYLE
from bookgen.analyzers.truncation import TRUNCATION

__all__ = ["ANALYZERS", "Analysis", "analyze", "forget_texts"]

ANALYZERS: list[Analyzer] = [
    TRUNCATION,
    LENGTH,
    LEAKS,
    ENDING,
    REPETITION,
    CONTINUITY,
    READABILITY,
    STYLE,
    CLICHES,
]
_ORDER = {"hard": 0, "major": 1, "minor": 2}


@dataclass(frozen=True)
class Analysis:
    """Every analyzer's result on one draft, and the verdict."""

    score: float  # weighted mean of the analyzers' scores, in [0, 1]
    results: list[Result]
    findings: list[Finding]  # all of them, hard first, then major, then minor
    acceptable: bool  # no hard finding

    def as_json(self) -> dict[str, Any]:
        """For the manifest: the verdict, each analyzer's score and the findings."""
        return {
            "score": round(self.score, 4),
            "acceptable": self.acceptable,
            "analyzers": {result.analyzer: round(result.score, 4) for result in self.results},
            "findings": [asdict(finding) for finding in self.findings],
        }


def analyze(draft: Draft, analyzers: Sequence[Analyzer] = ANALYZERS) -> Analysis:
    """Run ``analyzers`` on ``draft`` and weigh their scores."""
    results = [analyzer(draft) for analyzer in analyzers]
    weights = sum(analyzer.weight for analyzer in analyzers)
    score = sum(a.weight * r.score for a, r in zip(analyzers, results, strict=True))
    findings = sorted(
        (finding for result in results for finding in result.findings),
        key=lambda finding: _ORDER[finding.severity],
    )
    return Analysis(
        score=score / weights if weights else 1.0,
        results=results,
        findings=findings,
        acceptable=not any(result.hard for result in results),
    )


def forget_texts() -> None:
    """Empty every cache the analyzers keep of texts and words (theirs and textstat's),
    as in a fresh process: a benchmark that analyses the same texts twice must not time
    the second pass on cache hits."""
    for cached in (
        _text.words,
        _text.sentence_words,
        _text.paragraphs,
        _text.sentence_spans,
        repetition._fingerprint,
        readability._syllables,
        *readability.TEXTSTAT_CACHES,
    ):
        cached.cache_clear()
