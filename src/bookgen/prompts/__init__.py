"""Prompt templates (package data files) and the builder that fills them.

Templates: ``<tier>/system.txt`` (what every chapter of a book shares), ``chapter.txt``
(a first draft), ``revision.txt`` (a rewrite with an editor's findings) and
``bible.txt`` (the planning call), for the tiers ``basic``, ``standard`` and ``ultra``;
``continue.txt`` (a draft cut short) is shared. Genre presets (voice, pacing,
dialogue, and the style targets the analyzers check) are ``genres.json``.

The builder orders each request shared-first: the system message holds what every
chapter has in common (instructions, book facts, the outline, the story bible) and is
byte-identical across the book's requests, first drafts and revisions alike, so
provider-side prompt caching can reuse it; the user message holds what is specific.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from string import Template
from typing import TYPE_CHECKING, Any, Literal

from bookgen.models import BookSpec, ChapterSpec, Message
from bookgen.tokens import estimate_tokens, max_tokens_for

if TYPE_CHECKING:
    from bookgen.bible import StoryBible

Tier = Literal["basic", "standard", "ultra"]
TIERS: tuple[Tier, ...] = ("ultra", "standard", "basic")
GENRE_ALIASES = {
    "sci-fi": "science fiction",
    "scifi": "science fiction",
    "science-fiction": "science fiction",
    "sf": "science fiction",
    "ya": "young adult",
    "young-adult": "young adult",
    "nonfiction": "non-fiction",
    "non fiction": "non-fiction",
    "crime": "mystery",
    "suspense": "thriller",
    "literary fiction": "literary",
}


@cache
def template(name: str) -> Template:
    text = resources.files("bookgen.prompts").joinpath(f"{name}.txt").read_text("utf-8")
    return Template(text)


@cache
def genres() -> dict[str, dict[str, Any]]:
    text = resources.files("bookgen.prompts").joinpath("genres.json").read_text("utf-8")
    data: dict[str, dict[str, Any]] = json.loads(text)
    return data


def genre_preset(genre: str) -> tuple[str, dict[str, Any]]:
    """The preset for a genre (aliases and case forgiven), else the generic one."""
    key = genre.strip().lower()
    key = GENRE_ALIASES.get(key, key)
    presets = genres()
    return (key, presets[key]) if key in presets else ("general", presets["general"])


def _outline_summary(book: BookSpec) -> str:
    lines = []
    for chapter in book.chapters:
        synopsis = " ".join(chapter.synopsis.split())
        lines.append(f"{chapter.number}. {chapter.title}" + (f": {synopsis}" if synopsis else ""))
    return "\n".join(lines)


class PromptBuilder:
    """Builds the messages of every request for one book.

    >>> builder = PromptBuilder(book, tier="ultra", bible=bible)   # doctest: +SKIP
    >>> messages = builder.chapter(book.chapters[0])               # doctest: +SKIP
    """

    def __init__(
        self,
        book: BookSpec,
        *,
        tier: Tier = "ultra",
        bible: StoryBible | None = None,
        context_tokens: int | None = None,
    ) -> None:
        self.book = book
        self.tier = tier
        self.bible = bible
        # A model with a small context window (a local one): prompts are fitted to it.
        self.context_tokens = context_tokens
        _, preset = genre_preset(book.genre)
        self.preset = preset
        # Computed once: byte-identical for every request of the book. The shorter
        # versions carry less of the bible, for requests that would not fit otherwise.
        self.systems = [
            self._system(bible.shared_text(brief=brief) if bible else "") for brief in (False, True)
        ]
        self.systems.append(self._system(""))
        self.system = self.systems[0]

    def _system(self, bible: str) -> str:
        preset, book = self.preset, self.book
        return (
            template(f"{self.tier}/system")
            .substitute(
                self._book_fields(),
                genre_voice=preset["voice"],
                genre_pacing=preset["pacing"],
                genre_dialogue=preset["dialogue"],
                author=book.author or "unnamed",
                style_line=f"Style: {book.style}" if book.style else "Style: as the genre asks",
                bible=f"\n{bible}\n" if bible else "",
            )
            .strip()
        )

    def _book_fields(self) -> dict[str, str]:
        book = self.book
        return {
            "title": book.title,
            "genre": book.genre,
            "audience": book.audience,
            "outline": _outline_summary(book),
        }

    def _chapter_fields(self, chapter: ChapterSpec) -> dict[str, str]:
        book = self.book
        beats = "\n".join(f"- {beat}" for beat in chapter.beats)
        if chapter.number == book.chapters[0].number:
            position = "This is the opening chapter: introduce the world and its people."
        elif book.is_last(chapter):
            position = "This is the final chapter: bring the book to its end."
        else:
            position = "This chapter is neither the first nor the last: do not end the book here."
        contract = self.bible.contract_text(chapter.number) if self.bible else ""
        return {
            "number": str(chapter.number),
            "total": str(len(book.chapters)),
            "chapter_title": chapter.title,
            "synopsis": chapter.synopsis or "(no synopsis given: follow the title and the outline)",
            "beats": f"\nBeats, in order:\n{beats}\n" if beats else "",
            "contract": f"\nThis chapter's contract with the rest of the book:\n{contract}\n"
            if contract
            else "",
            "position": f"\n{position}\n",
            "target_words": f"{book.target_for(chapter):,}",
        }

    def _messages(self, user: str, answer_words: int) -> list[Message]:
        """The system message with as much of the bible as the context window leaves
        room for, next to the answer (the whole bible when the window is not small)."""
        user = user.strip()
        if self.context_tokens is not None:
            room = self.context_tokens - max_tokens_for(answer_words) - estimate_tokens(user)
            for system in self.systems:
                if estimate_tokens(system) <= room:
                    break
        else:
            system = self.system
        return [Message(role="system", content=system), Message(role="user", content=user)]

    def chapter(self, chapter: ChapterSpec) -> list[Message]:
        return self._messages(
            template(f"{self.tier}/chapter").substitute(self._chapter_fields(chapter)),
            self.book.target_for(chapter),
        )

    def revision(self, chapter: ChapterSpec, draft: str, findings: list[str]) -> list[Message]:
        listed = "\n".join(f"- {finding}" for finding in findings)
        fields = {**self._chapter_fields(chapter), "draft": draft.strip(), "findings": listed}
        return self._messages(
            template(f"{self.tier}/revision").substitute(fields), self.book.target_for(chapter)
        )

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
        return self._messages(user, max(target - words, 1))

    def bible_request(self) -> list[Message]:
        return [
            Message(
                role="user",
                content=template(f"{self.tier}/bible").substitute(self._book_fields()).strip(),
            )
        ]
