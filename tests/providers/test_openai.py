"""The openai provider against a loopback server speaking the real protocol."""

from __future__ import annotations

from email.utils import formatdate

import httpx
import pytest

from bookgen.errors import (
    AuthenticationError,
    BadRequestError,
    BrokenStreamError,
    ProviderConfigError,
    ProviderConnectionError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    UnparseableResponseError,
)
from bookgen.models import CompletionRequest, Message
from bookgen.providers.http import parse_retry_after, redact
from tests.conftest import FAKE_KEY
from tests.fakellm import Answer, BadJSON, CutStream, Drop, FakeLLMServer, Slow, Status

pytestmark = pytest.mark.usefixtures("provider_env")

REQUEST = CompletionRequest(
    messages=[
        Message(role="system", content="You write books."),
        Message(role="user", content="Write about 40 words."),
    ],
    max_tokens=500,
)


def openai(
    make, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, *options: str, key: str = FAKE_KEY
):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", key)
    return make("openai", model="gpt-test", options=[f"base_url={llm.openai_base}", *options])


def test_streams_by_default(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    completion = openai(make_provider, llm, monkeypatch).complete(REQUEST)
    assert len(completion.text.split()) == 40
    assert completion.finish_reason == "stop"
    assert (completion.provider, completion.model) == ("openai", "gpt-test")
    assert completion.usage.completion_tokens > 0 and not completion.usage.estimated
    sent = llm.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert sent.body is not None
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["model"] == "gpt-test"
    assert sent.body["max_tokens"] == 500
    assert sent.body["messages"][0] == {"role": "system", "content": "You write books."}


def test_plain_json_with_stream_false(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    completion = openai(make_provider, llm, monkeypatch, "stream=false").complete(REQUEST)
    assert len(completion.text.split()) == 40
    assert llm.requests[-1].body is not None and "stream" not in llm.requests[-1].body


@pytest.mark.parametrize("stream", ["true", "false"])
def test_length_and_missing_usage(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, stream: str
) -> None:
    llm.script(Answer(text="cut off here", finish_reason="length", usage=False))
    completion = openai(make_provider, llm, monkeypatch, f"stream={stream}").complete(REQUEST)
    assert (completion.text, completion.finish_reason) == ("cut off here", "length")
    assert completion.usage.estimated
    assert completion.usage.completion_tokens == 3


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (
            Status(401),
            AuthenticationError,
            "openai refused the credentials (HTTP 401: fake error); set OPENAI_API_KEY to a valid key",
        ),
        (Status(403), AuthenticationError, "openai refused the credentials (HTTP 403"),
        (
            Status(400, message="max_tokens too large"),
            BadRequestError,
            "openai rejected the request (HTTP 400: max_tokens too large)",
        ),
        (Status(404), BadRequestError, "HTTP 404"),
        (Status(422), BadRequestError, "HTTP 422"),
        (Status(429), RateLimitError, "openai rate limit (HTTP 429"),
        (Status(408), ServerError, "HTTP 408"),
        (Status(409), ServerError, "HTTP 409"),
        (Status(500), ServerError, "openai server error (HTTP 500"),
        (Status(503), ServerError, "HTTP 503"),
        (Status(529), ServerError, "HTTP 529"),
        (Drop(), ProviderConnectionError, "openai connection failed"),
        (CutStream(after=2), BrokenStreamError, "openai"),
        (BadJSON(), UnparseableResponseError, "openai: bad JSON in stream"),
    ],
)
def test_errors_streaming(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, fault, error, message
) -> None:  # type: ignore[no-untyped-def]
    llm.script(fault)
    with pytest.raises(error) as info:
        openai(make_provider, llm, monkeypatch).complete(REQUEST)
    assert message in str(info.value)
    assert FAKE_KEY not in str(info.value)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Drop(), ProviderConnectionError),
        (CutStream(), ProviderConnectionError),
        (BadJSON(), UnparseableResponseError),
    ],
)
def test_errors_plain(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, fault, error
) -> None:  # type: ignore[no-untyped-def]
    llm.script(fault)
    with pytest.raises(error):
        openai(make_provider, llm, monkeypatch, "stream=false").complete(REQUEST)


@pytest.mark.parametrize("stream", ["true", "false"])
def test_slow_answer_times_out(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, stream: str
) -> None:
    llm.script(Slow(1.0))
    with pytest.raises(ProviderTimeoutError, match="openai timed out"):
        openai(make_provider, llm, monkeypatch, "timeout=0.2", f"stream={stream}").complete(REQUEST)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "9999"}, 120.0),
        ({}, None),
    ],
)
def test_retry_after_reaches_the_error(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, headers, seconds
) -> None:  # type: ignore[no-untyped-def]
    llm.script(Status(429, headers=headers))
    with pytest.raises(RateLimitError) as info:
        openai(make_provider, llm, monkeypatch).complete(REQUEST)
    assert info.value.retry_after == seconds


def test_parse_retry_after_http_date() -> None:
    now = 1_800_000_000.0
    headers = httpx.Headers({"retry-after": formatdate(now + 30, usegmt=True)})
    assert parse_retry_after(headers, now=now) == 30.0
    past = httpx.Headers({"retry-after": formatdate(now - 30, usegmt=True)})
    assert parse_retry_after(past, now=now) == 0.0
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"}), now=now) is None


