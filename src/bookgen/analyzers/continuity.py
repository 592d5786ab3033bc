"""Character-name continuity against the story bible and the outline.

Chapters written in parallel drift: one invents a "Nadia", another forgets the mentor
its contract says is in the scene. A name here is a capitalised word that appears at
least twice, at least once where a sentence does not start, that the text never uses
in lower case ("Harbour" in "the harbour" is a word, not a name), that is not a title or
calendar word, and that does not follow "the" ("the Guild", "The Harbour Office").
Every word of ``draft.known_names`` and of the chapter title is known; callers should
put the bible's places and other proper nouns there too, not only characters.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from bookgen.analyzers._text import clamp, words
from bookgen.analyzers.base import Draft, Finding, Result

MAX_NAMED = 5  # unknown names reported, most frequent first
_NAME = r"[A-Z][a-z]*(?:[A-Z][a-z]+)*(?:['’-][A-Z][a-z]+)*"
_SEQUENCE = re.compile(rf"\b{_NAME}(?: {_NAME})*\b")
_TOKEN = re.compile(rf"\b{_NAME}\b")
_ABBREVIATIONS = frozenset({"Mr", "Mrs", "Ms", "Dr", "St"})
# Capitalised mid-sentence without being anyone's name.
STOP = frozenset(
    """I Mr Mrs Ms Miss Dr Sir Madam Lady Lord Mister Master Captain Sergeant Lieutenant
    Colonel General Doctor Professor Father Mother Sister Brother Aunt Uncle Grandma
    Grandpa Granny Mom Mum Dad Mama Papa King Queen Prince Princess Duke Saint God Gods
    Heaven Hell Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February
    March April May June July August September October November December Christmas Easter
    English French German Spanish Chinese Latin OK Okay TV Internet Earth Sun Moon North
    South East West Chapter Part Book""".split()
)


def _sentence_initial(text: str, start: int) -> bool:
    """Whether the word at ``start`` opens a sentence, a quotation or a bracket."""
    i = start - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    if i < 0 or text[i] in "\n!?…:“‘\"'([":
        return True
    # "Mr. Holt": the full stop of a title doesn't end the sentence.
    return text[i] == "." and text[max(0, i - 3) : i].split(" ")[-1] not in _ABBREVIATIONS


def names_in(text: str) -> Counter[str]:
    """Name-like words of ``text`` (see the module docstring) and how often each occurs.

    >>> names_in("Nadia ran. Later Nadia slept; the Guild met. The Guild was late.")
    Counter({'Nadia': 2})
    """
    total: Counter[str] = Counter()
    inside: set[str] = set()  # seen at least once where no sentence starts
    for sequence in _SEQUENCE.finditer(text):
        group, start = sequence.group(), sequence.start()
        if (
            group.startswith(("The ", "A ", "An "))
            or text[max(0, start - 4) : start].lower() == "the "
        ):
            continue
        if " " not in group and "'" not in group and "’" not in group and "-" not in group:
            # One word, the common case: no need to split it again.
            total[group] += 1
            if group not in inside and not _sentence_initial(text, start):
                inside.add(group)
            continue
        for token in _TOKEN.finditer(group):
            name = token.group()
            total[name] += 1
            if token.start() > 0 or (name not in inside and not _sentence_initial(text, start)):
                inside.add(name)
    # A name's lower-case form is lower-case: among the words, it is one used in lower case.
    used = set(words(text))
    return Counter(
        {
            name: n
            for name, n in total.items()
            if n >= 2
            and name in inside
            and len(name) > 1
            and name not in STOP
            and name.lower() not in used
        }
    )


def _words(names: Iterable[str]) -> set[str]:
    return {token for name in names for token in _TOKEN.findall(name)}


class ContinuityAnalyzer:
    """Names the bible doesn't know, and required characters who never appear.

    >>> draft = Draft("Nadia ran. Then Nadia hid.", 2, "Run", 10, known_names=frozenset({"Ines"}))
    >>> CONTINUITY(draft).findings[0].message[:45]
    'Nadia appears 2 times but is not in the outli'
    """

    name = "continuity"
    weight = 2.0

    def __call__(self, draft: Draft) -> Result:
        problems: list[str] = []
        if draft.known_names:  # without a cast list there is nothing to compare with
            known = _words([*draft.known_names, draft.title])
            unknown = [(name, n) for name, n in names_in(draft.text).items() if name not in known]
            for name, n in sorted(unknown, key=lambda item: -item[1])[:MAX_NAMED]:
                problems.append(
                    f"{name} appears {n} times but is not in the outline or story bible. "
                    f"Use the established characters, or give {name}'s part to one of them."
                )
        present = set(_TOKEN.findall(draft.text)) if draft.required_names else set()
        for required in sorted(draft.required_names):
            if not (_words([required]) - STOP or {required}) & present:
                problems.append(
                    f"{required} should appear in this chapter (its contract lists them) "
                    f"but never does. Bring {required} into the chapter as the contract requires."
                )
        findings = [Finding(self.name, "major", problem) for problem in problems]
        return Result(self.name, clamp(1.0 - 0.25 * len(findings)), findings)


CONTINUITY = ContinuityAnalyzer()
