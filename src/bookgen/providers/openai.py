"""``openai``: the OpenAI chat-completions protocol, and the presets that speak it.

POST ``{base_url}/chat/completions`` with ``Authorization: Bearer <key>``. Streams by
default (SSE ``data:`` lines ending in ``[DONE]``, usage asked for with
``stream_options.include_usage``); ``-O stream=false`` asks for one JSON answer. A
server that reports no usage still works: usage is estimated and marked so.

Groq, Together, OpenRouter, DeepSeek and Mistral, and the local servers Ollama,
vLLM, llama.cpp and LM Studio, are this provider with another default base URL and
key variable (``--base-url`` overrides any of them).
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import httpx

from bookgen.errors import BrokenStreamError, UnparseableResponseError
from bookgen.models import Completion, CompletionRequest, FinishReason, Usage
from bookgen.providers.http import HTTPProvider

OPENAI_API = "https://api.openai.com/v1"

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "eos": "stop",
    "end_turn": "stop",
}


class OpenAIProvider(HTTPProvider):
    """OpenAI chat completions over httpx.

    >>> provider = OpenAIProvider(model="gpt-4o-mini")   # doctest: +SKIP (needs OPENAI_API_KEY)
    >>> provider.complete(request).text                  # doctest: +SKIP
    """

    name = "openai"
    description = "OpenAI chat completions (api.openai.com)"
    default_model = "gpt-4o-mini"
    default_base_url = OPENAI_API
    key_env: ClassVar[str | None] = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    # Ask for usage in the stream's last chunk. Some servers refuse the field
    # (Mistral answers 422 to unknown fields) and send usage anyway.
    stream_usage_option: ClassVar[bool] = True

    def auth_headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}

    def send(self, request: CompletionRequest) -> Completion:
        streaming = self.settings.stream is not False
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [message.model_dump() for message in request.messages],
            self.max_tokens_field(): request.max_tokens,
        }
        if self.settings.prompt_cache or (
            self.settings.prompt_cache is None
            and self.max_tokens_field() == "max_completion_tokens"
        ):
            # Requests of one book share their prefix; one key per book routes them together.
            payload["prompt_cache_key"] = f"bookgen:{request.metadata.get('book', '')}"
        for key in ("temperature", "top_p"):
            value = getattr(self.settings, key)
            if value is None and key == "temperature":
                value = request.temperature
            if value is not None:
                payload[key] = value
        began = time.monotonic()
        if streaming:
            payload["stream"] = True
            if self.stream_usage_option:
                payload["stream_options"] = {"include_usage": True}
            text, finish, usage = self._read_stream(payload)
        else:
            text, finish, usage = self._read_json(self.post("/chat/completions", payload))
        return self.completion(request, text, finish, usage, began)

    def max_tokens_field(self) -> str:
        """OpenAI's own API has replaced ``max_tokens`` (its newer models refuse it) with
        ``max_completion_tokens``; compatible servers still expect ``max_tokens``."""
        if self.base_url == OPENAI_API and self.name == "openai":
            return "max_completion_tokens"
        return "max_tokens"

    def _read_json(self, data: dict[str, Any]) -> tuple[str, FinishReason, Usage | None]:
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            reason = choice.get("finish_reason") or "stop"
        except (KeyError, IndexError, TypeError) as exc:
            raise UnparseableResponseError(
                f"{self.name}: answer has no choices[0].message"
            ) from exc
        if not isinstance(text, str):
            raise UnparseableResponseError(f"{self.name}: message content is not text")
        return text, FINISH_REASONS.get(str(reason), "stop"), _usage(data.get("usage"))

    def _read_stream(self, payload: dict[str, Any]) -> tuple[str, FinishReason, Usage | None]:
        parts: list[str] = []
        reason = "stop"
        usage: Usage | None = None
        for event in self.stream("/chat/completions", payload):
            if event.data.strip() == "[DONE]":
                return "".join(parts), FINISH_REASONS.get(reason, "stop"), usage
            chunk = self.load_json(event.data)
            if "error" in chunk:
                raise BrokenStreamError(f"{self.name}: error in stream: {chunk['error']}")
            usage = _usage(chunk.get("usage")) or usage
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if isinstance(delta.get("content"), str):
                    parts.append(delta["content"])
                if choice.get("finish_reason"):
                    reason = str(choice["finish_reason"])
        raise BrokenStreamError(f"{self.name}: stream ended without [DONE]")


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("prompt_tokens") or 0),
        completion_tokens=int(raw.get("completion_tokens") or 0),
        cached_prompt_tokens=int(details.get("cached_tokens") or 0)
        if isinstance(details, dict)
        else 0,
    )


class LocalServerProvider(OpenAIProvider):
    """An OpenAI-compatible server on this machine or network: no key; without
    ``--model`` it asks the server's ``/models`` and uses the first model listed."""

    key_env: ClassVar[str | None] = None
    default_model = ""

    def __init__(self, *, model: str | None = None, options: Any = None) -> None:
        super().__init__(model=model, options=options)
        self._model_lock = threading.Lock()

    def send(self, request: CompletionRequest) -> Completion:
        if not self.model:
            with self._model_lock:
                if not self.model:
                    self.model = self._first_model()
        return super().send(request)

    def _first_model(self) -> str:
        try:
            response = self.client.get(f"{self.base_url}/models")
            self.raise_for_status(response)
            models = response.json().get("data") or []
            return str(models[0]["id"])
        except httpx.HTTPError as exc:
            raise self.convert(exc, streaming=False) from exc
        except (ValueError, LookupError, TypeError, AttributeError) as exc:
            raise UnparseableResponseError(
                f"{self.name} at {self.base_url} lists no model; pass --model NAME"
            ) from exc

    @classmethod
    def readiness(cls) -> tuple[bool, str]:
        url = cls.resolve_base_url()
        try:
            httpx.get(f"{url}/models", timeout=0.5)
        except httpx.HTTPError:
            return False, "no server answering"
        return True, "server answering"


