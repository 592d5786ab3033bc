"""Outline parsing: every format to an exact BookSpec, and every bad input to one exact line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bookgen.errors import OptionError, OutlineError
from bookgen.models import BookSpec, ChapterSpec
from bookgen.outline import load_outline

ROOT = Path(__file__).resolve().parent.parent


def ch(number: int, title: str, synopsis: str = "", *beats: str, **extra: Any) -> ChapterSpec:
    return ChapterSpec(number=number, title=title, synopsis=synopsis, beats=list(beats), **extra)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


# --- good outlines -----------------------------------------------------------------

TXT_FULL = """\
Title: The Clockwork Garden
GENRE: fantasy
audience: adults
Style: lyrical
Author: Imogen Tallis
Target words: 2,000

A blurb line that is ignored.

Chapter 1: The Brass Rose
Wren finds a rose
that grows thorns.

Tobiah hides it.
- the rose ticks
* the drawer is locked
  and the key is gone

Chapter 2 - The Guild
Marisol turns her away.
CHAPTER 3. Roots
Chapter 4 \u2013 The Key
Chapter 5 \u2014 What the Garden Holds
Note: this line is synopsis text, not metadata.
chapter 6 is mentioned here, lowercase, so it stays text.
Chapter and verse: two words, so prose.
Chapter ends.
"""

TXT_FULL_SPEC = BookSpec(
    title="The Clockwork Garden",
    genre="fantasy",
    audience="adults",
    style="lyrical",
    author="Imogen Tallis",
    target_words=2000,
    chapters=[
        ch(
            1,
            "The Brass Rose",
            "Wren finds a rose that grows thorns.\n\nTobiah hides it.",
            "the rose ticks",
            "the drawer is locked and the key is gone",
        ),
        ch(2, "The Guild", "Marisol turns her away."),
        ch(3, "Roots"),
        ch(4, "The Key"),
        ch(
            5,
            "What the Garden Holds",
            "Note: this line is synopsis text, not metadata. "
            "chapter 6 is mentioned here, lowercase, so it stays text. "
            "Chapter and verse: two words, so prose. Chapter ends.",
        ),
    ],
)

MD_FULL = """\
# Deep Signal

**Genre:** science fiction
**Audience**: adults
target_words: 900

A preface paragraph that is not part of any chapter.
- nor is this bullet

## Chapter 3: Listening Post
Ines hears the signal.
It repeats.

### Beats
- Ines calibrates the array
- Sato locks her out

## The Relief Ship ##
The ship arrives early.

---

Delphine knows.

# Part Two

## Chapter and Verse
* the last beat
"""

MD_FULL_SPEC = BookSpec(
    title="Deep Signal",
    genre="science fiction",
    audience="adults",
    target_words=900,
    chapters=[
        ch(
            3,
            "Listening Post",
            "Ines hears the signal. It repeats.",
            "Ines calibrates the array",
            "Sato locks her out",
        ),
        ch(4, "The Relief Ship", "The ship arrives early.\n\nDelphine knows."),
        ch(5, "Chapter and Verse", "", "the last beat"),
    ],
)

JSON_FULL = """\
{
  "title": "The Quiet Ledger",
  "genre": "mystery",
  "audience": "adults",
  "style": "measured",
  "author": "Margaret Ellery",
  "target_words": 1200,
  "chapters": [
    {"title": "A Column", "synopsis": "Agnes finds a payment.", "beats": ["F. Harrow"]},
    {"number": 5, "title": "F. Harrow", "target_words": 800},
    {"title": "The Missing Volume", "priority": true}
  ]
}
"""

TOML_FULL = """\
title = "The Quiet Ledger"
genre = "mystery"
audience = "adults"
style = "measured"
author = "Margaret Ellery"
target_words = 1200

[[chapters]]
title = "A Column"
synopsis = "Agnes finds a payment."
beats = ["F. Harrow"]

[[chapters]]
number = 5
title = "F. Harrow"
target_words = 800

