"""The story bible: the planning step that keeps chapters written at the same time consistent.

Before the fan-out, one call (and one retry) asks the model for characters, places,
rules, a style sheet and a contract for every chapter (what the reader knows when it
starts, where it starts and ends, who appears, which facts it must not contradict).
Small and local models often ignore a requested format, so the answer is parsed
leniently (code fences, prose around the JSON, keys in other cases, missing fields);
when that fails twice, the bible is built from the outline alone, with a warning: a
book never fails because the bible came back malformed.

It is saved as ``bible.json`` (read back on resume, and used as written when the user
edits it) and ``bible.md`` (for people).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bookgen.errors import ManifestError
from bookgen.models import BookSpec
from bookgen.prompts import genre_preset
from bookgen.store import BookStore, atomic_write_text

BIBLE_JSON = "bible.json"
BIBLE_MD = "bible.md"


class BibleModel(BaseModel):
    # A user-edited bible with a typo in a key is an error, not a silently dropped field.
    model_config = ConfigDict(extra="forbid")


class Character(BibleModel):
    name: str
    role: str = ""
    traits: str = ""
    arc: str = ""


class Place(BibleModel):
    name: str
    description: str = ""


class Contract(BibleModel):
    number: int
    knows: str = ""
    starts: str = ""
    ends: str = ""
    characters: list[str] = Field(default_factory=list)
    facts: list[str] = Field(default_factory=list)


class StoryBible(BibleModel):
    """>>> StoryBible(characters=[Character(name="Elin")]).names()
    frozenset({'Elin'})"""

    source: str = "model"  # "model" or "outline" (the fallback)
    characters: list[Character] = Field(default_factory=list)
    places: list[Place] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    style_sheet: list[str] = Field(default_factory=list)
    chapters: list[Contract] = Field(default_factory=list)

    def names(self) -> frozenset[str]:
        return frozenset(
            part for c in self.characters for part in c.name.split() if part[:1].isupper()
        )

    def contract(self, number: int) -> Contract | None:
        return next((c for c in self.chapters if c.number == number), None)

    def shared_text(self, *, brief: bool = False) -> str:
        """What every chapter prompt carries (contracts go to each chapter alone).

        ``brief`` is for models with a small context window: characters with their
        roles only, places by name, the facts, and no style sheet.
        """
        lines = ["Story bible:"]
        if self.characters:
            lines.append("Characters:")
            lines += [
                f"- {c.name}"
                + "".join(
                    f"; {v}" for v in ((c.role,) if brief else (c.role, c.traits, c.arc)) if v
                )
                for c in self.characters
            ]
        if self.places:
            lines.append("Places:")
            lines += [
                f"- {p.name}" + (f": {p.description}" if p.description and not brief else "")
                for p in self.places
            ]
        if self.rules:
            lines.append("Facts that must never be contradicted:")
            lines += [f"- {rule}" for rule in self.rules]
        if self.style_sheet and not brief:
            lines.append("Style sheet:")
            lines += [f"- {item}" for item in self.style_sheet]
        return "\n".join(lines) if len(lines) > 1 else ""

    def contract_text(self, number: int) -> str:
        contract = self.contract(number)
        if contract is None:
            return ""
        parts = [
            ("The reader already knows", contract.knows),
            ("Start", contract.starts),
            ("End", contract.ends),
            ("Characters in this chapter", ", ".join(contract.characters)),
            ("Do not contradict", "; ".join(contract.facts)),
        ]
        return "\n".join(f"{label}: {value}" for label, value in parts if value)

    def markdown(self, title: str) -> str:
        text = [f"# Story bible: {title}", ""]
        if self.source == "outline":
            text += ["*Built from the outline alone (the model's answer could not be used).*", ""]
        text += self.shared_text().splitlines()[1:]
        for contract in self.chapters:
            text += ["", f"## Chapter {contract.number}", "", self.contract_text(contract.number)]
        return "\n".join(text).strip() + "\n"


# --- lenient parsing of a model's answer ----------------------------------------------

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_bible(text: str, book: BookSpec) -> StoryBible | None:
    """A bible from a model's answer, or None when nothing usable is in it."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            raw = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(raw, dict):
            bible = _coerce(raw, book)
            if bible is not None:
                return bible
    return None


def _coerce(raw: dict[str, Any], book: BookSpec) -> StoryBible | None:
    data = {str(k).lower().replace(" ", "_"): v for k, v in raw.items()}
    try:
        bible = StoryBible(
            characters=[_item(Character, c, "name") for c in _list(data.get("characters"))],
            places=[_item(Place, p, "name") for p in _list(data.get("places"))],
            rules=[str(r) for r in _list(data.get("rules"))],
            style_sheet=[str(s) for s in _list(data.get("style_sheet"))],
            chapters=[_contract(c, i + 1) for i, c in enumerate(_list(data.get("chapters")))],
        )
    except (ValidationError, TypeError, ValueError):
        return None
    if not bible.characters and not bible.chapters:
        return None
    known = set(book.numbers)
    bible.chapters = [c for c in bible.chapters if c.number in known]
    return bible


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _item(model: type[BibleModel], value: Any, key: str) -> Any:
    if isinstance(value, str):
        return model.model_validate({key: value})
    fields = model.model_fields
    clean = {k: _text(v) for k, v in dict(value).items() if k in fields}
    return model.model_validate(clean)


