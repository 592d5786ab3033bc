"""Length against the chapter's target: the commonest failure is a chapter far too short.

Within 90-125% of the target the score is 1. Below, it falls linearly to 0 at no words;
under 60% the chapter is a hard defect. Above, it falls gently (a long chapter is a
smaller fault than a short one) and over 150% draws a minor finding.
"""

from __future__ import annotations

from bookgen.analyzers._text import clamp, words
from bookgen.analyzers.base import Draft, Finding, Result

HARD_BELOW = 0.60  # share of the target under which the chapter is unacceptable
MAJOR_BELOW = 0.80
MINOR_BELOW = 0.90
FULL_ABOVE = 1.25  # the score starts to fall above this share
MINOR_ABOVE = 1.50


class LengthAnalyzer:
    """Words in the draft against ``draft.target_words``.

    >>> result = LENGTH(Draft("word " * 412, 3, "The Ford", target_words=1500))
    >>> result.findings[0].severity, result.findings[0].message[:54]
    ('hard', 'The chapter has 412 words; it should have about 1,500.')
    """

    name = "length"
    weight = 3.0

    def __call__(self, draft: Draft) -> Result:
        target = draft.target_words
        if target <= 0:
            return Result(self.name, 1.0)
        count = len(words(draft.text))
        ratio = count / target
        if ratio < MINOR_BELOW:
            # Linear down to 0 words, so that every continuation shows as progress.
            score = ratio / MINOR_BELOW
        else:
            score = clamp(1.0 - max(0.0, ratio - FULL_ABOVE) * 0.8)
        said = f"The chapter has {count:,} words; it should have about {target:,}."
        if ratio < HARD_BELOW:
            finding = Finding(
                self.name,
                "hard",
                f"{said} Continue the story through the rest of the chapter's events, "
                "developing each scene with action, dialogue and detail, to reach the length.",
            )
        elif ratio < MAJOR_BELOW:
            finding = Finding(
                self.name,
                "major",
                f"{said} Develop the scenes more fully (action, dialogue, concrete detail) "
                "to reach the length.",
            )
        elif ratio < MINOR_BELOW:
            finding = Finding(
                self.name,
                "minor",
                f"{said} Give the key scenes a little more room to reach the length.",
            )
        elif ratio > MINOR_ABOVE:
            finding = Finding(
                self.name,
                "minor",
                f"{said} Tighten it: cut repetition and summary to come closer to the length.",
            )
        else:
            return Result(self.name, score)
        return Result(self.name, score, [finding])


LENGTH = LengthAnalyzer()
