"""Read an outline file (.txt, .md, .markdown, .json, .toml) into a ``BookSpec``.

    >>> spec = load_outline("outlines/deep-signal.md", target_words=800)  # doctest: +SKIP

The extension picks the format (case-insensitive). Each format becomes one plain dict,
validated by the pydantic models in strict mode; every problem is an ``OutlineError``
pointing at the line of the cause whenever that can be known.

Plain text (.txt)::

    Title: The Clockwork Garden      <- metadata lines, only before the first chapter
    Target words: 1,200
    Chapter 1: The Broken Gate       <- or "Chapter 1 - T", "CHAPTER 1. T", "Chapter One: T",
    A synopsis line, joined with        "Chapter Twenty-One – T", "Chapter IV: T"
    the next one by a space.
                                     <- a blank line starts a new synopsis paragraph
    - a beat                         <- "- " and "* " lines are beats; a line indented
      continued                         deeper than a beat's bullet continues it

- Metadata keys: Title, Genre, Audience, Style, Author, Target words (any case;
  "target_words" too; ``**Genre:** x`` works). Before the first chapter a line of one or
  two words then a colon is metadata, so an unknown key is an error (``Foo: bar``, and a
  title such as ``Dark Water: A Novel``: write ``Title: Dark Water: A Novel``).
- Without ``Title:`` the first other line before the first chapter is the title, else
  the file name ("my-book.txt" -> "My Book"); more lines there are a blurb, ignored.
- A heading starts with "Chapter" or "CHAPTER" (not "chapter", so a wrapped sentence is
  not mistaken for one). Its number is digits, One..Ninety-Nine or a roman numeral;
  "Chapter Tweleve: T" is an error, and so is a heading without a title.

Markdown (.md, .markdown): the first ``#`` heading is the title (a ``Title:`` line wins);
metadata as above goes before the first ``##``, and any other text there is a preface,
ignored. Each ``##`` starts a chapter: ``## Chapter 2: Title`` or just ``## Title`` (a
heading whose number does not parse is all title). Synopsis and beats as in .txt; other
headings and ``---`` rules only end a paragraph. Per-chapter target words and priority
need JSON or TOML.

JSON and TOML: ``{title, genre, audience, style, author, target_words, chapters:
[{number, title, synopsis, beats, target_words, priority}]}``; only the titles and
``chapters`` are required, types are strict ("800" is not a number), and a repeated
JSON key is an error rather than the last one silently winning.

In every format a chapter without a number gets the previous one's number + 1 (the
first gets 1), and a chapter's own target words win over the book's. The ``target_words``
and ``genre`` arguments (--target-words, --genre) replace the book's after validation.
"""

from __future__ import annotations

import json
import re
import tomllib
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bookgen.errors import OptionError, OutlineError
from bookgen.models import BookSpec, ChapterSpec

__all__ = ["SUPPORTED_EXTENSIONS", "load_outline"]

SUPPORTED_EXTENSIONS = (".txt", ".md", ".markdown", ".json", ".toml")

# A path into the outline data, as pydantic reports it: ("chapters", 2, "title").
Loc = tuple[str | int, ...]

_META_NAMES = "Title, Genre, Audience, Style, Author, Target words"
_META_KEYS = {name.lower(): name.lower().replace(" ", "_") for name in _META_NAMES.split(", ")}
_META = re.compile(
    r"(?:\*\*)?(?P<key>[a-z][a-z_-]*(?: [a-z][a-z_-]*)?)(?::\*\*|\*\*:|:)(?!//)\s*(?P<value>.*)",
    re.IGNORECASE,
)
_NUM = r"(?P<num>\d+|[a-z]+(?:[-\s][a-z]+)?)"
_HEADING = re.compile(rf"chapter\s+{_NUM}\s*[:.\u2013\u2014-]\s*(?P<title>.*)", re.IGNORECASE)
_BARE_HEADING = re.compile(rf"chapter\s+{_NUM}", re.IGNORECASE)
_MD_HEADING = re.compile(r"(?P<hashes>#{1,6})(?:\s+(?P<text>.*?))?(?:\s+#+)?\s*")
_BULLET = re.compile(r"[-*]\s+(?P<text>\S.*)")
_RULE = re.compile(r"(?:[-*_]\s*){3,}")
_WORDS = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\s+words?)?", re.IGNORECASE)
_ROMAN = re.compile(r"m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})")
_TOML_AT = re.compile(r"\s*\((?:at line (?P<line>\d+), column (?P<col>\d+)|at end of document)\)$")

