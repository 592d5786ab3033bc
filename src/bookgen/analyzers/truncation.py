"""Truncation: a chapter cut off at the token limit, or one that stops mid-sentence.

Either is a hard defect; the enhance loop answers it with a continuation prompt. An
empty draft is left to the length analyzer.
"""

from __future__ import annotations

from bookgen.analyzers._text import paragraphs, quote
from bookgen.analyzers.base import Draft, Finding, Result

# What a finished chapter may end with: terminal punctuation, a closing quote or bracket.
ENDINGS = frozenset(".!?\"'”’…)")


def _unclosed_quote(paragraph: str) -> bool:
    # Only the last paragraph counts: a speech running over several paragraphs
    # legitimately leaves its earlier paragraphs open, but must close at the end.
    if paragraph.count("“") > paragraph.count("”"):
        return True
    return paragraph.count('"') % 2 == 1


class TruncationAnalyzer:
    """Was the chapter cut off?

    >>> TRUNCATION(Draft("She opened the door and", 1, "Doors", 100)).findings[0].severity
    'hard'
    """

    name = "truncation"
    weight = 3.0

    def __call__(self, draft: Draft) -> Result:
        # Closing emphasis ("*She slept.*") is markdown around a finished sentence.
        text = draft.text.rstrip().rstrip("*_").rstrip()
        if draft.finish_reason == "length":
            message = (
                "The chapter was cut off at the output limit. Continue from where it stops, "
                "finish the last scene and end the chapter on a complete sentence."
            )
        elif not text:
            return Result(self.name, 1.0)
        elif text[-1] not in ENDINGS:
            tail = text[-60:] if len(text) <= 60 else "…" + text[-60:].split(" ", 1)[-1]
            message = (
                f'The chapter stops mid-sentence ("{quote(tail)}"). Finish the sentence '
                "and the scene, and end the chapter on a complete sentence."
            )
        elif _unclosed_quote(paragraphs(text)[-1]):
            message = (
                "The chapter ends inside an unclosed quotation. Close the dialogue, finish "
                "the scene and end the chapter on a complete sentence."
            )
        else:
            return Result(self.name, 1.0)
        return Result(self.name, 0.0, [Finding(self.name, "hard", message)])


TRUNCATION = TruncationAnalyzer()
