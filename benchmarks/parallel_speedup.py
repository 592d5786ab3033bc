"""Sequential against parallel on the same chapters, side by side in one run.

    .venv/bin/python benchmarks/parallel_speedup.py [--latency 0.5]

Each case writes the same outline twice into temporary book folders with the sim
provider (fixed latency, no jitter): once with one worker, once with N. The ideal
parallel time is ceil(chapters / N) chapter times, so ideal speedup is
chapters / ceil(chapters / N); efficiency = speedup / ideal speedup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import tempfile
import time
from pathlib import Path

from bookgen import AsyncBookOrchestrator

CASES = [(5, 3), (20, 10)]


def outline(chapters: int, folder: Path) -> Path:
    path = folder / "bench.json"
    path.write_text(
        json.dumps(
            {
                "title": "Benchmark Book",
                "target_words": 300,
                "chapters": [{"title": f"Part {n}", "synopsis": "Something happens."} for n in range(chapters)],
            }
        )
    )
    return path


def timed_run(source: Path, folder: Path, workers: int, latency: float) -> float:
    orchestrator = AsyncBookOrchestrator(
        source_file=source,
        book_name=f"w{workers}",
        provider="sim",
        max_concurrent=workers,
        output_dir=folder,
        provider_options=[f"latency={latency}", "jitter=0"],
    )
    started = time.perf_counter()
    results = asyncio.run(orchestrator.generate_chapters_parallel())
    elapsed = time.perf_counter() - started
    assert all(r.status == "completed" for r in results)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.5)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}, "
          f"latency {args.latency} s per call")
    print("| chapters | workers | sequential s | parallel s | speedup | ideal | efficiency |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for chapters, workers in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            source = outline(chapters, folder)
            sequential = timed_run(source, folder, 1, args.latency)
            parallel = timed_run(source, folder, workers, args.latency)
        speedup = sequential / parallel
        ideal = chapters / math.ceil(chapters / workers)
        print(f"| {chapters} | {workers} | {sequential:.2f} | {parallel:.2f} | {speedup:.2f}x | "
              f"{ideal:.2f}x | {speedup / ideal:.3f} |")


if __name__ == "__main__":
    main()