def _contract(value: Any, position: int) -> Contract:
    data = dict(value)
    number = int(data.get("number", position))
    return Contract(
        number=number,
        knows=_text(data.get("knows")),
        starts=_text(data.get("starts")),
        ends=_text(data.get("ends")),
        characters=[str(c) for c in _list(data.get("characters"))],
        facts=[str(f) for f in _list(data.get("facts"))],
    )


# --- the fallback, and the file ---------------------------------------------------------

_NAME = re.compile(r"\b([A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\b")
_NOT_NAMES = {
    "The",
    "A",
    "An",
    "In",
    "On",
    "At",
    "When",
    "After",
    "Before",
    "She",
    "He",
    "They",
    "Her",
    "His",
    "Their",
    "It",
    "This",
    "That",
    "Chapter",
    "But",
    "And",
    "As",
    "With",
    "From",
    "One",
    "Mr",
    "Mrs",
    "Ms",
    "Dr",
    # Words that open a sentence or a beat and are never names.
    "Over",
    "Under",
    "During",
    "While",
    "Then",
    "Now",
    "Later",
    "Meanwhile",
    "Inside",
    "Outside",
    "Back",
    "Soon",
    "Finally",
    "Suddenly",
    "Everyone",
    "Nobody",
    "Someone",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
    "Twenty",
    "Fifty",
    "Hundred",
    "Years",
    "Days",
    *"""By To For Of Behind Beyond Across Along Around Through Into Upon Without Within
    Still Once Only Even Just Every Each All Some Most No Not Yes If Because Since Until
    Where What Who Why How There Here Its Our We You I Me My Your Both Neither Either
    Near Far Up Down Out Off Above Below Between Against Among Toward Towards Despite
    Although Though Unless Whether Soon Instead Yet So Or Nor Like Unlike""".split(),
}
# A capitalised word like these at the start of a sentence or beat is a verb or an
# adverb ("Dragging the figurehead", "Slowly, she"), unless the outline capitalises it
# elsewhere too; "-ly" only from six letters, so Emily, Molly and Lily stay names.
_NOT_NAME_WORD = re.compile(r"\w+ing|\w{4,}ly")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|[\"“(]\s*)$")
_TITLE_BEFORE = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St)\.\s+$")


def _outline_names(texts: list[str]) -> list[list[str]]:
    """The names in each text: capitalised words and pairs, less the words above.

    A word that only opens a sentence or a beat, and does so once, is judged by itself:
    it is not a name if it looks like a verb or an adverb, or the outline also writes it
    in lower case ("Frost comes early" ... "a hard frost"). A name seen mid-sentence, or
    opening two or more sentences, is kept.
    """
    found = []
    for text in texts:
        matches = []
        for match in _NAME.finditer(text):
            before = text[: match.start()]
            start = bool(_SENTENCE_START.search(before)) and not _TITLE_BEFORE.search(before)
            words = match.group(1).split()
            if words[0] in _NOT_NAMES:
                # "Mr Smith", "Over Penrose": the name is what follows.
                words, start = words[1:], False
            if words and words[0] not in _NOT_NAMES:
                matches.append((" ".join(words), start))
        found.append(matches)
    mid = {
        word for matches in found for name, start in matches if not start for word in name.split()
    }
    openings = Counter(name for matches in found for name, start in matches if start)
    lower = {word for text in texts for word in re.findall(r"\b[a-z]+\b", text)}
    names = []
    for matches in found:
        kept = []
        for name, start in matches:
            alone = start and " " not in name and name not in mid and openings[name] < 2
            if alone and (_NOT_NAME_WORD.fullmatch(name) or name.lower() in lower):
                continue
            kept.append(name)
        names.append(kept)
    return names


def outline_bible(book: BookSpec) -> StoryBible:
    """The bible the outline alone supports: the names it mentions, a contract per chapter."""
    seen: dict[str, None] = {}
    contracts = []
    # Each beat is its own text: its first word starts a sentence.
    texts = [[chapter.synopsis, *chapter.beats] for chapter in book.chapters]
    per_text = iter(_outline_names([text for chapter in texts for text in chapter]))
    # A non-fiction outline's capitalised words are topics, not people.
    people = genre_preset(book.genre)[0] != "non-fiction"
    for chapter, chapter_texts in zip(book.chapters, texts, strict=True):
        names = [name for _ in chapter_texts for name in next(per_text) if people]
        for name in names:
            seen.setdefault(name, None)
        contracts.append(
            Contract(
                number=chapter.number, starts=chapter.synopsis[:200], characters=sorted(set(names))
            )
        )
    return StoryBible(
        source="outline",
        characters=[Character(name=name) for name in seen],
        chapters=contracts,
    )


def load_bible(store: BookStore) -> StoryBible | None:
    path = store.root / BIBLE_JSON
    if not path.is_file():
        return None
    try:
        return StoryBible.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else "not valid"
        raise ManifestError(
            f"bible.json is not a valid story bible: {message}", where=path
        ) from exc


def save_bible(store: BookStore, bible: StoryBible, title: str) -> None:
    atomic_write_text(store.root / BIBLE_JSON, bible.model_dump_json(indent=2) + "\n")
    atomic_write_text(store.root / BIBLE_MD, bible.markdown(title))