_ONES = "one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_WORDS = {word: n for n, word in enumerate(_ONES + _TEENS.split(), start=1)}
_NUMBER_WORDS.update({word: 10 * n for n, word in enumerate(_TENS, start=2)})
_NUMBER_HELP = "use digits (3), words (Three, Twenty-One) or roman numerals (IV)"
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}


def load_outline(
    path: str | Path, *, target_words: int | None = None, genre: str | None = None
) -> BookSpec:
    """Parse the outline at ``path``; ``target_words``/``genre`` override the book's.

    Raises ``OutlineError`` for anything wrong with the file and ``OptionError`` for
    an override that is not usable (``target_words`` below 1, a blank ``genre``).
    """
    if target_words is not None and (isinstance(target_words, bool) or target_words < 1):
        raise OptionError(f"--target-words must be at least 1, got {target_words}")
    if genre is not None and not genre.strip():
        raise OptionError("--genre must not be empty")
    updates = {"target_words": target_words, "genre": genre.strip() if genre else None}
    updates = {key: value for key, value in updates.items() if value is not None}
    path = Path(path)
    text = _read_text(path)
    parser = _PARSERS[path.suffix.lower()]
    spec = _validate(parser(text, path), path)
    return BookSpec.model_validate(spec.model_dump() | updates) if updates else spec


