from __future__ import annotations

import pytest

from bookgen.errors import JobCancelled, ProviderConfigError, TransientProviderError
from bookgen.models import CompletionRequest, Message
from bookgen.providers.base import available_providers, create_provider
from bookgen.providers.sim import SimOptions, SimProvider, requested_words

FAST = SimOptions(latency=0, jitter=0)


def request(text: str, max_tokens: int = 4000, title: str = "The Storm") -> CompletionRequest:
    return CompletionRequest(
        messages=[Message(role="system", content="shared"), Message(role="user", content=text)],
        max_tokens=max_tokens,
        metadata={"title": title},
    )


def test_registered_through_the_entry_point_group() -> None:
    assert available_providers()["sim"] is SimProvider


def test_writes_the_requested_length_deterministically() -> None:
    sim = SimProvider(options=FAST)
    first = sim.complete(request("Write about 1,234 words of finished prose."))
    assert len(first.text.split()) == 1234
    assert first.finish_reason == "stop"
    assert first.text.rstrip().endswith((".", "!", "?", '"'))
    assert first.usage.completion_tokens > 0 and first.usage.prompt_tokens > 0
    again = SimProvider(options=FAST).complete(
        request("Write about 1,234 words of finished prose.")
    )
    assert again.text == first.text
    other_seed = SimProvider(options=SimOptions(seed=1, latency=0, jitter=0)).complete(
        request("Write about 1,234 words of finished prose.")
    )
    assert other_seed.text != first.text


def test_prose_is_varied() -> None:
    text = SimProvider(options=FAST).complete(request("Write about 2000 words.")).text
    paragraphs = text.split("\n\n")
    assert len(paragraphs) > 10
    sentences = [s for p in paragraphs for s in p.split(". ")]
    assert len(set(sentences)) / len(sentences) > 0.5


def test_stops_at_the_token_limit_mid_sentence() -> None:
    answer = SimProvider(options=FAST).complete(request("Write about 1000 words.", max_tokens=400))
    assert answer.finish_reason == "length"
    assert len(answer.text.split()) == 300


def test_requested_words_reads_the_last_user_message() -> None:
    assert requested_words(request("Chapter... Write about 300 more words of prose")) == 300
    assert requested_words(request("no number here", max_tokens=100)) == 75


def test_fail_rate() -> None:
    sim = SimProvider(options=SimOptions(fail_rate=1.0, latency=0, jitter=0))
    with pytest.raises(TransientProviderError, match="simulated server error"):
        sim.complete(request("Write about 10 words."))


def test_interrupt_cuts_the_latency_short() -> None:
    sim = SimProvider(options=SimOptions(latency=30))
    sim.interrupt()
    with pytest.raises(JobCancelled):
        sim.complete(request("Write about 10 words."))


def test_options_are_validated() -> None:
    with pytest.raises(
        ProviderConfigError, match="-O fail_rate: Input should be less than or equal to 1"
    ):
        create_provider("sim", options=["fail_rate=2"])
    provider = create_provider("sim", model="custom", options=["latency=0.5", "seed=3"])
    assert provider.model == "custom"
    assert isinstance(provider.options, SimOptions)
    assert (provider.options.latency, provider.options.seed) == (0.5, 3)
