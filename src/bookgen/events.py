"""Events that chapter jobs and the coordinator emit, and the sink type they go to.

Jobs emit from worker threads; every sink must be thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "run_started",
    "chapter_started",
    "chapter_completed",
    "chapter_failed",
    "chapter_skipped",
    "chapter_interrupted",
    "notice",
    "concurrency",
    "run_finished",
    "run_interrupted",
    "book_exported",
]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    chapter: int | None = None
    title: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"event": self.kind}
        if self.chapter is not None:
            payload["chapter"] = self.chapter
        if self.title is not None:
            payload["title"] = self.title
        payload.update(self.data)
        return payload


EventSink = Callable[[Event], None]


def discard(event: Event) -> None:
    """A sink that drops everything (library use without progress display)."""


class SafeSink:
    """Wraps a sink so that a display that fails (a closed pipe, a full disk) never
    fails a chapter job: the first error turns the display off and is kept in
    ``error`` for the end of the run."""

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if self.error is not None:
            return
        try:
            self.sink(event)
        except Exception as exc:  # noqa: BLE001 - the run matters more than its display
            with self._lock:
                if self.error is None:
                    self.error = exc
