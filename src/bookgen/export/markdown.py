"""``manuscript.md``: title page, table of contents, chapters in order."""

from __future__ import annotations

import re
from pathlib import Path

from bookgen.export import ExportBook
from bookgen.store import atomic_write_text


def anchor(heading: str) -> str:
    """The anchor GitHub-style renderers give a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def heading(number: int, title: str) -> str:
    return f"Chapter {number}: {title}"


def render(book: ExportBook) -> str:
    lines = [f"# {book.title}", ""]
    if book.author:
        lines += [f"*by {book.author}*", ""]
    if not book.complete:
        lines += ["*Incomplete draft: some chapters are not written yet.*", ""]
    lines += ["## Contents", ""]
    lines += [
        f"{i}. [{heading(c.number, c.title)}](#{anchor(heading(c.number, c.title))})"
        for i, c in enumerate(book.chapters, start=1)
    ]
    for chapter in book.chapters:
        lines += ["", "---", "", f"## {heading(chapter.number, chapter.title)}", "", chapter.text]
    return "\n".join(lines).rstrip() + "\n"


def write_manuscript(book: ExportBook, path: Path) -> Path:
    atomic_write_text(path, render(book))
    return path