def test_redact() -> None:
    assert redact(f"bad key {FAKE_KEY}!", FAKE_KEY) == "bad key ***!"
    assert FAKE_KEY[-10:] not in redact(
        f"Incorrect API key provided: sk-bo****{FAKE_KEY[-10:]}", FAKE_KEY
    )
    assert redact("nothing here", FAKE_KEY) == "nothing here"


def test_missing_key_is_a_config_error(make_provider, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProviderConfigError) as info:
        make_provider("openai")
    assert str(info.value) == (
        "provider 'openai' needs an API key: set OPENAI_API_KEY, or pass --provider sim to try bookgen without one"
    )


def test_base_url_from_the_environment(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", llm.openai_base + "/")
    provider = make_provider("openai")
    assert provider.complete(REQUEST).text


def test_bad_base_url(make_provider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    with pytest.raises(
        ProviderConfigError, match="base URL 'ftp://x' must start with http:// or https://"
    ):
        make_provider("openai", options=["base_url=ftp://x"])


def test_connection_refused(make_provider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    provider = make_provider("openai", options=["base_url=http://127.0.0.1:9/v1"])
    with pytest.raises(
        ProviderConnectionError, match="cannot connect to openai at http://127.0.0.1:9/v1"
    ):
        provider.complete(REQUEST)


def test_local_server_preset_needs_no_key_and_finds_its_model(make_provider) -> None:
    with FakeLLMServer(model_ids=("llama3.2:3b", "other")) as server:
        provider = make_provider("ollama", options=[f"base_url={server.openai_base}"])
        completion = provider.complete(REQUEST)
        assert completion.model == "llama3.2:3b"
        assert server.requests[-1].body is not None
        assert server.requests[-1].body["model"] == "llama3.2:3b"
        assert "authorization" not in server.requests[-1].headers


def test_presets_have_their_urls_and_keys() -> None:
    from bookgen.providers.base import provider_class

    expected = {
        "openai": ("https://api.openai.com/v1", "OPENAI_API_KEY"),
        "groq": ("https://api.groq.com/openai/v1", "GROQ_API_KEY"),
        "together": ("https://api.together.xyz/v1", "TOGETHER_API_KEY"),
        "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
        "deepseek": ("https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
        "mistral": ("https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
        "ollama": ("http://localhost:11434/v1", None),
        "vllm": ("http://localhost:8000/v1", None),
        "llamacpp": ("http://localhost:8080/v1", None),
        "lmstudio": ("http://localhost:1234/v1", None),
        "anthropic": ("https://api.anthropic.com", "ANTHROPIC_API_KEY"),
    }
    for name, (url, key) in expected.items():
        cls = provider_class(name)
        assert (cls.endpoint(), cls.key_env) == (url, key), name


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_key_is_scrubbed_from_errors_inside_a_stream(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:  # type: ignore[no-untyped-def]
    from bookgen.errors import ProviderError

    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    base = llm.openai_base if provider == "openai" else llm.url
    llm.script(Status(500, message=f"Incorrect API key provided: {FAKE_KEY}", in_stream=True))
    with pytest.raises(ProviderError) as info:
        make_provider(provider, options=[f"base_url={base}", "stream=true"]).complete(REQUEST)
    assert "in stream" in str(info.value)
    assert FAKE_KEY not in str(info.value) and FAKE_KEY[-8:] not in str(info.value)
    assert FAKE_KEY not in repr(info.value.args)


def test_out_of_quota_is_not_a_rate_limit(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from bookgen.errors import QuotaExceededError

    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    llm.script(
        Status(429, message="You exceeded your current quota", error_code="insufficient_quota")
    )
    with pytest.raises(QuotaExceededError, match="out of quota or credit .*check billing"):
        make_provider("openai", options=[f"base_url={llm.openai_base}"]).complete(REQUEST)


@pytest.mark.parametrize("key", ["sk-abc def", "sk-abc\ndef", "sk-ключ"])
def test_a_key_that_cannot_be_a_header_is_a_config_error(
    make_provider, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with pytest.raises(
        ProviderConfigError,
        match="OPENAI_API_KEY contains characters that cannot be sent in an HTTP header",
    ):
        make_provider("openai")


def test_token_field_and_usage_option_per_service(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("MISTRAL_API_KEY", FAKE_KEY)
    assert make_provider("openai").max_tokens_field() == "max_completion_tokens"  # api.openai.com
    openai_compatible = make_provider("openai", options=[f"base_url={llm.openai_base}"])
    assert openai_compatible.max_tokens_field() == "max_tokens"
    openai_compatible.complete(REQUEST)
    assert llm.requests[-1].body is not None and "stream_options" in llm.requests[-1].body
    mistral = make_provider("mistral", options=[f"base_url={llm.openai_base}"])
    completion = mistral.complete(REQUEST)
    body = llm.requests[-1].body
    assert body is not None and "stream_options" not in body and body["max_tokens"] == 500
    assert completion.usage.estimated  # this server sends usage only when asked
