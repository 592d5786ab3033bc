"""A loopback fake LLM server that speaks the OpenAI and Anthropic wire protocols.

Provider tests point a real HTTP client at it, so the bytes they parse are the bytes
the real services send: ``chat.completion`` objects and ``chat.completion.chunk``
streams ending in ``data: [DONE]`` (``POST /v1/chat/completions``), and Anthropic
``message`` objects and ``message_start`` ... ``message_stop`` event streams
(``POST /v1/messages``). Faults are scripted per request::

    with FakeLLMServer(api_key="sk-test") as server:
        server.script(Status(429, {"retry-after": "1"}), CutStream(after=3))
        ...  # first request: 429, second: a stream cut after three text deltas
        assert server.calls("/chat/completions") == 3

Only POSTs to the two completion routes take a fault, and only after they pass the
auth and header checks and the ``rate_limit`` window. Streams are close-delimited
(``Connection: close``, no Content-Length), so a cut stream reaches the client as a
clean end of body without its terminator; the provider must notice that itself.
Stdlib only, so the fake cannot share a bug with the client library under test.
"""

from __future__ import annotations

import json
import math
import random
import re
import socket
import socketserver
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
MODELS_PATH = "/v1/models"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any] | None  # None when the body is empty or not a JSON object
    at: float  # time.monotonic() when the request arrived


@dataclass
class Status:
    """Answer with this HTTP status and an error body in the request's protocol.

    With ``in_stream=True`` a stream request instead gets 200, the opening event and
    then an in-stream error (Anthropic ``event: error``, OpenAI ``data: {"error": ...}``),
    as both services do when they fail after the stream started.
    """

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "fake error"
    in_stream: bool = False
    # OpenAI's error.code, e.g. "insufficient_quota" (default: the usual one for the status).
    error_code: str | None = None


@dataclass
class Drop:
    """Close the connection without sending any response bytes."""


@dataclass
class CutStream:
    """Stream: send ``after`` text deltas, then close without the terminator.

    Plain request: announce a Content-Length larger than the body sent, then close.
    """

    after: int = 2


@dataclass
class BadJSON:
    """200 with a body that is not JSON; in a stream, one ``data: {not json`` event."""


@dataclass
class Slow:
    """Wait ``seconds`` before answering normally (``close()`` cuts the wait short)."""

    seconds: float


@dataclass
class Answer:
    """Answer normally, but with this text (sent verbatim), finish reason, or no usage."""

    text: str | None = None
    finish_reason: str = "stop"
    usage: bool = True


Fault = Status | Drop | CutStream | BadJSON | Slow | Answer

# --- default prose ------------------------------------------------------------------

# Read in a loop from a seeded offset, so the fake's prose is deterministic but varies.
_PASSAGE = (
    "the old mill stood above the river and its wheel turned slowly in the cold morning "
    "light while mara walked along the harbour wall with a small brass key in her pocket "
    "tobias waited by the gate and watched the fishing boats come home under a grey sky "
    "that promised rain before evening she thought of her mother and of the letters "
    "hidden in the attic of the house on the hill where the gulls circled the chimneys "
    "and the bells of the church rang out across the water to call the town to supper"
).split()
_WORDS_RE = re.compile(r"(\d[\d,]*) (more )?words", re.IGNORECASE)