@dataclass
class _Draft:
    """A parsed outline before validation, with the line each data path came from."""

    data: dict[str, Any]
    lines: dict[Loc, int] = field(default_factory=dict)
    mapping: str = "an object"  # what a {...} is called in this format

    def line_of(self, loc: Loc) -> int | None:
        # The longest known prefix: a missing chapter field points at its chapter.
        for end in range(len(loc), 0, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


# --- reading -----------------------------------------------------------------------


def _read_text(path: Path) -> str:
    if path.is_dir():
        raise OutlineError("is a directory, not an outline file", path=path)
    if not path.exists():
        raise OutlineError("outline file not found", path=path)
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        shown = f"'{path.suffix}'" if path.suffix else "no extension"
        supported = ", ".join(SUPPORTED_EXTENSIONS)
        raise OutlineError(f"unsupported outline format ({shown}); use {supported}", path=path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise OutlineError(f"cannot read outline file: {exc.strerror}", path=path) from exc
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    # A NUL decodes fine as UTF-8 but means binary content just as a bad byte does.
    bad = raw.find(b"\x00")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start if bad < 0 else min(bad, exc.start)
        text = ""
    if bad >= 0:
        line = raw.count(b"\n", 0, bad) + 1
        message = "not a UTF-8 text file; save the outline as UTF-8 text"
        raise OutlineError(message, path=path, line=line)
    if not text.strip():
        raise OutlineError("outline file is empty", path=path)
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- plain text and markdown -------------------------------------------------------


@dataclass
class _Chapter:
    line: int
    title: str
    number: int | None = None
    body: list[str] = field(default_factory=list)


@dataclass
class _Front:
    """What comes before the first chapter: metadata, a title, a blurb."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    lines: dict[Loc, int] = field(default_factory=dict)

    def feed(self, line: str, lineno: int) -> bool:
        """Take ``line`` if it is metadata; error if it looks like metadata but is not."""
        match = _META.fullmatch(line.strip())
        if match is None:
            return False
        name = match["key"]
        key = _META_KEYS.get(re.sub(r"[\s_-]+", " ", name.lower()))
        if key is None:
            message = f"unknown metadata key '{name}'; known: {_META_NAMES}"
            raise OutlineError(message, path=self.path, line=lineno)
        if key in self.meta:
            raise OutlineError(f"duplicate metadata key '{name}'", path=self.path, line=lineno)
        value = match["value"].strip()
        if not value:
            raise OutlineError(f"metadata '{name}' has no value", path=self.path, line=lineno)
        self.meta[key] = _word_count(value, self.path, lineno) if key == "target_words" else value
        self.lines[(key,)] = lineno
        return True

    def draft(self, title: tuple[str, int] | None, chapters: list[_Chapter]) -> _Draft:
        draft = _Draft({"title": _title_from_stem(self.path)}, dict(self.lines))
        if title is not None and "title" not in self.meta:
            draft.data["title"], draft.lines[("title",)] = title
        draft.data.update(self.meta)
        draft.data["chapters"] = []
        for index, chapter in enumerate(chapters):
            synopsis, beats = _body(chapter.body)
            item: dict[str, Any] = {"title": chapter.title, "synopsis": synopsis, "beats": beats}
            if chapter.number is not None:
                item["number"] = chapter.number
            draft.data["chapters"].append(item)
            for loc in [("chapters", index), ("chapters", index, "number")]:
                draft.lines[loc] = chapter.line
        return draft


def _parse_txt(text: str, path: Path) -> _Draft:
    front = _Front(path)
    title: tuple[str, int] | None = None
    chapters: list[_Chapter] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        # A capital C keeps a wrapped sentence ("...as in\nchapter 3. She") out of headings.
        stripped = line.strip()
        heading = _heading(stripped, path, lineno, markdown=False) if stripped[:1] == "C" else None
        if heading is not None:
            chapters.append(heading)
        elif chapters:
            chapters[-1].body.append(line)
        elif stripped and not front.feed(line, lineno) and title is None:
            title = (stripped, lineno)
    if not chapters:
        message = "no chapter found; start each chapter with a line like 'Chapter 1: Title'"
        raise OutlineError(message, path=path)
    return front.draft(title, chapters)


def _parse_markdown(text: str, path: Path) -> _Draft:
    front = _Front(path)
    title: tuple[str, int] | None = None
    chapters: list[_Chapter] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        match = _MD_HEADING.fullmatch(line.strip())
        level = len(match["hashes"]) if match else 0
        content = (match["text"] or "").strip() if match else ""
        if level == 2:
            if not content:
                raise OutlineError("chapter heading has no title", path=path, line=lineno)
            heading = _heading(content, path, lineno, markdown=True)
            chapters.append(heading or _Chapter(lineno, content))
        elif chapters:
            chapters[-1].body.append("" if level else line)
        elif level == 1 and title is None and content:
            title = (content, lineno)
        elif not level:
            front.feed(line, lineno)
    if not chapters:
        message = "no chapter found; start each chapter with '## Chapter 1: Title' or '## Title'"
        raise OutlineError(message, path=path)
    return front.draft(title, chapters)


def _heading(text: str, path: Path, lineno: int, *, markdown: bool) -> _Chapter | None:
    """The chapter a "Chapter 4: Title" line starts, or None if the line is not one."""
    titled = _HEADING.fullmatch(text)
    match = titled or _BARE_HEADING.fullmatch(text.rstrip(".:"))
    number = _chapter_number(match["num"]) if match else None
    if match is None or number is None:
        # Prose such as "Chapter and verse: ..." or a wrapped "Chapter ends." line; in
        # markdown any "## Title" is a chapter, so a typo there is just part of the title.
        if markdown or not titled or not titled["title"] or re.search(r"\s", titled["num"]):
            return None
        message = f"'{titled['num']}' is not a chapter number; {_NUMBER_HELP}"
        raise OutlineError(message, path=path, line=lineno)
    if number < 1:
        raise OutlineError("chapter numbers start at 1", path=path, line=lineno)
    title = titled["title"].strip() if titled else ""
    if not title:
        message = f"chapter {number} has no title; write 'Chapter {number}: <title>'"
        raise OutlineError(message, path=path, line=lineno)
    return _Chapter(lineno, title, number)


def _chapter_number(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    words = re.split(r"[-\s]+", token.lower())
    if len(words) == 1 and words[0] in _NUMBER_WORDS:
        return _NUMBER_WORDS[words[0]]
    if len(words) == 2 and words[0] in _TENS and words[1] in _ONES:
        return _NUMBER_WORDS[words[0]] + _NUMBER_WORDS[words[1]]
    roman = token.lower()
    if len(words) == 1 and _ROMAN.fullmatch(roman):
        values = [_ROMAN_VALUES[char] for char in roman]
        # A smaller numeral before a larger one is subtracted: IV = 5 - 1.
        return sum(-v if v < nxt else v for v, nxt in zip(values, values[1:] + [0], strict=True))
    return None


def _body(lines: list[str]) -> tuple[str, list[str]]:
    """Synopsis paragraphs and beats from the lines under a chapter heading."""
    paragraphs: list[str] = []
    current: list[str] = []
    beats: list[str] = []
    beat_indent: int | None = None  # set while the last line was part of a beat
    for line in lines:
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        bullet = _BULLET.fullmatch(text)
        if beat_indent is not None and text and bullet is None and indent > beat_indent:
            beats[-1] = f"{beats[-1]} {text}"
            continue
        breaks = not text or _RULE.fullmatch(text) is not None or text in ("-", "*")
        if breaks:
            bullet = None
        if current and (breaks or bullet is not None):
            paragraphs.append(" ".join(current))
            current = []
        beat_indent = indent if bullet is not None else None
        if bullet is not None:
            beats.append(bullet["text"].strip())
        elif not breaks:
            current.append(text)
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs), beats


def _word_count(value: str, path: Path, lineno: int) -> int:
    if not _WORDS.fullmatch(value):
        message = f"Target words must be a whole number like 1500 or 1,500, got '{value}'"
        raise OutlineError(message, path=path, line=lineno)
    count = int(re.sub(r"[^\d-]", "", value))
    if count < 1:
        message = f"Target words must be greater than 0, got {count}"
        raise OutlineError(message, path=path, line=lineno)
    return count


def _title_from_stem(path: Path) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in re.split(r"[-_\s]+", path.stem))


# --- JSON and TOML -----------------------------------------------------------------


def _parse_json(text: str, path: Path) -> _Draft:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at column {exc.colno}: {exc.msg}"
        raise OutlineError(message, path=path, line=exc.lineno) from exc
    except RecursionError as exc:
        raise OutlineError("JSON nested too deeply to be an outline", path=path) from exc
    if not isinstance(data, dict):
        line = text[: len(text) - len(text.lstrip())].count("\n") + 1
        message = f"a JSON outline must be an object ({{...}}) at the top, {_got(data, '')}"
        raise OutlineError(message, path=path, line=line)
    lines, duplicates = _json_lines(text)
    if duplicates:
        key, line = duplicates[0]
        raise OutlineError(f"duplicate key '{key}'", path=path, line=line)
    return _Draft(data, lines)


def _json_lines(text: str) -> tuple[dict[Loc, int], list[tuple[str, int]]]:
    """Walk valid JSON text: the line where each key and list item starts, and any
    duplicate keys (``json`` keeps the last one silently)."""
    starts = [0] + [match.end() for match in re.finditer("\n", text)]
    decoder = json.JSONDecoder()
    lines: dict[Loc, int] = {}
    duplicates: list[tuple[str, int]] = []

    def skip(index: int) -> int:
        while text[index] in " \t\n\r":
            index += 1
        return index

    def value(index: int, loc: Loc) -> int:
        index = skip(index)
        lines.setdefault(loc, bisect_right(starts, index))
        opener, count = text[index], 0
        seen: set[str] = set()
        if opener not in "{[":
            return int(decoder.raw_decode(text, index)[1])
        index = skip(index + 1)
        while text[index] not in "}]":
            if opener == "{":
                line = bisect_right(starts, index)
                key, index = decoder.raw_decode(text, index)
                if key in seen:
                    duplicates.append((key, line))
                seen.add(key)
                lines[(*loc, key)] = line
                index = value(skip(index) + 1, (*loc, key))  # + 1 steps over the ':'
            else:
                index, count = value(index, (*loc, count)), count + 1
            index = skip(index)
            index = skip(index + 1) if text[index] == "," else index
        return index + 1

    try:
        value(0, ())
    except (ValueError, IndexError, RecursionError):
        pass  # the map is best effort: the text already parsed as JSON
    return lines, duplicates


def _parse_toml(text: str, path: Path) -> _Draft:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_AT.search(str(exc))
        reason = str(exc)[: match.start()] if match else str(exc)
        message, line = f"invalid TOML: {reason}", len(text.rstrip("\n").split("\n"))
        if match and match["line"]:  # else "at end of document": the last line
            message = f"invalid TOML at column {match['col']}: {reason}"
            line = int(match["line"])
        raise OutlineError(message, path=path, line=line) from exc
    return _Draft(data, _toml_lines(text), mapping="a table")


def _toml_lines(text: str) -> dict[Loc, int]:
    """Best-effort lines of TOML keys and ``[[chapters]]`` tables (not inline tables)."""
    lines: dict[Loc, int] = {}
    table: Loc = ()
    counts: dict[str, int] = {}
    for lineno, line in enumerate(text.split("\n"), start=1):
        if match := re.match(r"\s*\[\[\s*([\w.-]+)\s*\]\]", line):
            name = match[1]
            counts[name] = counts.get(name, -1) + 1
            table = (*name.split("."), counts[name])
        elif match := re.match(r"\s*\[\s*([\w.-]+)\s*\]", line):
            table = tuple(match[1].split("."))
        elif match := re.match(r"""\s*(?:"([^"]*)"|'([^']*)'|([\w-]+))\s*=""", line):
            key = next(group for group in match.groups() if group is not None)
            lines.setdefault((*table, key), lineno)
            continue
        else:
            continue
        lines.setdefault(table, lineno)
    return lines


