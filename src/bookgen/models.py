"""Pydantic models for everything read from users or disk, and what providers return.

Models read from outside (outline, manifest, options) forbid extra keys, so a typo
is an error rather than a silently ignored field.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_TARGET_WORDS = 1500

# A chapter longer than this is a typo, not a plan (and would make absurd requests).
MAX_TARGET_WORDS = 50_000

PositiveInt = Annotated[int, Field(gt=0)]
TargetWords = Annotated[int, Field(gt=0, le=MAX_TARGET_WORDS)]


Numbered = TypeVar("Numbered", "ChapterSpec", "ChapterState")


def _indexed(owner: BaseModel, items: list[Numbered]) -> dict[int, Numbered]:
    """Chapters by number, built once per list: lookups happen per call and per event,
    and a linear search made a 1,000-chapter book quadratic.

    The index lives in the instance ``__dict__`` under a non-field name, which pydantic
    leaves out of equality and dumps; it is rebuilt when the list it indexes changes.
    """
    return _index_entry(owner, items)[1]


def _index_entry(
    owner: BaseModel, items: list[Numbered]
) -> tuple[list[Numbered], dict[int, Numbered], int]:
    """(the list, its index by number, the highest number), kept as ``_indexed`` says."""
    cached = owner.__dict__.get("chapter_index_")
    if cached is None or cached[0] is not items or len(cached[1]) != len(items):
        index = {item.number: item for item in items}
        cached = (items, index, max(index, default=0))
        owner.__dict__["chapter_index_"] = cached
    entry: tuple[list[Numbered], dict[int, Numbered], int] = cached
    return entry


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ChapterSpec(StrictModel):
    """One chapter of the outline.

    >>> ChapterSpec(number=1, title="The Storm", synopsis="A ship is lost.").title
    'The Storm'
    """

    number: PositiveInt
    title: str = Field(min_length=1)
    synopsis: str = ""
    beats: list[str] = Field(default_factory=list)
    target_words: TargetWords | None = None
    priority: bool = False

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        return not_blank(value)


class BookSpec(StrictModel):
    """A parsed outline: the book and its chapters, in outline order.

    ``target_words`` is the default length of one chapter; a chapter's own
    ``target_words`` overrides it.
    """

    title: str = Field(min_length=1)
    genre: str = "general"
    audience: str = "general readers"
    style: str = ""
    author: str = ""
    target_words: TargetWords = DEFAULT_TARGET_WORDS
    chapters: list[ChapterSpec] = Field(min_length=1)

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        return not_blank(value)

    @model_validator(mode="after")
    def _unique_numbers(self) -> BookSpec:
        seen: set[int] = set()
        for chapter in self.chapters:
            if chapter.number in seen:
                raise ValueError(f"duplicate chapter number {chapter.number}")
            seen.add(chapter.number)
        return self

    def chapter(self, number: int) -> ChapterSpec:
        return _indexed(self, self.chapters)[number]

    @property
    def numbers(self) -> list[int]:
        return [chapter.number for chapter in self.chapters]

    def target_for(self, chapter: ChapterSpec) -> int:
        return chapter.target_words or self.target_words

    def is_last(self, chapter: ChapterSpec) -> bool:
        # The highest number is kept with the index: max() per call made a long book quadratic.
        return chapter.number == _index_entry(self, self.chapters)[2]

    def spec_hash(self, chapter: ChapterSpec) -> str:
        """A hash of the chapter's own outline entry and its effective target length.

        Resume regenerates a completed chapter when this changes. Book-level fields
        (genre, style, ...) are in ``book_hash`` instead: changing them touches every
        chapter, and rewriting a whole book is left to an explicit ``--force``.
        """
        return _hash(
            {"chapter": chapter.model_dump(mode="json"), "target": self.target_for(chapter)}
        )

    def book_hash(self) -> str:
        return _hash(self.model_dump(mode="json", exclude={"chapters", "target_words"}))


def _hash(payload: object) -> str:
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# --- provider side ----------------------------------------------------------------


class Message(StrictModel):
    role: Literal["system", "user", "assistant"]
    content: str


class CompletionRequest(StrictModel):
    """What a chapter job asks a provider for."""

    messages: list[Message]
    max_tokens: PositiveInt
    temperature: float | None = None
    # Free-form labels for logs and for providers that key caches (book, chapter, step).
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def prompt_text(self) -> str:
        return "\n\n".join(message.content for message in self.messages)


class Usage(StrictModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    # True when the provider reported no usage and the figures are our estimate.
    estimated: bool = False

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
            estimated=self.estimated or other.estimated,
        )


FinishReason = Literal["stop", "length", "content_filter"]


class Completion(StrictModel):
    """A provider's answer: the text, why it stopped, what it cost, how long it took."""

    text: str
    finish_reason: FinishReason = "stop"
    usage: Usage = Field(default_factory=Usage)
    latency: float = 0.0
    provider: str = ""
    model: str = ""


