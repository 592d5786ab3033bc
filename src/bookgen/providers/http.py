"""What the HTTP providers share: the client, keys, error mapping, SSE, debug logging.

The subclasses (``openai``, ``anthropic``) only build payloads and read answers.
Every httpx error is converted here, at the provider boundary, into the bookgen
error tree, and every message that leaves this module has the key scrubbed out.
"""

from __future__ import annotations

import json
import os
import sys
import time
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx
from pydantic import Field

from bookgen.errors import (
    AuthenticationError,
    BadRequestError,
    BrokenStreamError,
    ProviderConfigError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    UnparseableResponseError,
)
from bookgen.models import Completion, CompletionRequest, FinishReason, Usage
from bookgen.providers.base import Provider, ProviderOptions, keys_optional
from bookgen.tokens import estimate_tokens

CONNECT_TIMEOUT = 10.0
RETRY_AFTER_CAP = 120.0
# A key echoed back partially (e.g. "Incorrect API key provided: sk-abc...wxyz") is
# scrubbed too: any run of this many characters of the key.
REDACT_MIN_RUN = 6


class HTTPOptions(ProviderOptions):
    base_url: str | None = None
    timeout: float = Field(default=120.0, gt=0)
    stream: bool | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    # Ask the provider to cache the shared prompt prefix (default: where it is known to work).
    prompt_cache: bool | None = None


