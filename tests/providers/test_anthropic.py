"""The anthropic provider against a loopback server speaking the Messages API."""

from __future__ import annotations

import pytest

from bookgen.errors import AuthenticationError, BrokenStreamError, RateLimitError, ServerError
from bookgen.models import CompletionRequest, Message
from tests.conftest import FAKE_KEY
from tests.fakellm import Answer, CutStream, FakeLLMServer, Status

pytestmark = pytest.mark.usefixtures("provider_env")


def request(max_tokens: int = 500) -> CompletionRequest:
    return CompletionRequest(
        messages=[
            Message(role="system", content="You write books."),
            Message(role="user", content="Write about 30 words."),
        ],
        max_tokens=max_tokens,
    )


def anthropic(make, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, *options: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm.url)
    return make("anthropic", model="claude-test", options=list(options))


def test_plain_request_shape_and_answer(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    completion = anthropic(make_provider, llm, monkeypatch).complete(request())
    assert len(completion.text.split()) == 30
    assert (completion.finish_reason, completion.provider, completion.model) == (
        "stop",
        "anthropic",
        "claude-test",
    )
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    sent = llm.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == FAKE_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body is not None
    # The shared prefix is marked for prompt caching.
    assert sent.body["system"] == [
        {"type": "text", "text": "You write books.", "cache_control": {"type": "ephemeral"}}
    ]
    assert sent.body["messages"] == [{"role": "user", "content": "Write about 30 words."}]
    assert "stream" not in sent.body


def test_streams_when_max_tokens_is_large(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    completion = anthropic(make_provider, llm, monkeypatch).complete(request(max_tokens=8000))
    assert len(completion.text.split()) == 30
    assert llm.requests[-1].body is not None and llm.requests[-1].body["stream"] is True
    assert completion.usage.completion_tokens > 0 and not completion.usage.estimated


@pytest.mark.parametrize("stream", ["true", "false"])
def test_max_tokens_stop_reason_is_length(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, stream: str
) -> None:
    llm.script(Answer(text="and then", finish_reason="length"))
    completion = anthropic(make_provider, llm, monkeypatch, f"stream={stream}").complete(request())
    assert (completion.text, completion.finish_reason) == ("and then", "length")


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (
            Status(401),
            AuthenticationError,
            "anthropic refused the credentials (HTTP 401: fake error); set ANTHROPIC_API_KEY to a valid key",
        ),
        (
            Status(429, headers={"retry-after": "3"}),
            RateLimitError,
            "anthropic rate limit (HTTP 429",
        ),
        (Status(529), ServerError, "anthropic server error (HTTP 529"),
        (CutStream(after=1), BrokenStreamError, "anthropic"),
    ],
)
def test_errors(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, fault, error, message
) -> None:  # type: ignore[no-untyped-def]
    llm.script(fault)
    with pytest.raises(error) as info:
        anthropic(make_provider, llm, monkeypatch, "stream=true").complete(request())
    assert message in str(info.value)


def test_wrong_key_is_refused_by_the_server(
    make_provider, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = anthropic(make_provider, llm, monkeypatch)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "wrong")
    wrong = make_provider("anthropic")
    with pytest.raises(AuthenticationError):
        wrong.complete(request())
    assert provider.complete(request()).text