def _content_text(content: Any) -> str:
    """The text of a message ``content``: a string or a list of text blocks/parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def requested_words(prompt: str, default: int = 50) -> int:
    matches = _WORDS_RE.findall(prompt)
    return int(matches[-1][0].replace(",", "")) if matches else default


def prose(words: int, seed: int = 0) -> str:
    """Exactly ``words`` words in sentences of 8-15 words and paragraphs of 3-6 sentences."""
    rng = random.Random(seed)
    offset = rng.randrange(len(_PASSAGE))
    sentences: list[str] = []
    left = words
    while left > 0:
        # The last sentence takes the rest, so stop early enough that it keeps 8 words.
        size = left if left <= 15 else rng.randint(8, min(15, left - 8))
        picked = [_PASSAGE[(offset + i) % len(_PASSAGE)] for i in range(size)]
        sentences.append(" ".join([picked[0].capitalize(), *picked[1:]]) + ".")
        offset += size
        left -= size
    paragraphs: list[str] = []
    while sentences:
        take = rng.randint(3, 6)
        paragraphs.append(" ".join(sentences[:take]))
        del sentences[:take]
    return "\n\n".join(paragraphs)


def default_text(body: dict[str, Any]) -> str:
    """Prose as long as the last user message asks ("about 300 words"), else 50 words."""
    prompt = last_user_text(body)
    return prose(requested_words(prompt), seed=zlib.crc32(prompt.encode()))


# --- protocol rendering ---------------------------------------------------------------


@dataclass
class _Reply:
    model: str
    text: str
    finish_reason: str  # OpenAI vocabulary: "stop" / "length" / ...
    usage: bool
    prompt_tokens: int
    completion_tokens: int
    include_usage: bool  # OpenAI stream_options.include_usage
    ident: str


def _pieces(text: str, words: int = 5) -> list[str]:
    """``text`` in deltas of about ``words`` words that join back to exactly ``text``."""
    tokens = re.findall(r"\s*\S+\s*", text) if text.strip() else ([text] if text else [])
    return ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]


def _sse(data: str, event: str | None = None) -> bytes:
    return ((f"event: {event}\n" if event else "") + f"data: {data}\n\n").encode()


@dataclass
class _Stream:
    head: list[bytes]  # what precedes the first text delta
    deltas: list[bytes]
    tail: list[bytes]  # finish, usage and terminator
    error_head: list[bytes]  # what precedes an in-stream error
    bad: bytes  # an event whose data is not JSON
    end: bytes  # the terminator alone


_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "requests",
}
_OPENAI_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def openai_error(code: int, message: str) -> dict[str, Any]:
    kind = _OPENAI_TYPES.get(code, "server_error" if code >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "code": _OPENAI_CODES.get(code)}}


def anthropic_error(code: int, message: str) -> dict[str, Any]:
    kind = _ANTHROPIC_TYPES.get(code, "api_error" if code >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _openai_usage(reply: _Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def openai_completion(reply: _Reply) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": reply.ident,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text, "refusal": None},
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "system_fingerprint": None,
    }
    if reply.usage:
        out["usage"] = _openai_usage(reply)
    return out


def openai_stream(reply: _Reply) -> _Stream:
    created = int(time.time())

    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        obj: dict[str, Any] = {
            "id": reply.ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": reply.model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if reply.include_usage:
            obj["usage"] = usage  # null on every chunk but the last, as OpenAI sends it
        return _sse(json.dumps(obj))

    def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    head = [chunk(choice({"role": "assistant", "content": "", "refusal": None}))]
    tail = [chunk(choice({}, reply.finish_reason))]
    if reply.include_usage and reply.usage:
        tail.append(chunk([], _openai_usage(reply)))
    end = _sse("[DONE]")
    return _Stream(
        head=head,
        deltas=[chunk(choice({"content": piece})) for piece in _pieces(reply.text)],
        tail=[*tail, end],
        error_head=head,
        bad=_sse("{not json"),
        end=end,
    )


def _anthropic_usage(reply: _Reply, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": reply.prompt_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
    }


def _stop_reason(finish_reason: str) -> str:
    return {"stop": "end_turn", "length": "max_tokens"}.get(finish_reason, finish_reason)


def anthropic_message(reply: _Reply) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": reply.ident,
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": _stop_reason(reply.finish_reason),
        "stop_sequence": None,
    }
    if reply.usage:
        out["usage"] = _anthropic_usage(reply, reply.completion_tokens)
    return out


def anthropic_stream(reply: _Reply) -> _Stream:
    def event(name: str, **data: Any) -> bytes:
        return _sse(json.dumps({"type": name, **data}), event=name)

    start = anthropic_message(reply) | {"content": [], "stop_reason": None}
    if reply.usage:
        start["usage"] = _anthropic_usage(reply, 1)
    message_start = event("message_start", message=start)
    head = [
        message_start,
        event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        event("ping"),
    ]
    message_delta: dict[str, Any] = {
        "delta": {"stop_reason": _stop_reason(reply.finish_reason), "stop_sequence": None}
    }
    if reply.usage:
        message_delta["usage"] = {"output_tokens": reply.completion_tokens}
    end = event("message_stop")
    return _Stream(
        head=head,
        deltas=[
            event("content_block_delta", index=0, delta={"type": "text_delta", "text": piece})
            for piece in _pieces(reply.text)
        ],
        tail=[event("content_block_stop", index=0), event("message_delta", **message_delta), end],
        error_head=[message_start],
        bad=_sse("{not json", event="content_block_delta"),
        end=end,
    )


def _estimate_prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    texts = (
        [_content_text(m.get("content")) for m in messages if isinstance(m, dict)]
        if isinstance(messages, list)
        else []
    )
    texts.append(_content_text(body.get("system")))
    return sum(len(t) for t in texts) // 4 + 1


def _make_reply(
    server: FakeLLMServer, body: dict[str, Any], answer: Answer, openai: bool
) -> _Reply:
    finish = answer.finish_reason
    if answer.text is not None:
        text = answer.text
        tokens = len(text.split()) * 4 // 3 + 1
    else:
        text = server.text_for(body)
        tokens = len(text.split()) * 4 // 3 + 1
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if isinstance(limit, int) and limit < tokens:
            text = "".join(re.findall(r"\s*\S+\s*", text)[: limit * 3 // 4]).rstrip()
            tokens = min(len(text.split()) * 4 // 3 + 1, limit)
            finish = "length"
    options = body.get("stream_options")
    return _Reply(
        model=str(body.get("model")),
        text=text,
        finish_reason=finish,
        usage=answer.usage,
        prompt_tokens=_estimate_prompt_tokens(body),
        completion_tokens=tokens,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        ident=server._next_id("chatcmpl-fake" if openai else "msg_fake"),
    )


# --- HTTP -----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services offer
    timeout = 30  # an idle keep-alive connection ends on its own
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        raw = self._read_body()
        record = self._record("GET", raw)
        path = record.path
        key = self.server.fake.api_key
        offered = {record.headers.get("authorization"), record.headers.get("x-api-key")}
        if path == MODELS_PATH and key is not None and not {f"Bearer {key}", key} & offered:
            anthropic = "x-api-key" in record.headers
            error = anthropic_error if anthropic else openai_error
            self._send_json(
                401, error(401, "invalid x-api-key" if anthropic else "Incorrect API key provided")
            )
        elif path == MODELS_PATH:
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                for m in self.server.fake.model_ids
            ]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_json(404, openai_error(404, f"Invalid URL (GET {path})"))

    def do_POST(self) -> None:
        raw = self._read_body()
        record = self._record("POST", raw)
        if record.path not in (OPENAI_PATH, ANTHROPIC_PATH):
            self._send_json(404, openai_error(404, f"Invalid URL (POST {record.path})"))
            return
        openai = record.path == OPENAI_PATH
        error = openai_error if openai else anthropic_error
        fake = self.server.fake
        refusal = self._check(record, openai)
        if refusal is not None:
            self._send_json(refusal[0], error(*refusal))
            return
        retry_after = fake._admit()
        if retry_after is not None:
            self._send_json(
                429,
                error(429, "rate limit exceeded (fake server)"),
                {"retry-after": str(retry_after)},
            )
            return
        assert record.body is not None  # _check refuses a request without one
        self._answer(record.body, fake._next_fault(), openai)

    def _check(self, record: RecordedRequest, openai: bool) -> tuple[int, str] | None:
        key = self.server.fake.api_key
        body = record.body
        if openai:
            if key is not None and record.headers.get("authorization") != f"Bearer {key}":
                return 401, "Incorrect API key provided"
            required: tuple[str, ...] = ("model", "messages")
        else:
            if key is not None and record.headers.get("x-api-key") != key:
                return 401, "invalid x-api-key"
            if "anthropic-version" not in record.headers:
                return 400, "anthropic-version: header is required"
            required = ("model", "max_tokens", "messages")
        if body is None:
            return 400, "request body is not a JSON object"
        missing = [name for name in required if name not in body]
        if missing or not isinstance(body.get("messages"), list):
            return 400, f"{(missing or ['messages'])[0]}: field required"
        return None

    def _answer(self, body: dict[str, Any], fault: Fault | None, openai: bool) -> None:
        stream = body.get("stream") is True
        error = openai_error if openai else anthropic_error
        if isinstance(fault, Slow):
            if self.server.fake._stopping.wait(fault.seconds):
                self.close_connection = True  # closing: drop rather than answer late
                return
            fault = None
        if isinstance(fault, Drop):
            self.close_connection = True
            return
        if isinstance(fault, Status) and not (fault.in_stream and stream):
            payload = error(fault.code, fault.message)
            if openai and fault.error_code is not None:
                payload["error"]["code"] = fault.error_code
            self._send_json(fault.code, payload, fault.headers)
            return
        reply = _make_reply(
            self.server.fake, body, fault if isinstance(fault, Answer) else Answer(), openai
        )
        if not stream:
            if isinstance(fault, BadJSON):
                self._send_bytes(200, b'{"id": "broken", "choices": [', "application/json")
                return
            data = json.dumps(
                openai_completion(reply) if openai else anthropic_message(reply)
            ).encode()
            if isinstance(fault, CutStream):
                self._send_bytes(200, data[: len(data) // 2], "application/json", length=len(data))
                self.close_connection = True
                return
            self._send_bytes(200, data, "application/json")
            return
        events = openai_stream(reply) if openai else anthropic_stream(reply)
        if isinstance(fault, Status):
            err = error(fault.code, fault.message)
            parts = [*events.error_head, _sse(json.dumps(err), event=None if openai else "error")]
        elif isinstance(fault, CutStream):
            parts = [*events.head, *events.deltas[: fault.after]]
        elif isinstance(fault, BadJSON):
            parts = [*events.head, events.bad, events.end]
        else:
            parts = [*events.head, *events.deltas, *events.tail]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # the body ends where the connection does
        self.end_headers()
        for part in parts:
            self.wfile.write(part)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _record(self, method: str, raw: bytes) -> RecordedRequest:
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        record = RecordedRequest(
            method=method,
            path=urlsplit(self.path).path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=parsed if isinstance(parsed, dict) else None,
            at=time.monotonic(),
        )
        self.server.fake._record(record)
        return record

    def _send_json(
        self, code: int, obj: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_bytes(code, json.dumps(obj).encode(), "application/json", headers=headers)

    def _send_bytes(
        self,
        code: int,
        data: bytes,
        content_type: str,
        *,
        length: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _HTTPServer(ThreadingHTTPServer):
    def __init__(self, fake: FakeLLMServer) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name, which can stall on a sandbox's DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake every handler blocked on a socket so server_close() can join it."""
        with self.connections_lock:
            for conn in self.connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, OSError):  # a client hanging up is normal
            self.fake.errors.append(exc)


