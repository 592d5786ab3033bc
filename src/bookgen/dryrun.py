"""``generate --dry-run``: what a run would do and cost, without a call or a write."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bookgen.cost import Price
from bookgen.models import BookSpec, Usage
from bookgen.prompts import PromptBuilder
from bookgen.store import BookStore
from bookgen.tokens import TOKENS_PER_WORD, estimate_tokens, max_tokens_for


@dataclass(frozen=True)
class DryRun:
    chapters: list[int]
    skipped: list[int]
    calls_low: int
    calls_high: int
    prompt_low: int
    completion_low: int
    prompt_high: int
    completion_high: int
    cost_low: float | None
    cost_high: float | None


def plan_run(
    book: BookSpec,
    store: BookStore,
    numbers: list[int],
    *,
    force: bool,
    max_iterations: int,
    price: Price | None,
) -> DryRun:
    """Low: one call per chapter writing its target. High: every chapter uses every
    iteration, each continuation carrying the draft so far in its prompt."""
    skipped: list[int] = []
    if store.exists() and not force:
        manifest = store.load()
        known = {state.number: state for state in manifest.chapters}
        for number in numbers:
            state = known.get(number)
            chapter = book.chapter(number)
            if (
                state is not None
                and state.status == "completed"
                and state.spec_hash == book.spec_hash(chapter)
                and state.file is not None
                and (store.root / state.file).is_file()
            ):
                skipped.append(number)
    to_run = [n for n in numbers if n not in skipped]
    prompts = PromptBuilder(book)
    prompt_low = completion_low = prompt_high = completion_high = 0
    for number in to_run:
        chapter = book.chapter(number)
        messages = prompts.chapter(chapter)
        prompt = estimate_tokens("\n\n".join(m.content for m in messages))
        written = math.ceil(book.target_for(chapter) * TOKENS_PER_WORD)
        prompt_low += prompt
        completion_low += written
        prompt_high += sum(prompt + k * written for k in range(max_iterations))
        completion_high += max_iterations * max_tokens_for(book.target_for(chapter))
    low = Usage(prompt_tokens=prompt_low, completion_tokens=completion_low)
    high = Usage(prompt_tokens=prompt_high, completion_tokens=completion_high)
    return DryRun(
        chapters=to_run,
        skipped=skipped,
        calls_low=len(to_run),
        calls_high=len(to_run) * max_iterations,
        prompt_low=prompt_low,
        completion_low=completion_low,
        prompt_high=prompt_high,
        completion_high=completion_high,
        cost_low=price.cost(low) if price else None,
        cost_high=price.cost(high) if price else None,
    )
