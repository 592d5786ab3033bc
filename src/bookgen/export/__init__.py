"""Finished books out of the book folder: ``manuscript.md`` and an EPUB 3."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bookgen.errors import InputError
from bookgen.models import Manifest
from bookgen.store import BookStore, read_chapter_body

FORMATS = ("markdown", "epub")


class IncompleteBookError(InputError):
    """Export of a book with chapters missing, without --allow-incomplete."""


@dataclass(frozen=True)
class ExportChapter:
    number: int
    title: str
    text: str  # the chapter's prose, without its heading


@dataclass(frozen=True)
class ExportBook:
    name: str
    title: str
    author: str
    genre: str
    language: str
    chapters: list[ExportChapter]
    complete: bool


def collect(
    store: BookStore, manifest: Manifest, *, allow_incomplete: bool, language: str = "en"
) -> ExportBook:
    """The finished chapters in outline order; refuses an incomplete book unless allowed."""
    from bookgen.models import BookSpec

    outline = BookSpec.model_validate_json(
        (store.root / "outline.json").read_text(encoding="utf-8")
    )
    chapters: list[ExportChapter] = []
    missing: list[int] = []
    for state in manifest.chapters:
        path = store.root / state.file if state.file else None
        if state.status != "completed" or path is None or not path.is_file():
            missing.append(state.number)
            continue
        chapters.append(ExportChapter(state.number, state.title, read_chapter_body(path).strip()))
    if missing and not allow_incomplete:
        listed = ", ".join(str(n) for n in missing)
        raise IncompleteBookError(
            f"book {store.name!r} is missing chapters {listed}; finish them with "
            "`bookgen generate`, or pass --allow-incomplete",
            where=store.root,
        )
    if not chapters:
        raise IncompleteBookError(
            f"book {store.name!r} has no finished chapter to export", where=store.root
        )
    return ExportBook(
        name=store.name,
        title=outline.title,
        author=outline.author,
        genre=outline.genre,
        language=language,
        chapters=chapters,
        complete=not missing,
    )


def export(store: BookStore, formats: list[str], *, allow_incomplete: bool = False) -> list[Path]:
    """Write the asked formats into the book folder; returns the files written."""
    from bookgen.export.epub import write_epub
    from bookgen.export.markdown import write_manuscript

    book = collect(store, store.load(), allow_incomplete=allow_incomplete)
    written: list[Path] = []
    if "markdown" in formats:
        written.append(write_manuscript(book, store.root / "manuscript.md"))
    if "epub" in formats:
        written.append(write_epub(book, store.root / f"{store.name}.epub"))
    return written
