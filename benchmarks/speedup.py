"""Sequential against parallel, side by side in one run, through `bookgen compare`'s code.

    .venv/bin/python benchmarks/speedup.py

Cases (chapters, workers, sim latency per call): (5, 3, 0.5 s), (20, 10, 0.5 s) and
(100, 20, 0.2 s) on synthetic 300-word outlines, then the bundled example (5 chapters,
3 workers) and outlines/the-working-garden.json (20 chapters of 900 words, 10 workers)
at 0.5 s. Each case writes the same outline twice (one worker, then N) with
the same deterministic sim text; the ideal parallel time comes from the sequential
run's own measurements (see bookgen/bench.py). Each case runs REPEATS times; prints a
Markdown table of the median runs, with the range.
"""

from __future__ import annotations

import json
import platform
import tempfile
from pathlib import Path

from bookgen.bench import CompareSettings, bundled_outline, compare

CASES = [(5, 3, 0.5), (20, 10, 0.5), (100, 20, 0.2)]
# The machine is shared and runs vary by a few per cent: each case runs this many
# times, and the table shows the median run and the range of efficiencies.
REPEATS = 5


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
        "| outline | chapters | workers | latency s | sequential s | parallel s | speedup "
        f"| ideal speedup | efficiency (median of {REPEATS}) | range |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            (f"{chapters} x 300 words", outline(chapters, Path(tmp)), workers, latency)
            for chapters, workers, latency in CASES
        ]
        # The outlines users start from: the bundled example (the issue's
        # `compare --chapters 1 2 3 4 5 --max-concurrent 3`) and the 20-chapter one.
        cases.append(("bundled example, 5 x 320 words", bundled_outline(), 3, 0.5))
        cases.append(
            (
                "the-working-garden, 20 x 900 words",
                root / "outlines/the-working-garden.json",
                10,
                0.5,
            )
        )
        for label, source, workers, latency in cases:
            settings = CompareSettings(
                source=source,
                chapters=None,
                workers=workers,
                provider="sim",
                model=None,
                options=[f"latency={latency}", "jitter=0"],
            )
            runs = sorted((compare(settings) for _ in range(REPEATS)), key=lambda r: r.efficiency)
            r = runs[len(runs) // 2]  # the median run
            print(
                f"| {label} | {r.chapters} | {workers} | {latency} | {r.sequential_seconds:.2f} "
                f"| {r.parallel_seconds:.2f} | {r.speedup:.2f}x | {r.ideal_speedup:.2f}x "
                f"| {r.efficiency:.3f} | {runs[0].efficiency:.3f}-{runs[-1].efficiency:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