[[chapters]]
title = "The Missing Volume"
priority = true
"""

LEDGER_SPEC = BookSpec(
    title="The Quiet Ledger",
    genre="mystery",
    audience="adults",
    style="measured",
    author="Margaret Ellery",
    target_words=1200,
    chapters=[
        ch(1, "A Column", "Agnes finds a payment.", "F. Harrow"),
        ch(5, "F. Harrow", target_words=800),
        ch(6, "The Missing Volume", priority=True),
    ],
)

NUMBER_WORDS = """\
Title: Numbers
Chapter One: A
Chapter twelve: B
Chapter Twenty-One: C
Chapter Thirty Two: D
Chapter Ninety-Nine: E
Chapter IV: F
Chapter xiv: G
Chapter MCMXC: H
Chapter 100: I
"""


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("book.txt", TXT_FULL, TXT_FULL_SPEC),
        ("crlf-bom.txt", b"\xef\xbb\xbf" + TXT_FULL.replace("\n", "\r\n").encode(), TXT_FULL_SPEC),
        ("book.md", MD_FULL, MD_FULL_SPEC),
        ("BOOK.MARKDOWN", MD_FULL.replace("\n", "\r\n"), MD_FULL_SPEC),
        ("book.json", JSON_FULL, LEDGER_SPEC),
        ("book.JSON", b"\xef\xbb\xbf" + JSON_FULL.encode(), LEDGER_SPEC),
        ("book.toml", TOML_FULL, LEDGER_SPEC),
        (
            "numbers.txt",
            NUMBER_WORDS,
            BookSpec(
                title="Numbers",
                chapters=[
                    ch(n, t)
                    for n, t in zip([1, 12, 21, 32, 99, 4, 14, 1990, 100], "ABCDEFGHI", strict=True)
                ],
            ),
        ),
        (
            "first-line-title.txt",
            "\nThe Title Line\nA blurb.\nGenre: noir\ntarget-words: 800 words\nChapter 1: One\n",
            BookSpec(
                title="The Title Line", genre="noir", target_words=800, chapters=[ch(1, "One")]
            ),
        ),
        (
            "my-great_book.txt",
            "Chapter 2: Only\nText.",
            BookSpec(title="My Great Book", chapters=[ch(2, "Only", "Text.")]),
        ),
        (
            "title-wins.md",
            "# Heading Title\nTitle: Metadata Title\n## One\n## Two\n",
            BookSpec(title="Metadata Title", chapters=[ch(1, "One"), ch(2, "Two")]),
        ),
        (
            "no-heading.md",
            "## Chapter 7. Seven\n## Chapter Eight \u2013 Eight\n## Nine\n## Chapter Tweleve: Typo\n",
            BookSpec(
                title="No Heading",
                chapters=[
                    ch(7, "Seven"),
                    ch(8, "Eight"),
                    ch(9, "Nine"),
                    ch(10, "Chapter Tweleve: Typo"),
                ],
            ),
        ),
        (
            "minimal.json",
            '{"title": " Padded ", "chapters": [{"title": "Only"}]}',
            BookSpec(title="Padded", chapters=[ch(1, "Only")]),
        ),
    ],
)
def test_good_outline_parses_exactly(
    tmp_path: Path, name: str, content: str | bytes, expected: BookSpec
) -> None:
    assert load_outline(write(tmp_path, name, content)) == expected


def test_default_target_words_is_1500(tmp_path: Path) -> None:
    spec = load_outline(write(tmp_path, "book.md", "# B\n## One\n"))
    assert spec.target_words == 1500


@pytest.mark.parametrize(
    ("target_words", "genre", "book_target", "chapter_targets", "expected_genre"),
    [
        (None, None, 1200, [1200, 800, 1200], "mystery"),
        (500, None, 500, [500, 800, 500], "mystery"),
        (None, " thriller ", 1200, [1200, 800, 1200], "thriller"),
        (700, "cosy", 700, [700, 800, 700], "cosy"),
    ],
)
def test_overrides_replace_book_level_values(
    tmp_path: Path,
    target_words: int | None,
    genre: str | None,
    book_target: int,
    chapter_targets: list[int],
    expected_genre: str,
) -> None:
    path = write(tmp_path, "book.json", JSON_FULL)
    spec = load_outline(path, target_words=target_words, genre=genre)
    assert spec.target_words == book_target
    assert [spec.target_for(chapter) for chapter in spec.chapters] == chapter_targets
    assert spec.genre == expected_genre
    assert spec.chapters == LEDGER_SPEC.chapters


@pytest.mark.parametrize(
    ("target_words", "genre", "message"),
    [
        (0, None, "--target-words must be at least 1, got 0"),
        (-5, None, "--target-words must be at least 1, got -5"),
        (None, "  ", "--genre must not be empty"),
    ],
)
def test_bad_override_is_an_option_error(
    tmp_path: Path, target_words: int | None, genre: str | None, message: str
) -> None:
    path = write(tmp_path, "book.json", JSON_FULL)
    with pytest.raises(OptionError) as info:
        load_outline(path, target_words=target_words, genre=genre)
    assert str(info.value) == message


# --- bad outlines ------------------------------------------------------------------

KNOWN_META = "known: Title, Genre, Audience, Style, Author, Target words"
BOOK_FIELDS = "title, genre, audience, style, author, target_words, chapters"
CHAPTER_FIELDS = "number, title, synopsis, beats, target_words, priority"
TXT_HELP = "start each chapter with a line like 'Chapter 1: Title'"
UTF8_HELP = "not a UTF-8 text file; save the outline as UTF-8 text"
MD_HELP = "start each chapter with '## Chapter 1: Title' or '## Title'"


@pytest.mark.parametrize(
    ("name", "content", "message", "line"),
    [
        # reading
        ("empty.txt", "", "outline file is empty", None),
        ("blank.md", " \n\t\r\n\n", "outline file is empty", None),
        ("bom-only.json", b"\xef\xbb\xbf\n", "outline file is empty", None),
        ("latin1.txt", b"Title: x\n\nCaf\xe9\n", UTF8_HELP, 3),
        ("nul.md", b"# T\n## One\nab\x00cd\n", UTF8_HELP, 3),
        (
            "book.pdf",
            "x",
            "unsupported outline format ('.pdf'); use .txt, .md, .markdown, .json, .toml",
            None,
        ),
        (
            "README",
            "x",
            "unsupported outline format (no extension); use .txt, .md, .markdown, .json, .toml",
            None,
        ),
        # plain text
        ("nochap.txt", "Title: X\nSome text.\n", f"no chapter found; {TXT_HELP}", None),
        (
            "meta.txt",
            "Title: X\n\nFoo: bar\nChapter 1: A\n",
            f"unknown metadata key 'Foo'; {KNOWN_META}",
            3,
        ),
        (
            "meta2.txt",
            "Dark Water: A Novel\nChapter 1: A\n",
            f"unknown metadata key 'Dark Water'; {KNOWN_META}",
            1,
        ),
        ("dupmeta.txt", "Genre: a\ngenre: b\nChapter 1: A\n", "duplicate metadata key 'genre'", 2),
        ("nometa.txt", "Style:\nChapter 1: A\n", "metadata 'Style' has no value", 1),
        (
            "zero.txt",
            "Target words: 0\nChapter 1: A\n",
            "Target words must be greater than 0, got 0",
            1,
        ),
        (
            "neg.txt",
            "\nTarget words: -20\nChapter 1: A\n",
            "Target words must be greater than 0, got -20",
            2,
        ),
        (
            "nan.txt",
            "Target words: lots\nChapter 1: A\n",
            "Target words must be a whole number like 1500 or 1,500, got 'lots'",
            1,
        ),
        (
            "dup.txt",
            "Chapter 1: A\ntext\n\nChapter 2: B\nChapter 1: C\n",
            "duplicate chapter number 1, already used at line 1",
            5,
        ),
        (
            "dupword.txt",
            "Chapter 1: A\nChapter One: B\n",
            "duplicate chapter number 1, already used at line 1",
            2,
        ),
        (
            "notitle.txt",
            "Chapter 1: A\nChapter 2:  \n",
            "chapter 2 has no title; write 'Chapter 2: <title>'",
            2,
        ),
        (
            "bare.txt",
            "Chapter 1: A\n\nChapter III\n",
            "chapter 3 has no title; write 'Chapter 3: <title>'",
            3,
        ),
        (
            "word.txt",
            "Chapter 1: A\nChapter Tweleve: B\n",
            "'Tweleve' is not a chapter number; use digits (3), words (Three, Twenty-One) or "
            "roman numerals (IV)",
            2,
        ),
        ("zeroch.txt", "Chapter 0: A\n", "chapter numbers start at 1", 1),
        # markdown
        ("nochap.md", "# Title\nGenre: x\n\nText only.\n", f"no chapter found; {MD_HELP}", None),
        ("meta.md", "# T\n**Genra:** x\n## A\n", f"unknown metadata key 'Genra'; {KNOWN_META}", 2),
        (
            "zero.md",
            "# T\n\nTarget words: 0\n## A\n",
            "Target words must be greater than 0, got 0",
            3,
        ),
        (
            "dup.md",
            "# T\n## Chapter 2: A\n## Chapter 1: B\n## C\n",
            "duplicate chapter number 2, already used at line 2",
            4,
        ),
        ("empty-heading.md", "# T\n## A\n##\n", "chapter heading has no title", 3),
        ("bare.md", "# T\n## Chapter 4\n", "chapter 4 has no title; write 'Chapter 4: <title>'", 2),
        # JSON
        (
            "bad.json",
            '{\n  "title": "x",\n  "chapters": [}\n',
            "invalid JSON at column 16: Expecting value",
            3,
        ),
        (
            "trailing.json",
            '{"title": "x",\n "chapters": [],\n}',
            "invalid JSON at column 1: Expecting property name enclosed in double quotes",
            3,
        ),
        (
            "list.json",
            "\n\n[1, 2]",
            "a JSON outline must be an object ({...}) at the top, got a list",
            3,
        ),
        (
            "string.json",
            '"book"',
            "a JSON outline must be an object ({...}) at the top, got a string 'book'",
            1,
        ),
        (
            "dupkey.json",
            '{"title": "x",\n "title": "y", "chapters": []}',
            "duplicate key 'title'",
            2,
        ),
        (
            "title-type.json",
            '{\n "title": 42,\n "chapters": [{"title": "a"}]}',
            "title: must be a string, got 42",
            2,
        ),
        (
            "blank-title.json",
            '{"chapters": [{"title": "a"}],\n "title": "  "}',
            "title: must not be empty",
            2,
        ),
        ("no-title.json", '{"chapters": [{"title": "a"}]}', "missing required field 'title'", None),
        (
            "chapters-type.json",
            '{"title": "x",\n "chapters": {"title": "a"}}',
            "chapters: must be a list, got an object",
            2,
        ),
        (
            "chapters-empty.json",
            '{"title": "x",\n\n "chapters": []}',
            "chapters: must list at least one chapter",
            3,
        ),
        ("chapters-missing.json", '{"title": "x"}', "missing required field 'chapters'", None),
        (
            "unknown.json",
            '{"title": "x",\n "chapterz": [],\n "chapters": [{"title": "a"}]}',
            f"unknown field 'chapterz'; known: {BOOK_FIELDS}",
            2,
        ),
        (
            "unknown-ch.json",
            '{"title": "x", "chapters": [\n {"title": "a",\n  "beatz": []}]}',
            f"chapters[0]: unknown field 'beatz'; known: {CHAPTER_FIELDS}",
            3,
        ),
        (
            "ch-title.json",
            '{"title": "x", "chapters": [\n {"title": "a"},\n {"title": 7}]}',
            "chapters[1].title: must be a string, got 7",
            3,
        ),
        (
            "ch-empty-title.json",
            '{"title": "x", "chapters": [\n {"title": "a"},\n {"title": ""}]}',
            "chapters[1].title: must not be empty",
            3,
        ),
        (
            "ch-blank-title.json",
            '{"title": "x", "chapters": [\n {"title": "   "}]}',
            "chapters[0].title: must not be empty",
            2,
        ),
        (
            "ch-no-title.json",
            '{"title": "x", "chapters": [\n {"title": "a"},\n {"synopsis": "s"}]}',
            "chapters[1]: missing required field 'title'",
            3,
        ),
        (
            "ch-string.json",
            '{"title": "x", "chapters": [\n "Chapter 1"]}',
            "chapters[0]: must be an object with a title, got a string 'Chapter 1'",
            2,
        ),
        (
            "beats-str.json",
            '{"title": "x", "chapters": [\n {"title": "a",\n  "beats": "one"}]}',
            "chapters[0].beats: must be a list of strings, got a string 'one'",
            3,
        ),
        (
            "beats-int.json",
            '{"title": "x", "chapters": [\n {"title": "a", "beats": [\n "ok", 2]}]}',
            "chapters[0].beats[1]: must be a string, got 2",
            3,
        ),
        (
            "book-zero.json",
            '{"title": "x",\n "target_words": 0,\n "chapters": [{"title": "a"}]}',
            "target_words: must be greater than 0",
            2,
        ),
        (
            "book-str.json",
            '{"title": "x",\n "target_words": "800",\n "chapters": [{"title": "a"}]}',
            "target_words: must be a whole number, got a string '800'",
            2,
        ),
        (
            "ch-neg.json",
            '{"title": "x", "chapters": [\n {"title": "a"},\n {"title": "b"},\n'
            ' {"title": "c", "target_words": -1}]}',
            "chapters[2].target_words: must be greater than 0",
            4,
        ),
        (
            "ch-float.json",
            '{"title": "x", "chapters": [\n {"title": "a", "target_words": 1.5}]}',
            "chapters[0].target_words: must be a whole number, got 1.5",
            2,
        ),
        (
            "priority.json",
            '{"title": "x", "chapters": [\n {"title": "a",\n "priority": "yes"}]}',
            "chapters[0].priority: must be true or false, got a string 'yes'",
            3,
        ),
        (
            "number-bool.json",
            '{"title": "x", "chapters": [\n {"title": "a", "number": true}]}',
            "chapters[0].number: must be a whole number, got true",
            2,
        ),
        (
            "number-zero.json",
            '{"title": "x", "chapters": [\n {"title": "a", "number": 0}]}',
            "chapters[0].number: must be greater than 0",
            2,
        ),
        (
            "dup.json",
            '{"title": "x", "chapters": [\n {"title": "a", "number": 2},\n {"title": "b"},\n'
            ' {"title": "c",\n  "number": 3}]}',
            "duplicate chapter number 3, already used at line 3",
            5,
        ),
        (
            "first-error.json",
            '{"chapters": [\n {"title": 1}],\n "title": 2}',
            "chapters[0].title: must be a string, got 1",
            2,
        ),
        # TOML
        (
            "bad.toml",
            'title = "x"\n\n[[chapters]]\ntitle = \n',
            "invalid TOML at column 9: Invalid value",
            4,
        ),
        (
            "unterminated.toml",
            'title = "x"\nauthor = "y\n',
            "invalid TOML at column 12: Illegal character '\\n'",
            2,
        ),
        (
            "dupkey.toml",
            'title = "x"\ntitle = "y"\n',
            "invalid TOML at column 12: Cannot overwrite a value",
            2,
        ),
        (
            "end.toml",
            'title = "x"\nauthor = """y\n\nmore\n',
            "invalid TOML: Unterminated string",
            4,
        ),
        ("chapters-type.toml", 'title = "x"\nchapters = 3\n', "chapters: must be a list, got 3", 2),
        (
            "chapters-table.toml",
            'title = "x"\n[chapters]\ntitle = "a"\n',
            "chapters: must be a list, got a table",
            2,
        ),
        (
            "ch-zero.toml",
            'title = "x"\n[[chapters]]\ntitle = "a"\n\n'
            '[[chapters]]\ntitle = "b"\ntarget_words = 0\n',
            "chapters[1].target_words: must be greater than 0",
            7,
        ),
        (
            "ch-extra.toml",
            'title = "x"\n[[chapters]]\ntitle = "a"\n[[chapters]]\ntitel = "b"\n',
            f"chapters[1]: unknown field 'titel'; known: {CHAPTER_FIELDS}",
            5,
        ),
        (
            "ch-string.toml",
            'title = "x"\nchapters = ["a"]\n',
            "chapters[0]: must be a table with a title, got a string 'a'",
            2,
        ),
        (
            "dup.toml",
            'title = "x"\n[[chapters]]\ntitle = "a"\n[[chapters]]\nnumber = 1\ntitle = "b"\n',
            "duplicate chapter number 1, already used at line 2",
            5,
        ),
        (
            "book-neg.toml",
            'title = "x"\ntarget_words = -100\n[[chapters]]\ntitle = "a"\n',
            "target_words: must be greater than 0",
            2,
        ),
    ],
)
def test_bad_outline_reports_message_and_line(
    tmp_path: Path, name: str, content: str | bytes, message: str, line: int | None
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(OutlineError) as info:
        load_outline(path)
    where = f"{path}:{line}" if line is not None else str(path)
    assert str(info.value) == f"{message} ({where})"
    assert info.value.line == line
    assert info.value.exit_code == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OutlineError) as info:
        load_outline(tmp_path / "nope.md")
    assert str(info.value) == f"outline file not found ({tmp_path / 'nope.md'})"


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "outline.md"
    folder.mkdir()
    with pytest.raises(OutlineError) as info:
        load_outline(folder)
    assert str(info.value) == f"is a directory, not an outline file ({folder})"


