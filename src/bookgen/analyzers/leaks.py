"""Meta-text leaks: the model talking to the user instead of writing the book.

Chatter ("Sure! Here is the chapter:", "I hope you enjoyed it. Let me know if ..."),
notes about the writing, word counts and code fences are hard defects; a stray markdown
heading is minor. Chatter is looked for only in the lines at either edge of the text,
where models put it, and never in dialogue (a line opening with a quotation mark), so a
character may say "Let me know if he calls" without tripping it. ``strip_leaks`` is the
matching repair, which needs no model call.
"""

from __future__ import annotations

import re

from bookgen.analyzers._text import quote
from bookgen.analyzers.base import Draft, Finding, Result

_SENTENCE_START = r"(?:^|[.!?]\s+)"
# Chatter where a line starts (matched at its start only: a search would try every
# position of a long paragraph), and chatter anywhere in an edge line.
_CHATTER_OPENING = re.compile(
    "|".join(
        [
            r"(?:sure|certainly|absolutely|of course|okay|ok)\s*[!.:]",
            r"(?:sure|certainly|absolutely|of course|okay|ok),\s+(?:here|i|below|this)\b",
            r"here(?:'s|’s| is| are)\s+(?:the |your |a |my )?(?:(?:revised|rewritten|full|"
            r"complete|updated|continued|next|first|final|expanded|new)(?:,| and)?\s+)*"
            r"(?:chapter|draft|version|revision|continuation)\b",
            r"(?:below is|i(?:'ve|’ve| have) (?:written|revised|rewritten|expanded|continued))",
            r"(?:this chapter (?:explores|introduces|sets up|focuses|establishes|shows|delves|"
            r"follows|covers|continues)|in this chapter\b)",
            r"[(\[]?(?:(?:author|writer)(?:'|’)?s |editor(?:'|’)?s )?note\s*:",
            r"[(\[]?(?:author|writer)(?:'|’)?s note\b",
            r"this is the (?:final|first|last|next|opening|closing|second|third) chapter "
            r"(?:of|in) (?:the|this|my|our|your) (?:story|book|novel)\b",
        ]
    ),
    re.IGNORECASE,
)
_CHATTER_ANYWHERE = re.compile(
    "|".join(
        [
            r"\bword count\s*:",
            r"\bthe length of this chapter\b",
            r"\bi hope you (?:enjoy|enjoyed|like|liked|found)\b",
            r"\b(?:glad|happy) (?:that )?you (?:enjoyed|liked|found)\s+(?:this|the|my|our)\s+"
            r"(?:chapter|story|book|draft)\b",
            _SENTENCE_START + r"(?:please\s+)?(?:let me know|feel free to|would you like me to)\b",
            _SENTENCE_START + r"i can (?:also )?(?:revise|adjust|expand|continue|rewrite|write)\b",
            r"\b(?:your|any) feedback\b|\bfeedback (?:is|would be) (?:welcome|appreciated)\b",
            r"\bi(?:'d|’d| would) love to hear\b|\bhope (?:this|that|it) (?:helps|meets)\b",
            r"\bas an ai\b|\blanguage model\b",
        ]
    ),
    re.IGNORECASE,
)


# Every pattern of _CHATTER_ANYWHERE contains one of these: a line with none of them
# (almost every line of prose) is passed without running the slow search.
_ANYWHERE_HINTS = (
    "word count",
    "length of this chapter",
    "hope",
    "you enjoyed",
    "you liked",
    "you found",
    "let me know",
    "feel free",
    "would you like",
    "i can ",
    "feedback",
    "love to hear",
    "as an ai",
    "language model",
)


def _chatter(line: str) -> re.Match[str] | None:
    if opening := _CHATTER_OPENING.match(line):
        return opening
    lower = line.lower().replace("’", "'")
    if not any(hint in lower for hint in _ANYWHERE_HINTS):
        return None
    return _CHATTER_ANYWHERE.search(line)


