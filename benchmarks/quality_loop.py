"""The enhance loop against a provider that flaws 30% of its answers.

    .venv/bin/python benchmarks/quality_loop.py

A 20-chapter book (the bundled garden outline) written with --max-iterations 4 by
the sim provider, except that 30% of answers (seeded) come back flawed in one of the
ways LLM-written books are known for: far too short, cut off at the token limit,
wrapped in assistant chatter, stuck in a loop, or ending with "The End." Reports the
calls per chapter and whether any saved chapter still has a hard defect.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections import Counter
from pathlib import Path

from bookgen import AsyncBookOrchestrator
from bookgen.analyzers import analyze
from bookgen.analyzers.base import Draft
from bookgen.models import Completion, CompletionRequest
from bookgen.providers.sim import SimOptions, SimProvider
from bookgen.store import read_chapter_body

ROOT = Path(__file__).resolve().parent.parent
FLAWS = ["short", "truncated", "chatter", "loop", "the end"]


class FlawedSim(SimProvider):
    def __init__(self, rate: float, seed: int) -> None:
        super().__init__(options=SimOptions(latency=0, jitter=0))
        self.rate = rate
        self.random = random.Random(seed)
        self.flaws: Counter[str] = Counter()

    def complete(self, request: CompletionRequest) -> Completion:
        answer = super().complete(request)
        if request.metadata.get("step") == "bible" or self.random.random() >= self.rate:
            return answer
        flaw = self.random.choice(FLAWS)
        self.flaws[flaw] += 1
        text = answer.text
        words = text.split()
        if flaw == "short":
            text = " ".join(words[: len(words) // 4]).rstrip(",;") + "."
        elif flaw == "truncated":
            return answer.model_copy(
                update={"text": " ".join(words[: len(words) * 2 // 3]), "finish_reason": "length"}
            )
        elif flaw == "chatter":
            text = f"Sure! Here is the chapter you asked for:\n\n{text}\n\nI hope you enjoyed it! Let me know if you want changes."
        elif flaw == "loop":
            last = text.split("\n\n")[-1]
            text = text + ("\n\n" + last) * 4
        else:
            text = text + "\n\nThe End."
        return answer.model_copy(update={"text": text})


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        provider = FlawedSim(rate=0.3, seed=7)
        orchestrator = AsyncBookOrchestrator(
            source_file=ROOT / "outlines/the-working-garden.json",
            provider=provider,
            max_concurrent=5,
            max_iterations=4,
            output_dir=tmp,
            export=False,
        )
        results = asyncio.run(orchestrator.generate_chapters_parallel())
        book = orchestrator.book
        left = []
        for state in orchestrator.store.manifest.chapters:
            chapter = book.chapter(state.number)
            text = read_chapter_body(Path(tmp) / orchestrator.store.name / str(state.file))
            analysis = analyze(
                Draft(
                    text=text,
                    number=state.number,
                    title=state.title,
                    target_words=book.target_for(chapter),
                    is_last=book.is_last(chapter),
                )
            )
            left += [f.analyzer for f in analysis.findings if f.severity == "hard"]
        calls = Counter(r.calls for r in results)
        print(f"flawed answers: {dict(provider.flaws)} of {provider.calls} calls")
        print(
            f"calls per chapter: {dict(sorted(calls.items()))} (mean {sum(r.calls for r in results) / len(results):.2f})"
        )
        print(
            f"chapters needing review: {sum(r.needs_review for r in results)}; hard defects left: {left or 'none'}"
        )


if __name__ == "__main__":
    main()
