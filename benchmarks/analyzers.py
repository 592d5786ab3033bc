"""Analyzer speed on a 3,000-word chapter: each must take at most 20 ms.

    .venv/bin/python benchmarks/analyzers.py

Each analyzer runs RUNS times on the clean 3,000-word fixture of the tests, as chapter
3 of a 20-chapter book (the 19 other chapters, for the cross-chapter checks, are the
fixture with each paragraph's words reversed: as long, and sharing nothing). Reported:
the median milliseconds per call. textstat caches results by text, so every run gets a
text of its own (the fixture plus a different number of trailing spaces, which no
analyzer reads); otherwise readability would be timed on cache hits. The one-off cost
of the first readability call (textstat loading the CMU pronouncing dictionary) is
reported apart.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from pathlib import Path

from bookgen.analyzers import ANALYZERS, analyze
from bookgen.analyzers.base import Draft
from bookgen.analyzers.readability import READABILITY

RUNS = 50
BUDGET_MS = 20.0
FIXTURE = Path(__file__).parent.parent / "tests" / "analyzers" / "fixtures" / "clean_3000.txt"
KNOWN = frozenset({"Ines Calder", "Tobias Wren", "Osk", "Kellhaven", "Marrow Point"})


def main() -> int:
    text = FIXTURE.read_text(encoding="utf-8")
    reversed_text = "\n\n".join(" ".join(p.split()[::-1]) for p in text.split("\n\n"))
    others = {n: reversed_text for n in range(1, 21) if n != 3}
    draft = Draft(text, 3, "The Salt Ledger", 3000, others=others, known_names=KNOWN)

    started = time.perf_counter()
    READABILITY(replace(draft, text=text + "\n"))
    first_call_ms = (time.perf_counter() - started) * 1000

    rows = []
    for analyzer in [*ANALYZERS, None]:
        times = []
        for run in range(RUNS):
            sample = replace(draft, text=text + " " * (run + 2))
            started = time.perf_counter()
            if analyzer is None:
                analyze(sample)
            else:
                analyzer(sample)
            times.append((time.perf_counter() - started) * 1000)
        rows.append((analyzer.name if analyzer else "all (analyze)", statistics.median(times)))

    print(f"Median of {RUNS} runs, 3,000-word chapter, 19 other chapters:\n")
    print("| analyzer | ms |")
    print("|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.2f} |")
    print(f"\nFirst readability call in a process (loads CMUdict): {first_call_ms:.0f} ms")
    slow = [name for name, ms in rows[:-1] if ms > BUDGET_MS]
    if slow:
        print(f"over the {BUDGET_MS:.0f} ms budget: {', '.join(slow)}")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
