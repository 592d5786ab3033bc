"""Prompt templates (package data files) and the builder that fills them.

The builder orders each request shared-first: the system message holds what every
chapter of a book has in common (instructions, book facts, the outline), the user
message what is specific to one chapter, so provider-side prompt caching can reuse
the prefix.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template

from bookgen.models import BookSpec, ChapterSpec, Message


@cache
def template(name: str) -> Template:
    text = resources.files("bookgen.prompts").joinpath(f"{name}.txt").read_text("utf-8")
    return Template(text)


def _outline_summary(book: BookSpec) -> str:
    lines = []
    for chapter in book.chapters:
        synopsis = " ".join(chapter.synopsis.split())
        lines.append(f"{chapter.number}. {chapter.title}" + (f": {synopsis}" if synopsis else ""))
    return "\n".join(lines)


class PromptBuilder:
    """Builds the messages of every request for one book.

    >>> builder = PromptBuilder(book)                   # doctest: +SKIP
    >>> messages = builder.chapter(book.chapters[0])    # doctest: +SKIP
    """

    def __init__(self, book: BookSpec) -> None:
        self.book = book
        # Computed once: byte-identical for every chapter of the book.
        self.system = (
            template("system")
            .substitute(
                title=book.title,
                genre=book.genre,
                audience=book.audience,
                style=book.style or "clear, vivid prose suited to the genre",
                author=book.author or "unnamed",
                outline=_outline_summary(book),
            )
            .strip()
        )

    def chapter(self, chapter: ChapterSpec) -> list[Message]:
        book = self.book
        beats = "\n".join(f"- {beat}" for beat in chapter.beats)
        if chapter.number == book.chapters[0].number:
            position = "This is the opening chapter: introduce the world and its people."
        elif book.is_last(chapter):
            position = "This is the final chapter: bring the book to its end."
        else:
            position = "This chapter is neither the first nor the last: do not end the book here."
        user = template("chapter").substitute(
            number=chapter.number,
            total=len(book.chapters),
            chapter_title=chapter.title,
            synopsis=chapter.synopsis or "(no synopsis given: follow the title and the outline)",
            beats=f"\nBeats, in order:\n{beats}\n" if beats else "",
            position=f"\n{position}\n",
            target_words=f"{book.target_for(chapter):,}",
        )
        return [
            Message(role="system", content=self.system),
            Message(role="user", content=user.strip()),
        ]

    def continuation(self, chapter: ChapterSpec, draft: str) -> list[Message]:
        target = self.book.target_for(chapter)
        words = len(draft.split())
        user = template("continue").substitute(
            number=chapter.number,
            chapter_title=chapter.title,
            draft=draft.strip(),
            words=f"{words:,}",
            target_words=f"{target:,}",
            missing=f"{max(target - words, 1):,}",
        )
        return [
            Message(role="system", content=self.system),
            Message(role="user", content=user.strip()),
        ]
