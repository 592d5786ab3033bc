"""``sim``: a simulated LLM for tests, demos of the machinery and benchmarks.

It is not a model. It writes varied English prose of the length the prompt asks
for ("about 1,200 words"), deterministically for a seed and a prompt, in
``latency`` (+ up to ``jitter``) seconds a call, writing included: 1 + up to 1 by default, so a
demo shows chapters being written side by side; ``-O latency=0 -O jitter=0``
for speed. ``fail_rate`` makes a share of
calls fail with a transient error, deterministically too.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import string
import threading
import time
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from pydantic import Field

from bookgen.errors import JobCancelled, TransientProviderError
from bookgen.models import Completion, CompletionRequest, FinishReason, Usage
from bookgen.providers.base import Provider, ProviderOptions
from bookgen.tokens import estimate_tokens

# Word counts in prompts: "about 1,500 words", "roughly 300 more words".
_TARGET = re.compile(r"\b(\d[\d,]*)\s+(?:more\s+)?words\b", re.IGNORECASE)
WORDS_PER_TOKEN = 0.75


class SimOptions(ProviderOptions):
    # Defaults slow enough to watch a book being written; tests and benchmarks set them.
    latency: float = Field(default=1.0, ge=0)
    jitter: float = Field(default=1.0, ge=0)
    seed: int = 0
    fail_rate: float = Field(default=0.0, ge=0, le=1)
    # A file that gets one line per call as it starts: an outside count of the calls
    # "paid for", for crash tests that must not trust the manifest's own count.
    call_log: str | None = None


@cache
def _corpus() -> dict[str, Any]:
    text = resources.files("bookgen.providers").joinpath("sim_corpus.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def requested_words(request: CompletionRequest) -> int:
    """The word count the last user message asks for, else what max_tokens allows."""
    for message in reversed(request.messages):
        if message.role == "user":
            matches = _TARGET.findall(message.content)
            if matches:
                return max(1, int(matches[-1].replace(",", "")))
            break
    return max(1, int(request.max_tokens * WORDS_PER_TOKEN))


class SimProvider(Provider):
    """Deterministic fake prose with configurable latency and failures.

    >>> from bookgen.models import CompletionRequest, Message
    >>> sim = SimProvider()
    >>> req = CompletionRequest(messages=[Message(role="user", content="Write about 50 words.")],
    ...                         max_tokens=200)
    >>> len(sim.complete(req).text.split())
    50
    """

    name = "sim"
    description = "simulated text for tests and demos (not a model)"
    default_model = "sim-prose-1"
    simulated = True
    options_model = SimOptions

    def __init__(self, *, model: str | None = None, options: ProviderOptions | None = None) -> None:
        super().__init__(model=model, options=options)
        assert isinstance(self.options, SimOptions)
        self.settings: SimOptions = self.options
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self.calls = 0

    def complete(self, request: CompletionRequest) -> Completion:
        key = hashlib.sha256(
            f"{self.settings.seed}\x00{self.model}\x00{request.prompt_text}".encode()
        ).hexdigest()
        with self._lock:
            self.calls += 1
            attempt = self._seen.get(key, 0)
            self._seen[key] = attempt + 1
        if self.settings.call_log:
            _append_line(self.settings.call_log, request.metadata.get("chapter", "?"))
        rng = random.Random(f"{key}:{attempt}")
        delay = self.settings.latency + rng.uniform(0, self.settings.jitter)
        started = time.monotonic()
        failed = rng.random() < self.settings.fail_rate
        # The answer is written while the "server" takes its time, as a real provider's
        # is: the call lasts ``delay`` in all, not ``delay`` plus the writing.
        completion = None if failed else self._answer(request, key)
        remaining = delay - (time.monotonic() - started)
        if remaining > 0 and self.interrupted.wait(remaining):
            raise JobCancelled("interrupted")
        if completion is None:
            raise TransientProviderError("simulated server error (sim fail_rate)")
        return completion.model_copy(update={"latency": time.monotonic() - started})

    def _answer(self, request: CompletionRequest, key: str) -> Completion:
        if request.metadata.get("step") == "bible":
            text = sim_bible(request.prompt_text)
            finish: FinishReason = "stop"
        else:
            words = requested_words(request)
            capacity = max(1, int(request.max_tokens * WORDS_PER_TOKEN))
            finish = "stop"
            # Past the limit, write on and cut, so the text really stops mid-sentence.
            text = write_prose(words if words <= capacity else capacity + 40, key, request)
            if words > capacity:
                text = " ".join(text.split()[:capacity])
                finish = "length"
        return Completion(
            text=text,
            finish_reason=finish,
            usage=Usage(
                prompt_tokens=estimate_tokens(request.prompt_text),
                completion_tokens=estimate_tokens(text),
            ),
            provider=self.name,
            model=self.model,
        )


_OUTLINE_LINE = re.compile(r"^(\d+)\. ([^:\n]+)(?:: (.*))?$", re.M)


def sim_bible(prompt: str) -> str:
    """A story bible as JSON, from the outline in the planning prompt: the names it
    mentions and a contract per chapter (a model would add much more)."""
    corpus = _corpus()
    skip = set(corpus["not_names"])
    names: dict[str, None] = {}
    chapters = []
    for number, title, synopsis in _OUTLINE_LINE.findall(prompt):
        found = [w for w in re.findall(r"\b[A-Z][a-z]{2,}\b", synopsis or "") if w not in skip]
        names.update(dict.fromkeys(found))
        chapters.append(
            {
                "number": int(number),
                "starts": (synopsis or title).strip(),
                "characters": sorted(set(found)),
            }
        )
    bible = {
        "characters": [{"name": name, "role": "", "traits": "", "arc": ""} for name in names],
        "places": [],
        "rules": [],
        "style_sheet": ["Simulated bible: built by the sim provider from the outline."],
        "chapters": chapters,
    }
    return json.dumps(bible, indent=2)


def _append_line(path: str, text: str) -> None:
    # O_APPEND writes this small are atomic, also across processes.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{text}\n".encode())
    finally:
        os.close(fd)


def write_prose(target: int, seed: str, request: CompletionRequest) -> str:
    """About ``target`` words of paragraphs; ends on a whole sentence at ``target`` exactly
    when possible (the last sentence is trimmed to land on the count)."""
    corpus = _corpus()
    rng = random.Random(seed)
    topic = request.metadata.get("title", "what had happened").lower()
    names = cast_names(request, corpus, rng)
    paragraphs: list[str] = []
    total = 0
    while total < target:
        # Templates are drawn without replacement so a paragraph never repeats one.
        templates = rng.sample(corpus["templates"], rng.randint(3, 7))
        if rng.random() < 0.3:
            templates[0] = rng.choice(corpus["dialogue"])
        sentences = [_fill(template, corpus, rng, names, topic) for template in templates]
        paragraph = " ".join(sentences)
        words = paragraph.split()
        if total + len(words) > target:
            words = words[: target - total]
            paragraph = " ".join(words).rstrip(",;:")
            if not paragraph.endswith((".", "!", "?", '"')):
                paragraph += "."
            if paragraph.count('"') % 2:
                paragraph += '"'  # a cut inside dialogue still closes the quotation
        paragraphs.append(paragraph)
        total += len(words)
    return "\n\n".join(paragraphs)


def cast_names(request: CompletionRequest, corpus: dict[str, Any], rng: random.Random) -> list[str]:
    """Two character names: the outline's own when the chapter prompt names people."""
    prompt = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    skip = set(corpus["not_names"]) | set(request.metadata.get("title", "").split())
    counts: dict[str, int] = {}
    for word in re.findall(r"\b[A-Z][a-z]{2,}\b", prompt):
        if word not in skip:
            counts[word] = counts.get(word, 0) + 1
    found = sorted(counts, key=lambda name: (-counts[name], name))[:2]
    spare = [name for name in corpus["names"] if name not in found]
    return found + rng.sample(spare, 2 - len(found))


