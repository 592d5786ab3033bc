"""bookgen's `local` provider against bare llama-cpp-python: tokens/s on the same prompts.

    .venv/bin/python benchmarks/local_model.py

Both sides load the bundled SmolLM2-135M-Instruct GGUF with the same context and CPU
threads, then write the same chapter prompts (bookgen's own, built by PromptBuilder
for the bundled example) with the same sampling and seed, alternating bare and bookgen
call by call so that machine noise hits both alike. The bare side is
`Llama.create_chat_completion` (the GGUF's chat template, no streaming); bookgen's side
is `LocalProvider.complete` (its own template rendering, streaming, checks). Reported:
completion tokens per second of generation time on each side, and the ratio (target:
bookgen >= 90% of bare).
"""

from __future__ import annotations

import platform
import time

from llama_cpp import Llama

from bookgen.bench import bundled_outline
from bookgen.models import CompletionRequest
from bookgen.outline import load_outline
from bookgen.prompts import PromptBuilder
from bookgen.providers.local import LocalOptions, LocalProvider, bundled_model, usable_cores

ROUNDS = 3
MAX_TOKENS = 256
N_CTX = 4096


def main() -> None:
    book = load_outline(bundled_outline())
    prompts = PromptBuilder(book, tier="ultra")
    requests = [
        CompletionRequest(messages=prompts.chapter(chapter), max_tokens=MAX_TOKENS)
        for chapter in book.chapters
    ]
    threads = usable_cores()
    options = LocalOptions(n_ctx=N_CTX, threads=threads, seed=1)
    provider = LocalProvider(options=options)
    path = bundled_model()
    assert path is not None
    bare = Llama(
        model_path=str(path),
        n_ctx=N_CTX,
        n_threads=threads,
        n_threads_batch=threads,
        seed=1,
        verbose=False,
    )
    sampling = {
        "temperature": options.temperature,
        "top_p": options.top_p,
        "top_k": options.top_k,
        "min_p": options.min_p,
        "repeat_penalty": options.repeat_penalty,
    }
    provider.complete(requests[0])  # load and warm both sides
    bare.create_chat_completion(
        messages=[m.model_dump() for m in requests[0].messages], max_tokens=8
    )
    totals = {"bare": [0, 0.0], "bookgen": [0, 0.0]}
    for _ in range(ROUNDS):
        for request in requests:
            started = time.perf_counter()
            answer = bare.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in request.messages],
                max_tokens=request.max_tokens,
                **sampling,
            )
            totals["bare"][0] += answer["usage"]["completion_tokens"]
            totals["bare"][1] += time.perf_counter() - started
            started = time.perf_counter()
            completion = provider.complete(request)
            totals["bookgen"][0] += completion.usage.completion_tokens
            totals["bookgen"][1] += time.perf_counter() - started
    provider.close()
    bare.close()
    print(
        f"machine: {platform.machine()}, {usable_cores()} cores, Python {platform.python_version()}"
    )
    print(
        f"{ROUNDS} rounds x {len(requests)} chapter prompts, max_tokens {MAX_TOKENS}, {threads} threads\n"
    )
    print("| side | completion tokens | seconds | tokens/s |")
    print("|---|---:|---:|---:|")
    rates = {}
    for side, (tokens, seconds) in totals.items():
        rates[side] = tokens / seconds
        print(f"| {side} | {tokens:,} | {seconds:.1f} | {rates[side]:.1f} |")
    print(f"\nbookgen / bare: {rates['bookgen'] / rates['bare']:.3f} (target >= 0.90)")


if __name__ == "__main__":
    main()