# --- the book folder's manifest ---------------------------------------------------

ChapterStatus = Literal["pending", "running", "completed", "failed"]


class ChapterState(StrictModel):
    """What the manifest knows about one chapter.

    ``calls`` and the token counts add up over every attempt, because every call
    was paid for; ``words``, ``file`` and ``sha256`` describe the saved text.
    """

    number: PositiveInt
    title: str
    status: ChapterStatus = "pending"
    spec_hash: str
    words: int = 0
    attempts: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration: float = 0.0
    error: str | None = None
    file: str | None = None
    sha256: str | None = None
    cached_prompt_tokens: int = 0
    # Some of the counts are bookgen's estimate: the provider reported no usage.
    usage_estimated: bool = False
    # USD paid for this chapter's calls; None when a call's price was unknown.
    cost_usd: float | None = 0.0
    # Who wrote the text: the provider and model of its first draft, and every
    # "provider:model" whose calls it paid for (fallbacks can add more).
    provider: str | None = None
    model: str | None = None
    providers: list[str] = Field(default_factory=list)
    # The analyzers' verdict on the saved text, and every version the loop measured.
    score: float | None = None
    needs_review: bool = False
    iterations: list[dict[str, Any]] = Field(default_factory=list)
    # Wall-clock epoch seconds; started_at lets resume adopt a file written just
    # before a crash instead of paying for the chapter again.
    started_at: float | None = None
    finished_at: float | None = None


class Manifest(StrictModel):
    version: Literal[1] = 1
    book: str
    title: str
    source: str
    # Hash of the book-level outline fields the chapters were written with.
    book_hash: str | None = None
    created_at: float
    updated_at: float
    chapters: list[ChapterState]
    # Chapters that were in an earlier outline and are not in the current one: kept
    # for what was paid for them and in case they come back.
    detached: list[ChapterState] = Field(default_factory=list)
    # The last manifest.journal line this snapshot includes; later lines are replayed.
    journal_seq: int = 0
    # Calls made for the whole book rather than one chapter (the story bible).
    planning_usage: Usage = Field(default_factory=Usage)
    planning_calls: int = 0
    planning_cost_usd: float | None = 0.0

    def state(self, number: int) -> ChapterState:
        return _indexed(self, self.chapters)[number]


# --- results of a run ----------------------------------------------------------

ResultStatus = Literal["completed", "failed", "skipped", "interrupted"]


class ChapterResult(StrictModel):
    """What one chapter job (or the decision to skip it) came to in this run."""

    number: int
    title: str
    status: ResultStatus
    words: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    file: str | None = None
    error: str | None = None
    # Below the target length after every allowed iteration (saved all the same).
    short: bool = False
    score: float | None = None
    needs_review: bool = False
    # Time spent inside provider calls (for tokens/s; the rest is waiting and analysis).
    generation_seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float | None:
        if self.generation_seconds <= 0 or not self.completion_tokens:
            return None
        return self.completion_tokens / self.generation_seconds


class RunSummary(StrictModel):
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    interrupted: int = 0
    words: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @classmethod
    def of(cls, results: list[ChapterResult], seconds: float) -> RunSummary:
        summary = cls(seconds=round(seconds, 3))
        for result in results:
            setattr(summary, result.status, getattr(summary, result.status) + 1)
            if result.status != "skipped":
                summary.words += result.words
            summary.calls += result.calls
            summary.prompt_tokens += result.prompt_tokens
            summary.completion_tokens += result.completion_tokens
        return summary
