"""An append-only journal with group commit: the cheap half of the manifest's crash safety.

Rewriting a whole manifest on every chapter state change costs O(chapters) per
change, which made a 1,000-chapter book spend most of its time re-serialising JSON.
Instead each change appends one line (the chapter's new state, numbered) to
``manifest.journal`` and fsyncs it; ``manifest.json`` is a snapshot rewritten
atomically at the start and end of a run and whenever the journal grows long, and
it records the last journal line it includes. Reading a book is the snapshot plus
the journal lines numbered after it. A kill -9 can tear at most the journal's last
line, which reading skips: each chapter's state is then the old one or the new one.

Group commit: lines are written under a lock, but one fsync covers every line
written before it, so when many worker threads append at once only the first
waits for the disk and the others find their lines already synced.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Journal:
    """Appends lines to one file, durable when ``append`` returns.

    >>> journal = Journal(Path("book/manifest.journal"))   # doctest: +SKIP
    >>> journal.append(['{"seq": 1, "state": {...}}'])        # doctest: +SKIP
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.lock = threading.Lock()  # orders writes, and truncation against writes
        self._sync_lock = threading.Lock()
        self._written = 0
        self._synced = 0
        self.lines = 0

    def append(self, entries: list[str]) -> None:
        with self.lock:
            written = self.write(entries)
        self.sync(written)

    def write(self, entries: list[str]) -> int:
        """Write entries (each one JSON object, already encoded, on one line) with
        ``lock`` held: not yet durable; returns the number to ``sync`` to."""
        if entries:
            data = "".join(entry + "\n" for entry in entries).encode()
            os.write(self._fd, data)
            self._written += 1
            self.lines += len(entries)
        return self._written

    def sync(self, upto: int) -> None:
        """Return once write number ``upto`` (and all before it) is on disk."""
        with self._sync_lock:
            if self._synced >= upto:
                return  # another thread's fsync already covered these lines
            with self.lock:
                latest = self._written
            os.fsync(self._fd)
            self._synced = latest

    def truncate(self) -> None:
        """Empty the journal; call with ``lock`` held, after a snapshot holds every line."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self.lines = 0

    def close(self) -> None:
        os.close(self._fd)


def read_entries(path: Path) -> Iterator[dict[str, Any]]:
    """The journal's entries; a torn last line (a kill mid-write) is skipped."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    lines = raw.split(b"\n")
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            if index >= len(lines) - 2:  # the last line, with or without its newline
                return
            raise
        if isinstance(entry, dict):
            yield entry
