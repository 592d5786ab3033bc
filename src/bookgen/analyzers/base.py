"""What every analyzer takes and returns.

An analyzer is a small pure function of a draft: no network, no model, at most 20 ms
on a 3,000-word chapter. It returns a score in [0, 1] (1 = nothing wrong), findings
phrased as instructions a model can act on in a revision, and whether a finding is a
hard defect (the chapter is unacceptable whatever its overall score).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Severity = Literal["minor", "major", "hard"]


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a draft, said so a model can fix it."""

    analyzer: str
    severity: Severity
    message: str


@dataclass(frozen=True)
class Result:
    analyzer: str
    score: float  # in [0, 1]
    findings: list[Finding] = field(default_factory=list)

    @property
    def hard(self) -> bool:
        return any(finding.severity == "hard" for finding in self.findings)


@dataclass(frozen=True)
class GenreStyle:
    """What a genre expects of the prose (from prompts/genres.json)."""

    name: str
    dialogue_min: float  # share of words inside quotation marks
    dialogue_max: float
    sentence_cv_min: float  # coefficient of variation of sentence lengths


@dataclass(frozen=True)
class Draft:
    """Everything an analyzer may look at."""

    text: str
    number: int
    title: str
    target_words: int
    finish_reason: str = "stop"
    is_last: bool = False
    audience: str = "general readers"
    style: GenreStyle = GenreStyle("general", 0.05, 0.6, 0.25)
    # Other chapters' texts (for repetition across chapters), by chapter number.
    others: dict[int, str] = field(default_factory=dict)
    # Character names the outline and bible know, and those this chapter must show.
    known_names: frozenset[str] = frozenset()
    required_names: frozenset[str] = frozenset()


class Analyzer(Protocol):
    name: str
    weight: float

    def __call__(self, draft: Draft) -> Result: ...
