"""Progress display, fed by events from worker threads.

Three renderers share one thread-safe tally:

- ``BarProgress``: a live tqdm bar on stderr for terminals;
- ``PlainProgress``: one line per chapter event on stderr, for logs and pipes;
- ``JsonProgress``: JSON Lines events on stdout (``--json``), nothing else there.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

from tqdm import tqdm

from bookgen.events import Event

SIMULATED_NOTICE = "provider sim writes simulated text, not a model's: use it to try the machinery"


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


class Tally:
    """Counts kept from events; the base of every renderer (thread-safe via ``lock``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.total = 0
        self.done = 0
        self.running = 0
        self.failed = 0
        self.words = 0
        # Adaptive concurrency: the current limit, shown when it is not the maximum.
        self.limit = 0
        self.maximum = 0
        self.adaptive = False

    def __call__(self, event: Event) -> None:
        with self.lock:
            self.count(event)
            self.render(event)

    def count(self, event: Event) -> None:
        kind = event.kind
        if kind == "run_started":
            self.started = time.monotonic()
            self.total = int(event.data["to_run"])
            self.limit = self.maximum = int(event.data.get("max_concurrent", 0))
            self.adaptive = bool(event.data.get("adaptive"))
        elif kind == "concurrency":
            self.limit = int(event.data["limit"])
        elif kind == "chapter_started":
            self.running += 1
        elif kind == "chapter_completed":
            self.running -= 1
            self.done += 1
            self.words += int(event.data.get("words", 0))
        elif kind == "chapter_failed":
            self.running -= 1
            self.failed += 1
        elif kind == "chapter_interrupted":
            self.running -= 1

    def render(self, event: Event) -> None:
        """Show ``event``; called with ``lock`` held."""

    def close(self) -> None:
        """Finish the display (the bar's last redraw)."""

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def eta(self) -> str:
        finished = self.done + self.failed
        if not finished or finished >= self.total:
            return "--:--:--"
        return clock(self.elapsed / finished * (self.total - finished))


def describe(event: Event) -> str | None:
    """The plain-text line for an event, or None for events without one."""
    data = event.data
    label = f"chapter {event.chapter}" + (f' "{event.title}"' if event.title else "")
    if event.kind == "run_started":
        line = (
            f"{data['title']}: {plural(data['to_run'], 'chapter')} to write, "
            f"{data['skipped']} already done, provider {data['provider']} ({data['model']}), "
            f"up to {data['max_concurrent']} at a time"
        )
        return line + (f"\nnote: {SIMULATED_NOTICE}" if data.get("simulated") else "")
    if event.kind == "chapter_started":
        return f"started   {label}"
    if event.kind == "chapter_completed":
        short = " (short of its target)" if data.get("short") else ""
        speed = f", {data['tokens_per_second']:.0f} tokens/s" if "tokens_per_second" in data else ""
        return (
            f"completed {label}: {data['words']:,} words, {plural(data['calls'], 'call')}, "
            f"{data['seconds']:.1f} s{speed}{short}"
        )
    if event.kind == "chapter_failed":
        return f"failed    {label}: {data['error']}"
    if event.kind == "chapter_skipped":
        return f"skipped   {label}: already completed"
    if event.kind == "chapter_interrupted":
        return f"stopped   {label}: interrupted, will run again on resume"
    if event.kind == "concurrency":
        return (
            f"note: running up to {data['limit']} of {data['max']} chapters at once "
            f"({data['reason']})"
        )
    if event.kind == "book_exported":
        return "\n".join(f"wrote {path}" for path in data["files"])
    if event.kind == "notice":
        prefix = f"{label}: " if event.chapter is not None else ""
        return f"note: {prefix}{data['message']}"
    return None


class PlainProgress(Tally):
    """One line per event, for when stderr is not a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream or sys.stderr

    def render(self, event: Event) -> None:
        line = describe(event)
        if line is None:
            return
        if event.kind in {"chapter_completed", "chapter_failed"}:
            line += f" [{self.done + self.failed}/{self.total}]"
        print(line, file=self.stream, flush=True)


class JsonProgress(Tally):
    """JSON Lines on stdout: every event, one object per line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream or sys.stdout

    def render(self, event: Event) -> None:
        payload: dict[str, Any] = event.as_json()
        payload["elapsed"] = round(self.elapsed, 3)
        self.stream.write(json.dumps(payload, ensure_ascii=False) + "\n")
        self.stream.flush()


class BarProgress(Tally):
    """``[████████░░░░] 60.0% | ✓ 3 | ⟳ 2 | ✗ 0 | 4,210 words | Elapsed: 00:01:23 | ETA: 00:00:55``

    Redrawn on every event and once a second by a small timer thread, so the
    elapsed time moves while chapters are being written.
    """

    def __init__(self, stream: TextIO | None = None, *, refresh_seconds: float = 1.0) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.bar: tqdm[Any] | None = None
        self._stop = threading.Event()
        self._refresh_seconds = refresh_seconds
        self._ticker: threading.Thread | None = None

    def render(self, event: Event) -> None:
        if event.kind == "run_started" and self.total:
            self.bar = tqdm(
                total=self.total,
                file=self.stream,
                bar_format="[{bar:24}] {percentage:5.1f}% | {desc}",
                ascii="░▒▓█",
                dynamic_ncols=True,
                leave=True,
            )
            self._ticker = threading.Thread(target=self._tick, name="bookgen-progress", daemon=True)
            self._ticker.start()
        line = describe(event)
        if line and event.kind not in {"chapter_started", "chapter_completed", "run_finished"}:
            self._write(line)
        if self.bar is not None and event.kind in {"chapter_completed", "chapter_failed"}:
            self.bar.update(1)
        self._redraw()

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def _redraw(self) -> None:
        if self.bar is None:
            return
        limit = f" | limit {self.limit}/{self.maximum}" if self.adaptive else ""
        self.bar.set_description_str(
            f"✓ {self.done} | ⟳ {self.running} | ✗ {self.failed} | {self.words:,} words | "
            f"Elapsed: {clock(self.elapsed)} | ETA: {self.eta()}{limit}",
            refresh=True,
        )

    def _tick(self) -> None:
        while not self._stop.wait(self._refresh_seconds):
            with self.lock:
                self._redraw()

    def close(self) -> None:
        self._stop.set()
        with self.lock:
            if self.bar is not None:
                self._redraw()
                self.bar.close()
                self.bar = None