class FakeLLMServer:
    """A fake OpenAI + Anthropic endpoint on 127.0.0.1; see the module docstring.

    ``requests`` keeps every request; ``errors`` keeps exceptions raised inside the fake
    itself (bugs, never client hang-ups), which a test can assert is empty. ``clock``
    times the ``rate_limit`` window only; a test may replace it to step time by hand.
    """

    def __init__(
        self, *, api_key: str | None = None, model_ids: tuple[str, ...] = ("fake-model",)
    ) -> None:
        self.api_key = api_key
        self.model_ids = model_ids
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []
        self.text_for: Callable[[dict[str, Any]], str] = default_text
        self.clock: Callable[[], float] = time.monotonic
        self._lock = threading.Lock()
        self._script: deque[Fault] = deque()
        self._rate = 0.0
        self._rate_faults: list[Fault] = []
        self._rng = random.Random(0)
        self._limit: tuple[int, float] | None = None
        self._admitted: deque[float] = deque()
        self._ids = 0
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeLLMServer is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def openai_base(self) -> str:
        return self.url + "/v1"

    def start(self) -> FakeLLMServer:
        if self._httpd is None:
            self._stopping.clear()
            self._httpd = _HTTPServer(self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="fakellm",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def script(self, *faults: Fault) -> None:
        with self._lock:
            self._script.extend(faults)

    def fault_rate(self, rate: float, faults: list[Fault], seed: int = 0) -> None:
        with self._lock:
            self._rate, self._rate_faults, self._rng = rate, list(faults), random.Random(seed)

    def rate_limit(self, calls: int, period: float) -> None:
        with self._lock:
            self._limit = (calls, period)
            self._admitted.clear()

    def calls(self, path_suffix: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if r.method == "POST" and (path_suffix is None or r.path.endswith(path_suffix))
            )

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(record)

    def _admit(self) -> int | None:
        """None if the request fits the rate-limit window, else the seconds to wait."""
        with self._lock:
            if self._limit is None:
                return None
            calls, period = self._limit
            now = self.clock()
            while self._admitted and self._admitted[0] <= now - period:
                self._admitted.popleft()
            if len(self._admitted) >= calls:
                return max(1, math.ceil(self._admitted[0] + period - now))
            self._admitted.append(now)
            return None

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self._rate_faults and self._rng.random() < self._rate:
                return self._rng.choice(self._rate_faults)
            return None

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}{self._ids:06d}"