def test_json_error_keeps_the_cause(tmp_path: Path) -> None:
    with pytest.raises(OutlineError) as info:
        load_outline(write(tmp_path, "book.json", '{"title": 3, "chapters": []}'))
    assert type(info.value.__cause__).__name__ == "ValidationError"


# --- the bundled outlines ----------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "genre", "chapters", "target_words", "sentences"),
    [
        ("outlines/clockwork-garden.txt", "fantasy", 6, 1200, 2),
        ("outlines/deep-signal.md", "science fiction", 5, 1400, 2),
        ("outlines/the-quiet-ledger.json", "mystery", 4, 1200, 2),
        ("outlines/field-guide-to-focus.toml", "non-fiction", 5, 1000, 2),
        ("outlines/the-working-garden.json", "non-fiction", 20, 900, 1),
        ("examples/lighthouse.md", "young adult", 5, 320, 2),
    ],
)
def test_bundled_outline(
    relative: str, genre: str, chapters: int, target_words: int, sentences: int
) -> None:
    spec = load_outline(ROOT / relative)
    assert (spec.genre, len(spec.chapters), spec.target_words) == (genre, chapters, target_words)
    assert spec.numbers == list(range(1, chapters + 1))
    assert all(chapter.synopsis.count(". ") + 1 >= sentences for chapter in spec.chapters)


