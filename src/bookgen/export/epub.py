"""An EPUB 3 (title page, navigation document, one XHTML file per chapter, a stylesheet),
built with ebooklib, which knows the container, OPF and NCX rules better than code we
would write; the suite checks the result with epubcheck."""

from __future__ import annotations

import html
import os
import tempfile
import uuid
from pathlib import Path

from ebooklib import epub

from bookgen.export import ExportBook
from bookgen.export.markdown import heading

STYLE = """body { font-family: serif; line-height: 1.5; margin: 0 5%; }
h1 { text-align: center; margin: 2em 0 1em; }
p { text-indent: 1.5em; margin: 0; }
p.first, .title-page p { text-indent: 0; }
.title-page { text-align: center; margin-top: 30%; }
"""


def paragraphs(text: str) -> str:
    blocks = [" ".join(block.split()) for block in text.split("\n\n") if block.strip()]
    if not blocks:
        return ""
    opening = ['<p class="first">'] + ["<p>"] * (len(blocks) - 1)
    return "\n".join(
        f"{tag}{html.escape(block)}</p>" for tag, block in zip(opening, blocks, strict=True)
    )


def build(book: ExportBook) -> epub.EpubBook:
    document = epub.EpubBook()
    # Stable across exports of the same book, so readers see an update, not a new book.
    document.set_identifier(
        f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'bookgen:{book.name}:{book.title}')}"
    )
    document.set_title(book.title)
    document.set_language(book.language)
    if book.author:
        document.add_author(book.author)
    style = epub.EpubItem(
        uid="style", file_name="style/book.css", media_type="text/css", content=STYLE
    )
    document.add_item(style)

    title_page = epub.EpubHtml(title=book.title, file_name="title.xhtml", lang=book.language)
    byline = f"<p>{html.escape(book.author)}</p>" if book.author else ""
    title_page.content = f'<div class="title-page"><h1>{html.escape(book.title)}</h1>{byline}</div>'
    title_page.add_item(style)
    document.add_item(title_page)

    chapters = []
    for chapter in book.chapters:
        name = heading(chapter.number, chapter.title)
        item = epub.EpubHtml(
            title=name, file_name=f"chapter-{chapter.number:03d}.xhtml", lang=book.language
        )
        item.content = f"<h1>{html.escape(name)}</h1>\n{paragraphs(chapter.text)}"
        item.add_item(style)
        document.add_item(item)
        chapters.append(item)

    document.toc = chapters
    document.add_item(epub.EpubNcx())
    document.add_item(epub.EpubNav())
    document.spine = [title_page, "nav", *chapters]
    return document


def write_epub(book: ExportBook, path: Path) -> Path:
    """Build and write atomically: a reader never finds half an EPUB."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        epub.write_epub(tmp, build(book))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