def redact(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` and any long enough piece of it replaced by ``***``."""
    if not secret or not text:
        return text
    text = text.replace(secret, "***")
    if len(secret) < REDACT_MIN_RUN * 2:
        return text
    for start in range(len(secret) - REDACT_MIN_RUN + 1):
        piece = secret[start : start + REDACT_MIN_RUN]
        if piece in text:
            text = text.replace(piece, "***")
    return text


def parse_retry_after(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, else ``Retry-After`` (seconds or an HTTP
    date); capped at 120 s; None when the server said nothing usable."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return min(max(float(raw_ms) / 1000, 0.0), RETRY_AFTER_CAP)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


@dataclass
class SSEEvent:
    event: str
    data: str


def iter_sse(lines: Iterator[str]) -> Iterator[SSEEvent]:
    """Server-sent events from the lines of a ``text/event-stream`` body."""
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield SSEEvent(event, "\n".join(data))
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if data:
        yield SSEEvent(event, "\n".join(data))


class HTTPProvider(Provider):
    """Base of the providers that speak HTTP. Subclasses set the class attributes below."""

    default_base_url: ClassVar[str]
    # Where check_access lists models (relative to the base URL).
    models_path: ClassVar[str] = "/models"
    # Environment variable that overrides the default base URL (OPENAI_BASE_URL).
    base_url_env: ClassVar[str | None] = None
    options_model = HTTPOptions

    def __init__(self, *, model: str | None = None, options: ProviderOptions | None = None) -> None:
        super().__init__(model=model, options=options)
        assert isinstance(self.options, HTTPOptions)
        self.settings: HTTPOptions = self.options
        self.base_url = self.resolve_base_url(self.settings.base_url)
        self._key = self._read_key()
        hooks: dict[str, list[Any]] = {}
        self.debug = os.environ.get("BOOKGEN_DEBUG_HTTP") == "1"
        if self.debug:
            hooks = {"request": [self._log_request], "response": [self._log_response]}
        self.client = httpx.Client(
            timeout=httpx.Timeout(self.settings.timeout, connect=CONNECT_TIMEOUT),
            headers=self.auth_headers(self._key),
            event_hooks=hooks,
        )

    # --- configuration -----------------------------------------------------------

    @classmethod
    def resolve_base_url(cls, override: str | None = None) -> str:
        from_env = os.environ.get(cls.base_url_env) if cls.base_url_env else None
        url = (override or from_env or cls.default_base_url).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ProviderConfigError(f"base URL {url!r} must start with http:// or https://")
        return url

    def _read_key(self) -> str | None:
        if not self.key_env:
            return None
        key = os.environ.get(self.key_env, "").strip()
        if not key and keys_optional():
            return None  # a dry run: nothing will be sent
        if not key:
            raise ProviderConfigError(
                f"provider {self.name!r} needs an API key: set {self.key_env}, "
                "or pass --provider sim to try bookgen without one"
            )
        if not key.isascii() or not key.isprintable() or any(ch.isspace() for ch in key):
            raise ProviderConfigError(
                f"{self.key_env} contains characters that cannot be sent in an HTTP header "
                "(spaces, line breaks or non-ASCII); check how it was copied"
            )
        return key

    def auth_headers(self, key: str | None) -> dict[str, str]:
        return {}

    @classmethod
    def endpoint(cls) -> str | None:
        try:
            return cls.resolve_base_url()
        except ProviderConfigError:
            return os.environ.get(cls.base_url_env or "") or cls.default_base_url

    @classmethod
    def readiness(cls) -> tuple[bool, str]:
        if cls.key_env and not os.environ.get(cls.key_env, "").strip():
            return False, f"set {cls.key_env}"
        return True, "ready"

    # --- the call ----------------------------------------------------------------

    def complete(self, request: CompletionRequest) -> Completion:
        """``send`` with every error message scrubbed of the key, whatever built it
        (an error event inside a stream, an answer that is not JSON, the server
        echoing the key back)."""
        try:
            return self.send(request)
        except ProviderError as exc:
            exc.message = redact(exc.message, self._key)
            exc.args = (exc.message,)
            raise

    @abstractmethod
    def send(self, request: CompletionRequest) -> Completion:
        """Make the call in the subclass's protocol."""

    def check_access(self) -> None:
        """Before any chapter starts: a cheap authenticated request (the model list),
        so a refused key stops the run before a single chapter is paid for. Only a
        refusal counts; a server without the endpoint or a network hiccup is left
        for the real calls to meet."""
        if not self.key_env:
            return
        try:
            response = self.client.get(f"{self.base_url}{self.models_path}")
        except httpx.HTTPError:
            return
        if response.status_code in (401, 403):
            response.read()
            self.raise_for_status(response)

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST JSON and return the decoded JSON answer, or raise a ProviderError."""
        url = f"{self.base_url}{path}"
        try:
            response = self.client.post(url, json=payload)
            if self.debug:
                _debug(f"< body {response.text[:2000]}", self._key)
            self.raise_for_status(response)
            try:
                data = response.json()
            except ValueError as exc:
                raise UnparseableResponseError(
                    f"{self.name}: answer is not JSON: {response.text[:200]!r}"
                ) from exc
        except httpx.HTTPError as exc:
            raise self.convert(exc, streaming=False) from exc
        if not isinstance(data, dict):
            raise UnparseableResponseError(f"{self.name}: answer is not a JSON object")
        return data

    def stream(self, path: str, payload: dict[str, Any]) -> Iterator[SSEEvent]:
        """POST and yield the server-sent events of the answer, or raise a ProviderError."""
        url = f"{self.base_url}{path}"
        answering = False
        try:
            with self.client.stream("POST", url, json=payload) as response:
                if response.status_code >= 400:
                    response.read()
                    if self.debug:
                        _debug(f"< body {response.text[:2000]}", self._key)
                self.raise_for_status(response)
                answering = True
                yield from iter_sse(self._lines(response))
        except httpx.HTTPError as exc:
            # A drop before the answer began is a connection error; after, a broken stream.
            raise self.convert(exc, streaming=answering) from exc

    def _lines(self, response: httpx.Response) -> Iterator[str]:
        for line in response.iter_lines():
            if self.debug and line:
                _debug(f"< {line}", self._key)
            yield line

    def load_json(self, data: str) -> dict[str, Any]:
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise UnparseableResponseError(
                f"{self.name}: bad JSON in stream: {data[:200]!r}"
            ) from exc
        if not isinstance(value, dict):
            raise UnparseableResponseError(f"{self.name}: stream event is not a JSON object")
        return value

    def completion(
        self,
        request: CompletionRequest,
        text: str,
        finish: FinishReason,
        usage: Usage | None,
        began: float,
    ) -> Completion:
        """The Completion of an answer; usage the server did not report is estimated."""
        if usage is None:
            usage = Usage(
                prompt_tokens=estimate_tokens(request.prompt_text),
                completion_tokens=estimate_tokens(text),
                estimated=True,
            )
        return Completion(
            text=text,
            finish_reason=finish,
            usage=usage,
            latency=time.monotonic() - began,
            provider=self.name,
            model=self.model,
        )

    # --- errors ------------------------------------------------------------------

    def raise_for_status(self, response: httpx.Response) -> None:
        code = response.status_code
        if code < 400:
            return
        detail = redact(self.error_message(response), self._key)
        what = f"HTTP {code}: {detail}" if detail else f"HTTP {code}"
        retry_after = parse_retry_after(response.headers)
        if code in (401, 403):
            fix = (
                f"set {self.key_env} to a valid key"
                if self.key_env
                else "check the server's access"
            )
            raise AuthenticationError(f"{self.name} refused the credentials ({what}); {fix}")
        if code == 429 and self.out_of_quota(response):
            raise QuotaExceededError(
                f"{self.name} says the account is out of quota or credit ({what}); "
                "check billing, or use another --provider"
            )
        if code == 429:
            raise RateLimitError(f"{self.name} rate limit ({what})", retry_after=retry_after)
        if code in (408, 409) or code >= 500:
            raise ServerError(f"{self.name} server error ({what})", retry_after=retry_after)
        raise BadRequestError(f"{self.name} rejected the request ({what})")

    @staticmethod
    def out_of_quota(response: httpx.Response) -> bool:
        """A 429 that waiting cannot fix: the account has no quota or credit left."""
        try:
            body = response.json()
        except ValueError:
            return False
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return False
        kinds = f"{error.get('code', '')} {error.get('type', '')}".lower()
        return any(word in kinds for word in QUOTA_CODES)

    @staticmethod
    def error_message(response: httpx.Response) -> str:
        """The human part of an error body in either protocol, else its first bytes."""
        try:
            body = response.json()
        except ValueError:
            return response.text[:200].strip()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if (
            isinstance(body, dict) and "message" in body
        ):  # Mistral: {"object": "error", "message": ...}
            message = body["message"]
            return message if isinstance(message, str) else json.dumps(message)
        return json.dumps(body)

    def convert(self, exc: httpx.HTTPError, *, streaming: bool) -> ProviderError:
        detail = redact(str(exc) or type(exc).__name__, self._key)
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeoutError(f"{self.name} timed out ({detail}) at {self.base_url}")
        if isinstance(exc, httpx.ConnectError):
            return ProviderConnectionError(
                f"cannot connect to {self.name} at {self.base_url} ({detail})"
            )
        if streaming and isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
            return BrokenStreamError(f"{self.name} stream broke ({detail})")
        return ProviderConnectionError(f"{self.name} connection failed ({detail})")

    # --- lifecycle and debugging ---------------------------------------------------

    def interrupt(self) -> None:
        super().interrupt()
        # Closing the pool stops new requests at once; a read already blocked on the
        # socket is not woken by it, so the coordinator gives calls in flight a grace
        # period (orchestrator.INTERRUPT_GRACE_SECONDS) and then leaves without them.
        self.client.close()

    def close(self) -> None:
        self.client.close()

    def _log_request(self, request: httpx.Request) -> None:
        headers = {
            k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in request.headers.items()
        }
        body = request.content.decode(errors="replace")[:2000]
        _debug(f"> {request.method} {request.url}\n> headers {headers}\n> body {body}", self._key)

    def _log_response(self, response: httpx.Response) -> None:
        _debug(
            f"< {response.status_code} {response.request.url}\n< headers {dict(response.headers)}",
            self._key,
        )


SECRET_HEADERS = {"authorization", "x-api-key", "api-key"}
# Error codes of 429s that mean "no quota or credit left" rather than "slow down".
QUOTA_CODES = ("insufficient_quota", "credit_balance", "spend_limit", "billing")


def _debug(message: str, key: str | None) -> None:
    print(redact(message, key), file=sys.stderr, flush=True)