def test_every_bundled_outline_is_listed() -> None:
    found = sorted(
        str(path.relative_to(ROOT))
        for folder in ("outlines", "examples")
        for path in (ROOT / folder).iterdir()
    )
    assert found == [
        "examples/lighthouse.md",
        "outlines/clockwork-garden.txt",
        "outlines/deep-signal.md",
        "outlines/field-guide-to-focus.toml",
        "outlines/the-quiet-ledger.json",
        "outlines/the-working-garden.json",
    ]


def test_bundled_details() -> None:
    ledger = load_outline(ROOT / "outlines/the-quiet-ledger.json")
    assert [c.priority for c in ledger.chapters] == [False, False, True, False]
    assert [ledger.target_for(c) for c in ledger.chapters] == [1200, 1500, 1200, 1200]
    signal = load_outline(ROOT / "outlines/deep-signal.md")
    assert [len(c.beats) for c in signal.chapters] == [3, 3, 3, 3, 3]
    lighthouse = load_outline(ROOT / "examples/lighthouse.md")
    assert lighthouse.title == "The Lighthouse Keeper's Daughter"
    assert all(2 <= len(c.beats) <= 3 for c in lighthouse.chapters)


def test_absurdly_nested_json_is_an_outline_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(OutlineError, match="JSON nested too deeply to be an outline"):
        load_outline(path)


def test_the_last_chapter_is_the_highest_numbered_one_and_follows_changes() -> None:
    book = BookSpec(
        title="T", chapters=[ChapterSpec(number=n, title=f"C{n}") for n in (3, 1, 7, 5)]
    )
    assert [c.number for c in book.chapters if book.is_last(c)] == [7]
    assert book.chapter(5).title == "C5"
    # A book whose chapter list is replaced answers for the new list.
    book.chapters = [ChapterSpec(number=n, title=f"D{n}") for n in (2, 9)]
    assert [c.number for c in book.chapters if book.is_last(c)] == [9]
    assert book.chapter(9).title == "D9"
