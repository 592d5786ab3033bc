"""Sequential against parallel, side by side in one run, through `bookgen compare`'s code.

    .venv/bin/python benchmarks/speedup.py

Cases (chapters, workers, sim latency per call): (5, 3, 0.5 s), (20, 10, 0.5 s) and
(100, 20, 0.2 s). Each case writes the same outline twice (one worker, then N) with
the same deterministic sim text; the ideal parallel time comes from the sequential
run's own measurements (see bookgen/bench.py). Prints a Markdown table.
"""

from __future__ import annotations

import json
import platform
import tempfile
from pathlib import Path

from bookgen.bench import CompareSettings, compare

CASES = [(5, 3, 0.5), (20, 10, 0.5), (100, 20, 0.2)]


def outline(chapters: int, folder: Path) -> Path:
    path = folder / f"bench-{chapters}.json"
    data = {
        "title": f"Benchmark Book {chapters}",
        "target_words": 300,
        "chapters": [
            {"title": f"Part {n}", "synopsis": "Something happens."} for n in range(1, chapters + 1)
        ],
    }
    path.write_text(json.dumps(data))
    return path


def main() -> None:
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(
        "| chapters | workers | latency s | sequential s | parallel s | speedup | ideal speedup | efficiency |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for chapters, workers, latency in CASES:
            settings = CompareSettings(
                source=outline(chapters, Path(tmp)),
                chapters=None,
                workers=workers,
                provider="sim",
                model=None,
                options=[f"latency={latency}", "jitter=0"],
            )
            r = compare(settings)
            print(
                f"| {chapters} | {workers} | {latency} | {r.sequential_seconds:.2f} "
                f"| {r.parallel_seconds:.2f} | {r.speedup:.2f}x | {r.ideal_speedup:.2f}x "
                f"| {r.efficiency:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
