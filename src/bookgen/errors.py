"""The one error tree of bookgen.

Every error bookgen raises on purpose is a ``BookgenError``. The CLI is the one
place that turns them into ``error: <what> (<where>)`` lines and exit codes::

    BookgenError                      exit 1 unless a subclass says otherwise
    ├── InputError                    exit 2: the user can fix it and run again
    │   ├── OutlineError              a bad outline file (carries file and line)
    │   ├── OptionError               a bad command-line or API option
    │   ├── BookNameError             a --book-name / --output-dir that is unsafe or unusable
    │   ├── BookNotFoundError         `status` on a book folder that does not exist
    │   ├── BookLockedError           another process is generating the same book
    │   ├── ManifestError             manifest.json is unreadable or not a bookgen manifest
    │   └── ProviderConfigError       unknown provider, bad -O option, missing key or server
    └── ProviderError                 a provider call failed; fails one chapter, not the run
        ├── FatalProviderError        stops the whole run at once (exit 2)
        │   ├── AuthenticationError   401/403: the key is refused
        │   └── QuotaExceededError    429 insufficient_quota and the like: no credit left
        ├── BadRequestError           400/404/422 and other 4xx: never retried
        └── TransientProviderError    worth retrying; carries the server's Retry-After
            ├── RateLimitError        429: also pauses every worker's calls to that provider
            ├── ServerError           5xx, 529 (overloaded), 408, 409
            ├── ProviderTimeoutError  connect or read timeout
            ├── ProviderConnectionError  refused, reset, dropped before an answer
            ├── BrokenStreamError     a stream that ended or broke before its end marker
            └── UnparseableResponseError  an answer that is not the protocol's JSON

Lower-level errors (OSError, json.JSONDecodeError, pydantic.ValidationError) are
converted at the boundary where they happen, with ``raise ... from exc``.
"""

from __future__ import annotations

from pathlib import Path


class BookgenError(Exception):
    """Base of every error bookgen raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, where: str | Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = str(where) if where is not None else None

    def __str__(self) -> str:
        if self.where:
            return f"{self.message} ({self.where})"
        return self.message


class InputError(BookgenError):
    """Something the user gave us is wrong; nothing was written."""

    exit_code = 2


class OutlineError(InputError):
    """An outline file that cannot be turned into a book spec."""

    def __init__(self, message: str, *, path: str | Path, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(message, where=where)
        self.path = str(path)
        self.line = line


class OptionError(InputError):
    """An option value out of range or inconsistent with the outline."""


class BookNameError(InputError):
    """A book name or output folder that is unsafe or unusable."""


class BookNotFoundError(InputError):
    """No book folder (or no manifest in it) where one was expected."""


class BookLockedError(InputError):
    """Another live process holds the book folder's lock."""


class ManifestError(InputError):
    """manifest.json exists but cannot be read as a bookgen manifest."""


class ProviderConfigError(InputError):
    """A provider that cannot be created: unknown name, bad option, missing key."""


class ProviderError(BookgenError):
    """A provider call failed. The chapter that made it fails; the run goes on."""


class FatalProviderError(ProviderError):
    """Every other call would fail the same way: the run stops at once."""

    exit_code = 2


class AuthenticationError(FatalProviderError):
    """The provider refused the key."""


class QuotaExceededError(FatalProviderError):
    """The account has no quota or credit left; waiting will not help."""


class BadRequestError(ProviderError):
    """The provider rejected this request as malformed; sending it again cannot help."""


class TransientProviderError(ProviderError):
    """A provider failure that may succeed if tried again later.

    ``retry_after`` is the wait in seconds the server asked for, if it said one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitError(TransientProviderError):
    """HTTP 429."""


class ServerError(TransientProviderError):
    """HTTP 5xx, 529 (overloaded), 408 (request timeout) or 409 (conflict)."""


class ProviderTimeoutError(TransientProviderError):
    """No connection, or no bytes, within the timeout."""


class ProviderConnectionError(TransientProviderError):
    """The connection was refused, reset or dropped before an answer came."""


class BrokenStreamError(TransientProviderError):
    """A streamed answer that stopped before its end marker; the whole call is redone."""


class UnparseableResponseError(TransientProviderError):
    """An answer that is not what the protocol says it should be."""


class JobCancelled(Exception):
    """Raised inside a chapter job when the run is being interrupted.

    Not a BookgenError: it is control flow, never shown to the user as an error.
    """
