"""Orchestration overhead: seconds per chapter job beyond the provider's time, and peak RSS.

    .venv/bin/python benchmarks/overhead.py

Each size runs in a fresh subprocess (so peak RSS is that run's): a book of N chapters
(100 target words each) with the zero-latency sim provider and 20 workers. As in
`bookgen compare`, the analyzers' dictionaries are loaded before the clock starts (a
one-time cost per process, reported in its own column, not per chapter). The provider's
own time is measured apart, by calling the sim on the same requests in one thread;
overhead = (wall time - provider time) / N. The analysis share is the CPU time the
chapter jobs spent in the analyzers during the run itself (with their neighbours and
the outline's names, as the run measures them).

Then, at 1,000 chapters, where the time goes: the same run without the fsyncs of the
durable writes, without the analyzers, and without both (diagnostics: a real run always
has both).
"""

from __future__ import annotations

import json
import subprocess
import sys

SIZES = [250, 500, 1000]
WORKERS = 20
# Where the time goes at 1,000 chapters: the same run without the durable writes'
# fsyncs, without the analyzers (and the neighbouring chapters they read), and without
# both. Diagnostics only: bookgen never runs so.
DECOMPOSE = [["fsync"], ["analysis"], ["fsync", "analysis"]]

CHILD = r"""
import asyncio, json, resource, sys, tempfile, threading, time
from pathlib import Path
from bookgen import AsyncBookOrchestrator, quality
from bookgen.bench import warm_up
from bookgen.models import CompletionRequest
from bookgen.tokens import max_tokens_for
from bookgen.prompts import PromptBuilder
from bookgen.providers.sim import SimOptions, SimProvider

n, workers, without = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
started = time.perf_counter()
warm_up()
startup = time.perf_counter() - started
# Diagnostic runs only (see DECOMPOSE): the same book without what costs the most.
if "fsync" in without:
    import os
    os.fsync = lambda fd: None
if "analysis" in without:
    from bookgen import analyzers, store
    from bookgen.analyzers.base import Result
    class Nothing:
        name, weight = "nothing", 1.0
        def __call__(self, draft):
            return Result(self.name, 1.0)
    analyzers.ANALYZERS[:] = [Nothing()]
    store.BookStore.other_chapters = lambda self, number, limit=30: {}
# The analyzers' share, measured inside the run: CPU time of each measurement.
analysis = [0.0]
lock = threading.Lock()
measure = quality.QualityLoop.measure
def timed_measure(self, text, finish):
    began = time.thread_time()
    try:
        return measure(self, text, finish)
    finally:
        with lock:
            analysis[0] += time.thread_time() - began
quality.QualityLoop.measure = timed_measure
tmp = Path(tempfile.mkdtemp())
source = tmp / "book.json"
chapters = [{"title": f"Part {i}"} for i in range(1, n + 1)]
source.write_text(json.dumps({"title": "Overhead", "target_words": 100, "chapters": chapters}))
orchestrator = AsyncBookOrchestrator(
    source_file=source, provider="sim", max_concurrent=workers,
    provider_options=["latency=0", "jitter=0"], output_dir=tmp, bible=False, export=False,
)
started = time.perf_counter()
results = asyncio.run(orchestrator.generate_chapters_parallel())
wall = time.perf_counter() - started
assert all(r.status == "completed" for r in results)
# The provider's own share: the same requests through a fresh sim, in one thread.
sim = SimProvider(options=SimOptions(latency=0, jitter=0))
prompts = PromptBuilder(orchestrator.book)
requests = [
    CompletionRequest(messages=prompts.chapter(c), max_tokens=max_tokens_for(100),
                      metadata={"chapter": str(c.number), "title": c.title})
    for c in orchestrator.book.chapters
]
started = time.perf_counter()
texts = [sim.complete(request).text for request in requests]
provider = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall": wall, "provider": provider, "analysis": analysis[0], "rss_mb": rss,
                  "startup": startup}))
"""


def main() -> None:
    print(
        "| chapters | workers | wall s | provider s | analysis s | beyond provider, ms/chapter "
        "| beyond provider and analysis, ms/chapter | peak RSS MB | one-time start-up s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in SIZES:
        r = _run(size)
        beyond = (r["wall"] - r["provider"]) / size * 1000
        orchestration = (r["wall"] - r["provider"] - r["analysis"]) / size * 1000
        print(
            f"| {size} | {WORKERS} | {r['wall']:.2f} | {r['provider']:.2f} | {r['analysis']:.2f} "
            f"| {beyond:.2f} | {orchestration:.2f} | {r['rss_mb']:.0f} | {r['startup']:.2f} |",
            flush=True,
        )
    size = SIZES[-1]
    print(f"\n| {size} chapters, without | wall s | provider s | beyond provider, ms/chapter |")
    print("|---|---:|---:|---:|")
    for without in [[], *DECOMPOSE]:
        r = _run(size, without)
        beyond = (r["wall"] - r["provider"]) / size * 1000
        label = " and ".join(without) or "(nothing: as above)"
        print(f"| {label} | {r['wall']:.2f} | {r['provider']:.2f} | {beyond:.2f} |", flush=True)


def _run(size: int, without: list[str] | None = None) -> dict[str, float]:
    command = [sys.executable, "-c", CHILD, str(size), str(WORKERS), *(without or [])]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(out)
    return result


if __name__ == "__main__":
    main()
