"""The fake LLM server speaks the real OpenAI and Anthropic wire protocols and faults as told."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakellm import (
    Answer,
    BadJSON,
    CutStream,
    Drop,
    FakeLLMServer,
    Slow,
    Status,
    prose,
    requested_words,
)

KEY = "sk-test"
PROMPT = "Write 30 words about the mill."
OPENAI_HEADERS = {"Authorization": f"Bearer {KEY}"}
ANTHROPIC_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_key=KEY, model_ids=("fake-a", "fake-b")) as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    # One client for the module: building its TLS context costs 50 ms, more than a test.
    with httpx.Client(timeout=5.0) as http:
        yield http


def openai(client: httpx.Client, server: FakeLLMServer, **body: Any) -> httpx.Response:
    payload = {"model": "fake-a", "messages": [{"role": "user", "content": PROMPT}]} | body
    return client.post(
        f"{server.openai_base}/chat/completions", json=payload, headers=OPENAI_HEADERS
    )


def anthropic(client: httpx.Client, server: FakeLLMServer, **body: Any) -> httpx.Response:
    payload = {
        "model": "fake-a",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": PROMPT}],
    } | body
    return client.post(f"{server.url}/v1/messages", json=payload, headers=ANTHROPIC_HEADERS)


def sse(response: httpx.Response) -> list[tuple[str | None, str]]:
    """(event name, data) for each SSE event of a finished response."""
    events = []
    for block in response.text.split("\n\n"):
        if not block:
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(fields) <= {"event", "data"}, block
        events.append((fields.get("event"), fields["data"]))
    return events


def openai_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    events = sse(response)
    assert events[-1] == (None, "[DONE]")
    return [json.loads(data) for _, data in events[:-1]]


def expected_usage(words: int) -> dict[str, int]:
    prompt_tokens = len(PROMPT) // 4 + 1
    completion_tokens = words * 4 // 3 + 1
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}


# --- OpenAI ----------------------------------------------------------------------------


def test_openai_plain_answer_is_a_chat_completion(
    server: FakeLLMServer, client: httpx.Client
) -> None:
    response = openai(client, server)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "fake-a"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    text = choice["message"]["content"]
    assert len(text.split()) == 30 and text.endswith(".")
    assert choice["finish_reason"] == "stop"
    usage = expected_usage(30)
    assert body["usage"] == {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def test_openai_stream_with_include_usage_ends_with_a_usage_chunk(
    server: FakeLLMServer, client: httpx.Client
) -> None:
    plain = openai(client, server).json()["choices"][0]["message"]["content"]
    response = openai(client, server, stream=True, stream_options={"include_usage": True})

    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert "content-length" not in response.headers
    chunks = openai_chunks(response)
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    deltas = [c["choices"][0]["delta"].get("content", "") for c in chunks[1:-2]]
    assert all(1 <= len(d.split()) <= 5 for d in deltas)
    assert "".join(deltas) == plain
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * (len(chunks) - 2) + [
        "stop"
    ]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == expected_usage(30)["completion_tokens"]
    assert all(c["usage"] is None for c in chunks[:-1])


def test_openai_stream_without_include_usage_has_no_usage(
    server: FakeLLMServer, client: httpx.Client
) -> None:
    chunks = openai_chunks(openai(client, server, stream=True))

    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_openai_max_tokens_cuts_the_answer(server: FakeLLMServer, client: httpx.Client) -> None:
    body = openai(client, server, max_tokens=20).json()

    text = body["choices"][0]["message"]["content"]
    assert len(text.split()) == 15 and not text.endswith(".")
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 20


def test_openai_auth_and_validation(server: FakeLLMServer, client: httpx.Client) -> None:
    url = f"{server.openai_base}/chat/completions"
    ok_body = {"model": "m", "messages": []}

    wrong_key = client.post(url, json=ok_body, headers={"Authorization": "Bearer nope"})
    no_messages = client.post(url, json={"model": "m"}, headers=OPENAI_HEADERS)
    not_json = client.post(url, content=b"{oops", headers=OPENAI_HEADERS)

    assert wrong_key.status_code == 401
    assert wrong_key.json() == {
        "error": {
            "message": "Incorrect API key provided",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }
    assert (no_messages.status_code, no_messages.json()["error"]["type"]) == (
        400,
        "invalid_request_error",
    )
    assert not_json.status_code == 400


def test_no_api_key_means_no_auth_check(client: httpx.Client) -> None:
    with FakeLLMServer() as server:
        response = client.post(
            f"{server.openai_base}/chat/completions", json={"model": "m", "messages": []}
        )
    assert response.status_code == 200


# --- Anthropic -------------------------------------------------------------------------


def test_anthropic_plain_answer_is_a_message(server: FakeLLMServer, client: httpx.Client) -> None:
    response = anthropic(client, server, system=[{"type": "text", "text": "You write."}])

    assert response.status_code == 200
    body = response.json()
    text = body["content"][0]["text"]
    assert len(text.split()) == 30
    assert body == {
        "id": body["id"],
        "type": "message",
        "role": "assistant",
        "model": "fake-a",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": (len(PROMPT) + len("You write.")) // 4 + 1,
            "output_tokens": expected_usage(30)["completion_tokens"],
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
    }
    assert body["id"].startswith("msg_")


def test_anthropic_stream_is_the_real_event_sequence(
    server: FakeLLMServer, client: httpx.Client
) -> None:
    plain = anthropic(client, server).json()["content"][0]["text"]
    events = sse(anthropic(client, server, stream=True))

    names = [name for name, _ in events]
    n = len(names) - 6
    assert names == ["message_start", "content_block_start", "ping"] + [
        "content_block_delta"
    ] * n + [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = [json.loads(d) for _, d in events]
    assert [d["type"] for d in data] == names
    assert data[0]["message"]["content"] == [] and data[0]["message"]["stop_reason"] is None
    assert data[1]["content_block"] == {"type": "text", "text": ""}
    assert "".join(d["delta"]["text"] for d in data[3:-3]) == plain
    assert {d["delta"]["type"] for d in data[3:-3]} == {"text_delta"}
    assert data[-2] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": expected_usage(30)["completion_tokens"]},
    }


def test_anthropic_max_tokens_stops_with_max_tokens(
    server: FakeLLMServer, client: httpx.Client
) -> None:
    body = anthropic(client, server, max_tokens=8).json()

    assert len(body["content"][0]["text"].split()) == 6
    assert body["stop_reason"] == "max_tokens"
    assert body["usage"]["output_tokens"] == 8


def test_anthropic_auth_and_validation(server: FakeLLMServer, client: httpx.Client) -> None:
    url = f"{server.url}/v1/messages"
    ok_body = {"model": "m", "max_tokens": 10, "messages": []}

    wrong_key = client.post(
        url, json=ok_body, headers={"x-api-key": "nope", "anthropic-version": "2023-06-01"}
    )
    no_version = client.post(url, json=ok_body, headers={"x-api-key": KEY})
    no_max_tokens = client.post(url, json={"model": "m", "messages": []}, headers=ANTHROPIC_HEADERS)

    assert wrong_key.status_code == 401
    assert wrong_key.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }
    assert (no_version.status_code, no_version.json()["error"]["type"]) == (
        400,
        "invalid_request_error",
    )
    assert (no_max_tokens.status_code, no_max_tokens.json()["error"]["message"]) == (
        400,
        "max_tokens: field required",
    )


# --- other routes and bookkeeping --------------------------------------------------------


def test_models_and_unknown_paths(server: FakeLLMServer, client: httpx.Client) -> None:
    models = client.get(f"{server.openai_base}/models", headers=OPENAI_HEADERS)
    anthropic_models = client.get(f"{server.openai_base}/models", headers=ANTHROPIC_HEADERS)
    refused = client.get(f"{server.openai_base}/models")
    unknown = client.post(f"{server.url}/v2/nothing", json={})

    assert anthropic_models.status_code == 200
    assert refused.status_code == 401

    assert models.json()["object"] == "list"
    assert [(m["id"], m["object"]) for m in models.json()["data"]] == [
        ("fake-a", "model"),
        ("fake-b", "model"),
    ]
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "invalid_request_error"


def test_requests_are_recorded_and_counted(server: FakeLLMServer, client: httpx.Client) -> None:
    before = time.monotonic()
    openai(client, server)
    anthropic(client, server)
    client.get(f"{server.openai_base}/models")

    first = server.requests[0]
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.body is not None and first.body["model"] == "fake-a"
    assert before <= first.at <= time.monotonic()
    assert [r.method for r in server.requests] == ["POST", "POST", "GET"]
    assert server.calls() == 2
    assert server.calls("/messages") == 1
    assert server.calls("/chat/completions") == 1


def test_text_for_can_be_replaced(server: FakeLLMServer, client: httpx.Client) -> None:
    server.text_for = lambda body: f"Echo {body['model']}."

    assert openai(client, server).json()["choices"][0]["message"]["content"] == "Echo fake-a."


def test_default_prose_has_the_asked_length_and_shape() -> None:
    assert requested_words("Write about 1,200 words. Then 300 more words please.") == 300
    assert requested_words("Write a chapter.") == 50
    text = prose(250, seed=7)

    assert text == prose(250, seed=7)
    assert len(text.split()) == 250 and text.endswith(".")
    paragraphs = text.split("\n\n")
    assert len(paragraphs) > 1 and all(p.strip() == p and p for p in paragraphs)
    sentences = re.findall(r"[^.]+\.", text)
    assert all(8 <= len(s.split()) <= 15 for s in sentences)


# --- faults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind", "error_code"),
    [
        (400, "invalid_request_error", None),
        (429, "requests", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", None),
    ],
)
def test_openai_status_fault(
    server: FakeLLMServer, client: httpx.Client, code: int, kind: str, error_code: str | None
) -> None:
    server.script(Status(code, {"retry-after": "3"}, message="boom"))

    faulty = openai(client, server)
    after = openai(client, server)

    assert faulty.status_code == code
    assert faulty.headers["retry-after"] == "3"
    assert faulty.json() == {"error": {"message": "boom", "type": kind, "code": error_code}}
    assert after.status_code == 200


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ],
)
def test_anthropic_status_fault(
    server: FakeLLMServer, client: httpx.Client, code: int, kind: str
) -> None:
    server.script(Status(code))

    faulty = anthropic(client, server)

    assert faulty.status_code == code
    assert faulty.json() == {"type": "error", "error": {"type": kind, "message": "fake error"}}


def test_status_in_stream_sends_an_error_event(server: FakeLLMServer, client: httpx.Client) -> None:
    server.script(Status(529, in_stream=True), Status(500, message="gone", in_stream=True))

    claude = sse(anthropic(client, server, stream=True))
    gpt = sse(openai(client, server, stream=True))

    assert [name for name, _ in claude] == ["message_start", "error"]
    assert json.loads(claude[1][1]) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "fake error"},
    }
    assert len(gpt) == 2 and gpt[1][0] is None
    assert json.loads(gpt[1][1])["error"]["message"] == "gone"


def test_drop_sends_nothing(server: FakeLLMServer, client: httpx.Client) -> None:
    server.script(Drop(), Drop())

    with pytest.raises(httpx.RemoteProtocolError):
        openai(client, server)
    with pytest.raises(httpx.RemoteProtocolError):
        anthropic(client, server, stream=True)
    assert openai(client, server).status_code == 200


def test_cut_stream_ends_without_terminator(server: FakeLLMServer, client: httpx.Client) -> None:
    server.script(CutStream(after=2), CutStream(after=1))

    gpt = sse(openai(client, server, stream=True, stream_options={"include_usage": True}))
    claude = sse(anthropic(client, server, stream=True))

    assert len(gpt) == 3 and all(data != "[DONE]" for _, data in gpt)
    assert [json.loads(d)["choices"][0]["finish_reason"] for _, d in gpt] == [None, None, None]
    assert [name for name, _ in claude] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
    ]


def test_cut_plain_answer_is_short_of_its_content_length(
    server: FakeLLMServer, client: httpx.Client
) -> None:
    server.script(CutStream())

    with pytest.raises(httpx.RemoteProtocolError):
        anthropic(client, server)


def test_bad_json(server: FakeLLMServer, client: httpx.Client) -> None:
    server.script(BadJSON(), BadJSON(), BadJSON())

    plain = openai(client, server)
    gpt = sse(openai(client, server, stream=True))
    claude = sse(anthropic(client, server, stream=True))

    assert plain.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        plain.json()
    assert gpt[1:] == [(None, "{not json"), (None, "[DONE]")]
    assert [name for name, _ in claude][-2:] == ["content_block_delta", "message_stop"]
    assert claude[-2][1] == "{not json"


def test_slow_past_the_read_timeout_times_out(server: FakeLLMServer, client: httpx.Client) -> None:
    server.script(Slow(0.4))
    body = {"model": "m", "messages": []}

    with pytest.raises(httpx.ReadTimeout):
        client.post(
            f"{server.openai_base}/chat/completions",
            json=body,
            headers=OPENAI_HEADERS,
            timeout=httpx.Timeout(5.0, read=0.2),
        )
    assert openai(client, server).status_code == 200


def test_slow_then_answers_normally(server: FakeLLMServer, client: httpx.Client) -> None:
    server.script(Slow(0.05))
    start = time.monotonic()

    response = anthropic(client, server)

    assert time.monotonic() - start >= 0.05
    assert response.json()["stop_reason"] == "end_turn"


def test_close_does_not_wait_for_a_slow_fault(client: httpx.Client) -> None:
    server = FakeLLMServer().start()
    server.script(Slow(30))
    outcome: list[BaseException | int] = []

    def call() -> None:
        try:
            outcome.append(
                client.post(
                    f"{server.openai_base}/chat/completions", json={"model": "m", "messages": []}
                ).status_code
            )
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 2
    while server.calls() == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    start = time.monotonic()
    server.close()
    caller.join(timeout=2)

    assert time.monotonic() - start < 0.5
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.RemoteProtocolError)


def test_answer_overrides_text_finish_and_usage(
    server: FakeLLMServer, client: httpx.Client
) -> None:
    server.script(*[Answer("Cut short", finish_reason="length", usage=False)] * 3)

    gpt = openai(client, server).json()
    claude = anthropic(client, server).json()
    chunks = openai_chunks(
        openai(client, server, stream=True, stream_options={"include_usage": True})
    )

    assert gpt["choices"][0]["message"]["content"] == "Cut short"
    assert gpt["choices"][0]["finish_reason"] == "length" and "usage" not in gpt
    assert claude["content"][0]["text"] == "Cut short"
    assert claude["stop_reason"] == "max_tokens" and "usage" not in claude
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert all(c["usage"] is None for c in chunks)


def test_rate_limit_is_a_sliding_window_of_admitted_requests(
    server: FakeLLMServer, client: httpx.Client
) -> None:
    now = [0.0]
    server.clock = lambda: now[0]
    server.rate_limit(2, 10.0)

    def at(t: float) -> tuple[int, str | None]:
        now[0] = t
        response = anthropic(client, server)
        return response.status_code, response.headers.get("retry-after")

    assert at(0.0) == (200, None)
    assert at(1.0) == (200, None)
    assert at(2.0) == (429, "8")
    assert at(9.5) == (429, "1")
    assert at(10.0) == (200, None)
    # The refusals at 2.0 and 9.5 took no place in the window.
    assert at(11.0) == (200, None)
    now[0] = 11.5
    refused = openai(client, server)
    assert refused.json()["error"]["type"] == "requests"


def test_fault_rate_is_deterministic_and_after_the_script(client: httpx.Client) -> None:
    def codes(seed: int) -> list[int]:
        with FakeLLMServer() as server:
            server.script(Status(418))
            server.fault_rate(0.5, [Status(500), Status(503)], seed=seed)
            body = {"model": "m", "messages": []}
            return [
                client.post(f"{server.openai_base}/chat/completions", json=body).status_code
                for _ in range(20)
            ]

    first = codes(3)

    assert first == codes(3)
    assert first != codes(4)
    assert first[0] == 418
    assert set(first[1:]) == {200, 500, 503}
