"""--executor process: chapter jobs in worker processes, limits held across them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bookgen import AsyncBookOrchestrator
from bookgen.errors import OptionError
from bookgen.events import Event
from bookgen.ratelimit import Permit, SlidingWindowLimiter
from tests.conftest import ScriptedProvider
from tests.test_ratelimit import max_in_window

pytestmark = pytest.mark.slow


async def test_process_workers_write_the_book_under_the_limit(
    outline: Path, tmp_path: Path
) -> None:
    starts: list[float] = []
    lock = threading.Lock()

    def record(permit: Permit) -> None:
        with lock:
            starts.append(permit.started)

    events: list[Event] = []
    log = tmp_path / "calls.log"
    orchestrator = AsyncBookOrchestrator(
        source_file=outline,
        provider="sim",
        provider_options=["latency=0.05", "jitter=0", f"call_log={log}"],
        max_concurrent=3,
        output_dir=tmp_path / "books",
        executor="process",
        bible=False,
        limiter=SlidingWindowLimiter(2, 0.3, on_start=record),
        events=events.append,
    )
    results = await orchestrator.generate_chapters_parallel()
    assert [r.status for r in results] == ["completed"] * 4
    assert [s.status for s in orchestrator.store.manifest.chapters] == ["completed"] * 4
    assert len(starts) == 4 and max_in_window(starts, 0.3) <= 2
    assert sorted(log.read_text().split()) == ["1", "2", "3", "4"]  # the calls ran in the workers
    assert sorted(e.chapter for e in events if e.kind == "chapter_completed") == [1, 2, 3, 4]
    files = sorted(p.name for p in (tmp_path / "books" / "the-test-book" / "chapters").iterdir())
    assert files == ["01-arrival.md", "02-the-mill.md", "03-the-storm.md", "04-departure.md"]


def test_process_executor_needs_a_named_provider(outline: Path, tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="--executor process needs the provider by name"):
        AsyncBookOrchestrator(
            source_file=outline,
            provider=ScriptedProvider(),
            executor="process",
            output_dir=tmp_path,
        )