# Template fields drawn from the corpus, and the list each draws from (in draw order).
_LISTS = {
    "place": "places",
    "object": "objects",
    "adj": "adjectives",
    "weather": "weather",
    "feeling": "feelings",
    "sound": "sounds",
}


@lru_cache(maxsize=1024)
def _fields(template: str) -> tuple[str, ...]:
    """The word lists a template draws from, in a fixed order."""
    used = {field for _, field, _, _ in string.Formatter().parse(template) if field}
    return tuple(field for field in _LISTS if field in used)


def _fill(
    template: str, corpus: dict[str, Any], rng: random.Random, names: list[str], topic: str
) -> str:
    name, other = (names[0], names[1]) if rng.random() < 0.7 else (names[1], names[0])
    pronoun = _pronoun(name, corpus)
    values = {
        "name": name,
        "other": other,
        "pronoun": pronoun,
        "pronoun_cap": pronoun.capitalize(),
        "possessive": {"she": "her", "he": "his"}.get(pronoun, "their"),
        "topic": topic,
    }
    # Only the words the template uses are drawn (the sim's text is written in the
    # worker's own process, under the GIL: it should cost as little as it can).
    for field in _fields(template):
        words = corpus[_LISTS[field]]
        values[field] = words[int(rng.random() * len(words))]
    sentence = template.format(**values)
    return sentence[0].upper() + sentence[1:]


def _pronoun(name: str, corpus: dict[str, Any]) -> str:
    if name in corpus["female_names"]:
        return "she"
    return "he" if name in corpus["names"] else "they"