# Anywhere in the text, these can only be the model speaking about itself.
# Every way of saying it holds these words: the analyzer looks for them before running
# the search (their letters have no case-blind match outside ASCII, as i, k and s have).
_AI_WORDS = "language model"
_AI = re.compile(rf"\bas an ai {_AI_WORDS}\b|\bas a (?:large )?{_AI_WORDS}\b", re.I)
_FENCE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^\s*#")
_SEPARATOR = re.compile(r"^\s*(?:[-*_=~]\s*){3,}$")
_DIALOGUE = tuple("\"'“‘")


def _kind(line: str) -> str | None:
    """What leak ``line`` is ("chatter", "fence", "heading", "separator"), or None for prose."""
    bare = line.strip()
    if _FENCE.match(bare):
        return "fence"
    if _HEADING.match(bare):
        return "heading"
    if _SEPARATOR.match(bare):
        return "separator"
    if not bare.startswith(_DIALOGUE) and _chatter(bare):
        return "chatter"
    return None


def _edges(lines: list[str]) -> tuple[int, int]:
    """The first and one-past-last index of the lines that remain once leaks at either
    edge are peeled off (blank lines included)."""
    start, end = 0, len(lines)
    while start < end and (not lines[start].strip() or _kind(lines[start])):
        start += 1
    while end > start and (not lines[end - 1].strip() or _kind(lines[end - 1])):
        end -= 1
    return start, end


def _nonblank(lines: list[str]) -> int:
    return sum(1 for line in lines if line.strip())


def strip_leaks(text: str) -> str:
    """``text`` without leaked lines at its edges and without code fences.

    Returns ``text`` unchanged when there is nothing to remove.

    >>> strip_leaks("Sure! Here is chapter 2:\\n\\nRain fell.\\n\\nI hope you enjoyed it!")
    'Rain fell.'
    """
    lines = text.splitlines()
    start, end = _edges(lines)
    kept = [line for line in lines[start:end] if not _FENCE.match(line)]
    if _nonblank(kept) == _nonblank(lines):
        return text
    return re.sub(r"\n\s*\n(?:\s*\n)+", "\n\n", "\n".join(kept)).strip()


class LeaksAnalyzer:
    """Chatter, notes, code fences and headings that are not part of the story.

    >>> LEAKS(Draft("Rain fell.\\n\\nLet me know if you want changes.", 1, "Rain", 10)).hard
    True
    """

    name = "leaks"
    weight = 3.0

    def __call__(self, draft: Draft) -> Result:
        lines = draft.text.splitlines()
        start, end = _edges(lines)
        hard: list[str] = []
        if first := next((x for x in lines[:start] if _kind(x) == "chatter"), None):
            hard.append(
                f'The text opens with chatter to the user ("{quote(first)}"). '
                "Remove it and start directly with the story."
            )
        if last := next((x for x in lines[end:] if _kind(x) == "chatter"), None):
            hard.append(
                f'The text ends with chatter to the user ("{quote(last)}"). '
                "Remove it and end with the story itself."
            )
        if any(_FENCE.match(line) for line in lines):
            hard.append("The text contains code fences (```). Remove them; write plain prose.")
        # The search costs most of this analyzer and almost never finds anything: the
        # words it needs come first (a case-blind match of them lower-cases to them).
        if _AI_WORDS in draft.text.lower() and (
            ai := next((m for m in map(_AI.search, lines[start:end]) if m), None)
        ):
            hard.append(
                f'The text speaks as a language model ("{ai.group()}"). '
                "Remove it; write only the story."
            )
        findings = [Finding(self.name, "hard", message) for message in hard]
        if heading := next((line for line in lines if _HEADING.match(line)), None):
            message = (
                f'The text contains a markdown heading ("{quote(heading)}"). Remove '
                "headings: the chapter title is added separately, and a blank line "
                "marks a scene break."
            )
            findings.append(Finding(self.name, "minor", message))
        return Result(self.name, 0.0 if hard else 1.0 - 0.15 * len(findings), findings)


LEAKS = LeaksAnalyzer()