# --- validation --------------------------------------------------------------------


def _validate(draft: _Draft, path: Path) -> BookSpec:
    data = draft.data
    for key in ("title", "genre", "audience", "style", "author"):
        if isinstance(data.get(key), str):
            data[key] = data[key].strip()
    _number_chapters(draft, path)
    try:
        return BookSpec.model_validate(data, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = min(range(len(errors)), key=lambda i: _rank(draft, errors[i], i))
        loc = tuple(errors[first]["loc"])
        message = _describe(errors[first], draft.mapping)
        raise OutlineError(message, path=path, line=draft.line_of(loc)) from exc


def _rank(draft: _Draft, error: Any, index: int) -> tuple[float, bool, float, int]:
    # The error nearest the top, as a reader meets it; within one chapter "missing" comes
    # last, so a typo ("titel") is reported as the unknown key, not as "title" missing.
    loc: Loc = tuple(error["loc"])
    own = draft.line_of(loc) or float("inf")
    return (draft.line_of(loc[:-1]) or own, error["type"] == "missing", own, index)


def _number_chapters(draft: _Draft, path: Path) -> None:
    """Number unnumbered chapters after the one before; reject duplicate numbers."""
    chapters = draft.data.get("chapters")
    if not isinstance(chapters, list):
        return
    previous: int | None = 0
    first_seen: dict[int, int] = {}
    for index, chapter in enumerate(chapters):
        if not isinstance(chapter, dict):
            previous = None
            continue
        if "number" not in chapter and previous is not None:
            chapter["number"] = previous + 1
        number = chapter.get("number")
        if not isinstance(number, int) or isinstance(number, bool):
            previous = None
            continue
        line = draft.line_of(("chapters", index, "number"))
        if number in first_seen:
            earlier = draft.line_of(("chapters", first_seen[number]))
            where = f", already used at line {earlier}" if earlier is not None else ""
            raise OutlineError(f"duplicate chapter number {number}{where}", path=path, line=line)
        first_seen[number] = index
        previous = number


def _describe(error: Any, mapping: str) -> str:
    """One human line for a pydantic error: ``chapters[1].title: must be a string, got 3``."""
    loc: Loc = tuple(error["loc"])
    kind: str = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        model = ChapterSpec if len(loc) > 1 else BookSpec
        known = ", ".join(model.model_fields)
        return f"{_where(loc[:-1])}unknown field '{loc[-1]}'; known: {known}"
    if kind == "missing":
        return f"{_where(loc[:-1])}missing required field '{loc[-1]}'"
    phrase = _PHRASES.get(kind, "").replace("MAPPING", mapping)
    if kind == "too_short" and loc == ("chapters",):
        text = "must list at least one chapter"
    elif kind == "list_type" and loc[-1:] == ("beats",):
        text = f"must be a list of strings, {_got(value, mapping)}"
    elif kind == "value_error":
        text = str(error["ctx"]["error"])
    elif phrase:
        text = f"{phrase}, {_got(value, mapping)}" if kind.endswith("_type") else phrase
    else:
        text = str(error["msg"])
    return f"{_where(loc)}{text}"


_PHRASES = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be MAPPING",
    "model_type": "must be MAPPING with a title",
    "greater_than": "must be greater than 0",
    "string_too_short": "must not be empty",
}


def _where(loc: Loc) -> str:
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return f"{text.lstrip('.')}: " if text else ""


def _got(value: Any, mapping: str) -> str:
    if isinstance(value, str):
        return f"got a string {value[:40]!r}"
    if isinstance(value, bool | int | float | None):
        return f"got {json.dumps(value)}"  # true, 1.5, null: as the user wrote them
    kind = "a list" if isinstance(value, list) else mapping if isinstance(value, dict) else ""
    return f"got {kind or 'a date'}"  # TOML dates are the one other type


_PARSERS: dict[str, Callable[[str, Path], _Draft]] = {
    ".txt": _parse_txt,
    ".md": _parse_markdown,
    ".markdown": _parse_markdown,
    ".json": _parse_json,
    ".toml": _parse_toml,
}
