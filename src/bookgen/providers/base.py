"""The provider interface and the registry.

A provider is a class with a few class attributes and one method::

    class EchoProvider(Provider):
        name = "echo"
        description = "answers with the prompt"
        default_model = "echo-1"

        def complete(self, request: CompletionRequest) -> Completion:
            return Completion(text=request.prompt_text)

registered in a package's ``pyproject.toml``::

    [project.entry-points."bookgen.providers"]
    echo = "my_package:EchoProvider"

Built-in providers register through the same group. ``complete`` is synchronous:
it runs inside a chapter job's worker thread, after the rate limiter let it start.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from bookgen.errors import ProviderConfigError
from bookgen.models import Completion, CompletionRequest

ENTRY_POINT_GROUP = "bookgen.providers"

# Set while providers are built for a plan only (--dry-run): a missing API key is then
# not an error, since no call will be made.
_PLAN_ONLY: ContextVar[bool] = ContextVar("bookgen_plan_only", default=False)


@contextmanager
def plan_only() -> Iterator[None]:
    """Build providers that will never be called (a dry run): keys may be missing."""
    token = _PLAN_ONLY.set(True)
    try:
        yield
    finally:
        _PLAN_ONLY.reset(token)


def keys_optional() -> bool:
    return _PLAN_ONLY.get()


class ProviderOptions(BaseModel):
    """Base for a provider's ``-O KEY=VALUE`` options; unknown keys and inf/nan are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Provider(ABC):
    """Base class of every provider. Subclasses set the class attributes and ``complete``."""

    name: ClassVar[str]
    description: ClassVar[str]
    default_model: ClassVar[str]
    # Environment variable holding the API key, or None for keyless providers.
    key_env: ClassVar[str | None] = None
    # True for providers whose text is not written by a model (shown to the user).
    simulated: ClassVar[bool] = False
    options_model: ClassVar[type[ProviderOptions]] = ProviderOptions

    def __init__(self, *, model: str | None = None, options: ProviderOptions | None = None) -> None:
        self.model = model or self.default_model
        self.options = options if options is not None else self.options_model()
        # Set when the run is interrupted; long waits inside ``complete`` should watch it.
        self.interrupted = threading.Event()

    @abstractmethod
    def complete(self, request: CompletionRequest) -> Completion:
        """Answer one request. Raise ProviderError (or a subclass) on failure."""

    def check_access(self) -> None:  # noqa: B027 - an optional hook
        """Raise FatalProviderError now if no call could succeed (a refused key)."""

    def plan_workers(self, workers: int) -> None:  # noqa: B027 - an optional hook
        """Told once before the chapters start: up to ``workers`` calls may run at once
        (a provider that computes locally sizes its threads by it)."""

    def context_window(self) -> int | None:
        """The most tokens a prompt and its answer may hold together, when the provider
        has a small fixed window (prompts are then shortened to fit); None otherwise."""
        return None

    def interrupt(self) -> None:
        """Ask calls in flight to give up soon (Ctrl-C). Subclasses may do more."""
        self.interrupted.set()

    def close(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Release connections and models at the end of a run."""

    @classmethod
    def readiness(cls) -> tuple[bool, str]:
        """Whether the provider can run here, and what it needs if not."""
        return True, "ready"

    @classmethod
    def endpoint(cls) -> str | None:
        """The base URL calls go to, for providers that have one."""
        return None


@dataclass(frozen=True)
class ProviderInfo:
    """What `bookgen providers` shows: never a key, only whether it is set."""

    name: str
    description: str
    needs: str
    ready: bool
    status: str
    simulated: bool
    base_url: str | None
    key_env: str | None
    key_set: bool | None


def _load_entry_points() -> tuple[dict[str, type[Provider]], dict[str, str]]:
    """Registered providers, and the ones that failed to load with the reason."""
    found: dict[str, type[Provider]] = {}
    broken: dict[str, str] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = entry.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break bookgen
            broken[entry.name] = f"{type(exc).__name__}: {exc}"
            continue
        if isinstance(cls, type) and issubclass(cls, Provider):
            found[entry.name] = cls
        else:
            broken[entry.name] = f"{entry.value} is not a bookgen Provider class"
    if "sim" not in found:
        # Running from a source tree that was never installed: entry points are
        # absent, but the built-ins are importable.
        from bookgen.providers.builtin import BUILTIN

        for name, builtin in BUILTIN.items():
            found.setdefault(name, builtin)
    return dict(sorted(found.items())), broken


def available_providers() -> dict[str, type[Provider]]:
    """Every provider registered in the ``bookgen.providers`` entry-point group."""
    return _load_entry_points()[0]


def provider_class(name: str) -> type[Provider]:
    providers, broken = _load_entry_points()
    if name in broken:
        raise ProviderConfigError(
            f"provider {name!r} is installed but failed to load: {broken[name]}"
        )
    if name not in providers:
        known = ", ".join(providers)
        raise ProviderConfigError(f"unknown provider {name!r}; known providers: {known}")
    return providers[name]


def parse_provider_options(cls: type[Provider], pairs: list[str]) -> ProviderOptions:
    """Turn ``["latency=0.2", "seed=7"]`` into the provider's validated options."""
    raw: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ProviderConfigError(f"-O expects KEY=VALUE, got {pair!r}")
        raw[key.strip()] = value.strip()
    try:
        return cls.options_model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        known = ", ".join(cls.options_model.model_fields) or "none"
        if first["type"] == "extra_forbidden":
            message = f"-O {key}: unknown option for provider {cls.name!r}; known: {known}"
        else:
            message = f"-O {key}: {first['msg']}"
        raise ProviderConfigError(message) from exc


def create_provider(
    name: str, *, model: str | None = None, options: list[str] | None = None
) -> Provider:
    cls = provider_class(name)
    parsed = parse_provider_options(cls, options or [])
    # The constructor raises ProviderConfigError for what it cannot work without (a key).
    return cls(model=model, options=parsed)


def provider_infos() -> list[ProviderInfo]:
    infos = []
    for name, cls in available_providers().items():
        ready, status = cls.readiness()
        base_url = cls.endpoint()
        if cls.key_env:
            needs = f"API key in ${cls.key_env}"
        elif base_url:
            needs = "a running server"
        else:
            needs = "nothing"
        infos.append(
            ProviderInfo(
                name=name,
                description=cls.description,
                needs=needs,
                ready=ready,
                status=status,
                simulated=cls.simulated,
                base_url=base_url,
                key_env=cls.key_env,
                key_set=bool(os.environ.get(cls.key_env, "").strip()) if cls.key_env else None,
            )
        )
    return infos