def preset(
    name: str,
    *,
    description: str,
    base_url: str,
    key_env: str | None = None,
    default_model: str = "",
    base: type[OpenAIProvider] = OpenAIProvider,
    stream_usage_option: bool = True,
) -> type[OpenAIProvider]:
    """An OpenAI-compatible provider with its own default base URL and key variable."""
    return type(
        f"{name.capitalize()}Provider",
        (base,),
        {
            "name": name,
            "description": description,
            "default_base_url": base_url,
            "key_env": key_env if key_env is not None else base.key_env,
            "base_url_env": None,
            "default_model": default_model,
            "stream_usage_option": stream_usage_option,
            "__module__": __name__,
        },
    )


# Hosted services: each its documented OpenAI-compatible base URL and <NAME>_API_KEY.
GroqProvider = preset(
    "groq",
    description="Groq (OpenAI-compatible)",
    base_url="https://api.groq.com/openai/v1",
    key_env="GROQ_API_KEY",
    default_model="llama-3.3-70b-versatile",
)
TogetherProvider = preset(
    "together",
    description="Together AI (OpenAI-compatible)",
    base_url="https://api.together.xyz/v1",
    key_env="TOGETHER_API_KEY",
    default_model="meta-llama/Llama-3.3-70B-Instruct-Turbo",
)
OpenRouterProvider = preset(
    "openrouter",
    description="OpenRouter (OpenAI-compatible)",
    base_url="https://openrouter.ai/api/v1",
    key_env="OPENROUTER_API_KEY",
    default_model="openai/gpt-4o-mini",
)
DeepSeekProvider = preset(
    "deepseek",
    description="DeepSeek (OpenAI-compatible)",
    base_url="https://api.deepseek.com/v1",
    key_env="DEEPSEEK_API_KEY",
    default_model="deepseek-chat",
)
MistralProvider = preset(
    "mistral",
    description="Mistral AI (OpenAI-compatible)",
    base_url="https://api.mistral.ai/v1",
    key_env="MISTRAL_API_KEY",
    default_model="mistral-small-latest",
    # Mistral refuses unknown fields (422) and puts usage in its last chunk anyway.
    stream_usage_option=False,
)

# Servers people run themselves: keyless, model taken from the server unless --model.
OllamaProvider = preset(
    "ollama",
    description="Ollama's OpenAI-compatible server",
    base_url="http://localhost:11434/v1",
    base=LocalServerProvider,
)
VLLMProvider = preset(
    "vllm",
    description="vLLM's OpenAI-compatible server",
    base_url="http://localhost:8000/v1",
    base=LocalServerProvider,
)
LlamaCppProvider = preset(
    "llamacpp",
    description="llama.cpp's llama-server",
    base_url="http://localhost:8080/v1",
    base=LocalServerProvider,
)
LMStudioProvider = preset(
    "lmstudio",
    description="LM Studio's local server",
    base_url="http://localhost:1234/v1",
    base=LocalServerProvider,
)
