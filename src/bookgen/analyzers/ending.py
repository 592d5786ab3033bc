"""Premature ending: "The End", "Epilogue" and the like in a chapter that is not the last.

Chapters written in parallel each tend to wrap the story up; only the last one may. A
marker counts when it is a line of its own (decorations such as ``#``, ``*`` or
``---`` aside) or closes the text as a sentence of its own ("... she slept. The End.").
"""

from __future__ import annotations

import re

from bookgen.analyzers.base import Draft, Finding, Result

# A whole line (after decorations) that ends the book.
_LINE = re.compile(
    r"(?:the end|fin|finis|the end of the story|to be continued|epilogue(?:\s*[:.\-–—].*)?)",
    re.IGNORECASE,
)
_DECORATION = " \t#*_=~-–—.!…:[](){}<>"
# The same markers closing the text as their own sentence. "The End" needs its capital
# (or all capitals) so that "... this was the end." stays prose.
_TAIL = re.compile(
    r"(?:^|[.!?…\"”’]\s+|\n)[*_#\s]*"
    r"(The [Ee]nd|THE END|(?i:to be continued)|(?i:end of (?:the )?(?:book|story)))"
    r"[.!…]*[*_\s]*$"
)


def _marker(text: str) -> str | None:
    """The premature-ending marker in ``text``, as written, or None."""
    for line in text.splitlines():
        bare = line.strip(_DECORATION)
        # Epilogue headings may carry a subtitle ("Epilogue: Ten Years Later"); keep the
        # rest short so a sentence that starts with "Epilogue" isn't one.
        if bare and len(bare) <= 40 and _LINE.fullmatch(bare):
            return bare.split(":")[0].strip()
    tail = text.rstrip()
    found = _TAIL.search(tail, _tail_start(tail))
    return found.group(1) if found else None


# What may follow a closing marker, and what may stand between it and the sentence end
# before it ("... she slept.\n\n***\n\nTHE END ***").
_AFTER = ".!…*_"  # and spaces
_BEFORE = "*_#"  # and spaces
_LONGEST_MARKER = len("end of the story")


def _tail_start(text: str) -> int:
    """Where a closing marker's match could start at the earliest: a search of the whole
    chapter tried every character; this finds the same match (tested). The marker ends
    where the trailing punctuation and decoration begin (it ends in a letter), so it
    starts at most _LONGEST_MARKER before; before it stand decoration and spaces, and
    before those one mark that ends a sentence."""
    end = len(text)
    while (stripped := len(text[:end].rstrip().rstrip(_AFTER))) < end:
        end = stripped
    start = end - _LONGEST_MARKER
    while start > 0 and (text[start - 1] in _BEFORE or text[start - 1].isspace()):
        start -= 1
    return max(0, start - 1)


class EndingAnalyzer:
    """A chapter other than the last must not end the book.

    >>> ENDING(Draft("They slept.\\n\\nTHE END", 3, "Night", 100)).findings[0].severity
    'hard'
    """

    name = "ending"
    weight = 3.0

    def __call__(self, draft: Draft) -> Result:
        if draft.is_last:
            return Result(self.name, 1.0)
        marker = _marker(draft.text)
        if marker is None:
            return Result(self.name, 1.0)
        message = (
            f'Chapter {draft.number} ends the book ("{marker}"), but more '
            f'chapters follow. Remove "{marker}" and anything that reads like an epilogue, '
            "and end the chapter with the story moving on toward the next one."
        )
        return Result(self.name, 0.0, [Finding(self.name, "hard", message)])


ENDING = EndingAnalyzer()
