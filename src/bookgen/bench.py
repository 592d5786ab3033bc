"""``bookgen compare``: the same chapters written with one worker and with N, side by side.

Both runs do the same work (the same pipeline; with ``sim``, the same deterministic
text and a fixed latency per call), each into a temporary book folder. The ideal
parallel time comes from the sequential run's own measurements: its serial part
(everything that is not a chapter job) plus the longest-processing-time-first
makespan of its measured chapter times over N workers, and never less than the
rate limit allows. Then:

- speedup = sequential seconds / parallel seconds;
- ideal speedup = sequential seconds / ideal parallel seconds;
- efficiency = ideal parallel seconds / parallel seconds (= speedup / ideal speedup).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from bookgen.analyzers import analyze, forget_texts
from bookgen.analyzers.base import Draft
from bookgen.errors import OptionError
from bookgen.models import ChapterResult
from bookgen.orchestrator import AsyncBookOrchestrator
from bookgen.providers.base import provider_class


def bundled_outline() -> Path:
    """The example outline shipped inside the package (works from any directory)."""
    return Path(str(resources.files("bookgen").joinpath("examples/lighthouse.md")))


def lpt_makespan(durations: list[float], workers: int) -> float:
    """Longest-processing-time-first: each job, longest first, to the least loaded worker."""
    loads = [0.0] * max(1, min(workers, len(durations)))
    for duration in sorted(durations, reverse=True):
        heapq.heapreplace(loads, loads[0] + duration)
    return max(loads) if durations else 0.0


def rate_limit_floor(calls: int, limit: int | None, period: float) -> float:
    """The least time in which ``calls`` starts fit under ``limit`` per ``period``."""
    if not limit or calls <= limit:
        return 0.0
    return (math.ceil(calls / limit) - 1) * period


@dataclass(frozen=True)
class Run:
    workers: int
    seconds: float
    calls: int
    chapter_seconds: list[float]


@dataclass(frozen=True)
class Comparison:
    chapters: int
    workers: int
    sequential_seconds: float
    parallel_seconds: float
    calls: int
    speedup: float
    ideal_speedup: float
    efficiency: float
    ideal_parallel_seconds: float

    def as_json(self) -> dict[str, float | int]:
        return {
            key: round(value, 4) if isinstance(value, float) else value
            for key, value in asdict(self).items()
        }


@dataclass
class CompareSettings:
    source: Path
    chapters: list[int] | None
    workers: int
    provider: str
    model: str | None
    options: list[str]
    rate_limit_calls: int | None = None
    rate_limit_period: float = 60.0


def _run(settings: CompareSettings, folder: Path, workers: int) -> Run:
    # Both runs write the same texts, so each starts as a fresh process would: the
    # analyzers' caches of texts emptied (or the second would be timed on cache hits),
    # their dictionaries loaded.
    forget_texts()
    warm_up()
    orchestrator = AsyncBookOrchestrator(
        source_file=settings.source,
        book_name=f"workers-{workers}",
        provider=settings.provider,
        model=settings.model,
        provider_options=settings.options,
        max_concurrent=workers,
        rate_limit_calls=settings.rate_limit_calls,
        rate_limit_period=settings.rate_limit_period,
        output_dir=folder,
        # One call per chapter in both runs, and no planning call: the comparison is
        # about scheduling chapter jobs.
        max_iterations=1,
        schedule="longest",
        bible=False,
        export=False,
    )
    started = time.perf_counter()
    results: list[ChapterResult] = asyncio.run(
        orchestrator.generate_chapters_parallel(settings.chapters)
    )
    seconds = time.perf_counter() - started
    failed = [r.number for r in results if r.status != "completed"]
    if failed:
        raise OptionError(f"compare: chapters {failed} did not complete with {workers} worker(s)")
    return Run(workers, seconds, sum(r.calls for r in results), [r.seconds for r in results])


def warm_up() -> None:
    """Load what the first chapter job of a process would otherwise load (the analyzers'
    dictionaries take about a second), so neither run is charged for it."""
    text = " ".join(["The keeper climbed the stairs and lit the lamp before the storm came."] * 20)
    analyze(Draft(text=text, number=1, title="Warm", target_words=300))


def compare(settings: CompareSettings) -> Comparison:
    with tempfile.TemporaryDirectory(prefix="bookgen-compare-") as tmp:
        sequential = _run(settings, Path(tmp), 1)
        parallel = _run(settings, Path(tmp), settings.workers)
    serial = max(0.0, sequential.seconds - sum(sequential.chapter_seconds))
    ideal = serial + max(
        lpt_makespan(sequential.chapter_seconds, settings.workers),
        rate_limit_floor(parallel.calls, settings.rate_limit_calls, settings.rate_limit_period),
    )
    return Comparison(
        chapters=len(sequential.chapter_seconds),
        workers=settings.workers,
        sequential_seconds=sequential.seconds,
        parallel_seconds=parallel.seconds,
        calls=parallel.calls,
        speedup=sequential.seconds / parallel.seconds,
        ideal_speedup=sequential.seconds / ideal,
        efficiency=ideal / parallel.seconds,
        ideal_parallel_seconds=ideal,
    )


def table(result: Comparison) -> str:
    rows = [
        ["mode", "workers", "seconds", "calls", "speedup", "ideal speedup", "efficiency"],
        [
            "sequential",
            "1",
            f"{result.sequential_seconds:.2f}",
            str(result.calls),
            "1.00x",
            "1.00x",
            "1.000",
        ],
        [
            "parallel",
            str(result.workers),
            f"{result.parallel_seconds:.2f}",
            str(result.calls),
            f"{result.speedup:.2f}x",
            f"{result.ideal_speedup:.2f}x",
            f"{result.efficiency:.3f}",
        ],
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row))
        for row in rows
    ]
    return "\n".join(lines)


def confirm_paid_run(provider: str, chapters: int, *, assume_yes: bool) -> None:
    """A provider that bills per call is asked before compare spends anything."""
    cls = provider_class(provider)
    if cls.simulated or not cls.key_env:
        return
    message = (
        f"compare writes {chapters} chapters twice with {provider}: about {2 * chapters} paid calls"
    )
    if assume_yes:
        print(f"note: {message}", file=sys.stderr)
        return
    if not sys.stdin.isatty():
        raise OptionError(f"{message}; pass --yes to confirm")
    answer = input(f"{message}. Continue? [y/N] ").strip().lower()
    if answer not in {"y", "yes"}:
        raise OptionError("compare cancelled; nothing was spent")
