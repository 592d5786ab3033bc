from __future__ import annotations

import io
import json

from bookgen.events import Event
from bookgen.progress import BarProgress, JsonProgress, PlainProgress, clock

START = Event(
    "run_started",
    data={
        "book": "b",
        "title": "Book",
        "folder": "books/b",
        "chapters": 3,
        "to_run": 2,
        "skipped": 1,
        "provider": "sim",
        "model": "m",
        "simulated": False,
        "max_concurrent": 2,
    },
)


def test_clock() -> None:
    assert clock(0) == "00:00:00"
    assert clock(3723.9) == "01:02:03"


def test_plain_lines() -> None:
    out = io.StringIO()
    progress = PlainProgress(out)
    progress(START)
    progress(Event("chapter_skipped", 1, "One", {"words": 10}))
    progress(Event("chapter_started", 2, "Two"))
    progress(Event("chapter_completed", 2, "Two", {"words": 1234, "calls": 2, "seconds": 3.25}))
    progress(Event("chapter_started", 3, "Three"))
    progress(
        Event(
            "chapter_failed", 3, "Three", {"error": "boom", "calls": 1, "seconds": 1.0, "words": 0}
        )
    )
    assert out.getvalue().splitlines() == [
        "Book: 2 chapters to write, 1 already done, provider sim (m), up to 2 at a time",
        'skipped   chapter 1 "One": already completed',
        'started   chapter 2 "Two"',
        'completed chapter 2 "Two": 1,234 words, 2 calls, 3.2 s [1/2]',
        'started   chapter 3 "Three"',
        'failed    chapter 3 "Three": boom [2/2]',
    ]


def test_json_lines() -> None:
    out = io.StringIO()
    progress = JsonProgress(out)
    progress(START)
    progress(Event("chapter_completed", 2, "Two", {"words": 5, "calls": 1, "seconds": 0.1}))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[1]["event"] == "chapter_completed"
    assert (lines[1]["chapter"], lines[1]["title"], lines[1]["words"]) == (2, "Two", 5)
    assert "elapsed" in lines[1]


def test_bar_counts() -> None:
    out = io.StringIO()
    progress = BarProgress(out, refresh_seconds=60)
    progress(START)
    progress(Event("chapter_started", 2, "Two"))
    progress(Event("chapter_started", 3, "Three"))
    progress(Event("chapter_completed", 2, "Two", {"words": 4210, "calls": 1, "seconds": 1.0}))
    progress.close()
    last = out.getvalue().replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith(
        "[████████████░░░░░░░░░░░░]  50.0% | ✓ 1 | ⟳ 1 | ✗ 0 | 4,210 words | Elapsed: 00:00:0"
    )
    assert "| ETA: 00:00:0" in last
