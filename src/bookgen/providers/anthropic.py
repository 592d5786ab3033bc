"""``anthropic``: the Anthropic Messages API.

POST ``{base_url}/v1/messages`` with ``x-api-key`` and ``anthropic-version``; the
system prompt goes in the top-level ``system`` field. Answers stream (SSE events
``message_start`` ... ``message_stop``) when ``max_tokens`` is large, since long
non-streaming requests risk the server's own timeout; ``-O stream=true|false``
decides instead.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from bookgen.errors import BrokenStreamError, ServerError, UnparseableResponseError
from bookgen.models import Completion, CompletionRequest, FinishReason, Usage
from bookgen.providers.http import HTTPProvider

API_VERSION = "2023-06-01"
# From this many max_tokens on, ask for a stream.
STREAM_FROM_MAX_TOKENS = 4096
STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}


class AnthropicProvider(HTTPProvider):
    """Anthropic Messages API over httpx.

    >>> provider = AnthropicProvider(model="claude-haiku-4-5")  # doctest: +SKIP
    """

    name = "anthropic"
    description = "Anthropic Messages API (api.anthropic.com)"
    default_model = "claude-haiku-4-5"
    default_base_url = "https://api.anthropic.com"
    key_env: ClassVar[str | None] = "ANTHROPIC_API_KEY"
    base_url_env = "ANTHROPIC_BASE_URL"
    models_path = "/v1/models"

    def auth_headers(self, key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if key:
            headers["x-api-key"] = key
        return headers

    def send(self, request: CompletionRequest) -> Completion:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": [m.model_dump() for m in request.messages if m.role != "system"],
        }
        if system:
            # The system prompt is the shared prefix (instructions, book, outline): marked
            # for caching, so every chapter after the first reads it at the cached rate.
            block: dict[str, Any] = {"type": "text", "text": system}
            if self.settings.prompt_cache is not False:
                block["cache_control"] = {"type": "ephemeral"}
            payload["system"] = [block]
        temperature = (
            self.settings.temperature
            if self.settings.temperature is not None
            else request.temperature
        )
        if temperature is not None:
            payload["temperature"] = min(temperature, 1.0)
        if self.settings.top_p is not None:
            payload["top_p"] = self.settings.top_p
        streaming = self.settings.stream
        if streaming is None:
            streaming = request.max_tokens >= STREAM_FROM_MAX_TOKENS
        began = time.monotonic()
        if streaming:
            payload["stream"] = True
            text, finish, usage = self._read_stream(payload)
        else:
            text, finish, usage = self._read_json(self.post("/v1/messages", payload))
        return self.completion(request, text, finish, usage, began)

    def _read_json(self, data: dict[str, Any]) -> tuple[str, FinishReason, Usage | None]:
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise UnparseableResponseError(f"{self.name}: answer has no content blocks")
        text = "".join(
            block.get("text", "")
            for block in blocks
            if isinstance(block, dict) and block.get("type") == "text"
        )
        reason = STOP_REASONS.get(str(data.get("stop_reason")), "stop")
        return text, reason, _usage(data.get("usage"))

    def _read_stream(self, payload: dict[str, Any]) -> tuple[str, FinishReason, Usage | None]:
        parts: list[str] = []
        reason: FinishReason = "stop"
        usage: dict[str, Any] = {}
        for event in self.stream("/v1/messages", payload):
            data = self.load_json(event.data)
            kind = data.get("type", event.event)
            if kind == "message_start":
                usage.update((data.get("message") or {}).get("usage") or {})
            elif kind == "content_block_delta":
                delta = data.get("delta") or {}
                if delta.get("type") == "text_delta":
                    parts.append(str(delta.get("text", "")))
            elif kind == "message_delta":
                stop = (data.get("delta") or {}).get("stop_reason")
                if stop:
                    reason = STOP_REASONS.get(str(stop), "stop")
                usage.update(data.get("usage") or {})
            elif kind == "message_stop":
                return "".join(parts), reason, _usage(usage or None)
            elif kind == "error":
                error = data.get("error") or {}
                kind, message = error.get("type", "error"), error.get("message", "")
                raise ServerError(f"{self.name}: {kind} in stream: {message}")
        raise BrokenStreamError(f"{self.name}: stream ended without message_stop")


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict) or "output_tokens" not in raw:
        return None
    cached = int(raw.get("cache_read_input_tokens") or 0)
    return Usage(
        # input_tokens counts only the uncached part; the prompt is all three.
        prompt_tokens=int(raw.get("input_tokens") or 0)
        + cached
        + int(raw.get("cache_creation_input_tokens") or 0),
        completion_tokens=int(raw.get("output_tokens") or 0),
        cached_prompt_tokens=cached,
    )
