"""bookgen: turn a book outline into a finished book with LLMs, chapters in parallel.

>>> import asyncio
>>> from bookgen import AsyncBookOrchestrator
>>> orchestrator = AsyncBookOrchestrator(source_file="outline.md", max_concurrent=5)
>>> results = asyncio.run(orchestrator.generate_chapters_parallel([1, 2, 3]))
"""

from __future__ import annotations

from bookgen.errors import (
    BookgenError,
    BookLockedError,
    BookNameError,
    BookNotFoundError,
    InputError,
    ManifestError,
    OptionError,
    OutlineError,
    ProviderConfigError,
    ProviderError,
    TransientProviderError,
)
from bookgen.models import (
    BookSpec,
    ChapterResult,
    ChapterSpec,
    ChapterState,
    Completion,
    CompletionRequest,
    Manifest,
    Message,
    RunSummary,
    Usage,
)
from bookgen.orchestrator import AsyncBookOrchestrator
from bookgen.outline import load_outline
from bookgen.providers.base import Provider

__version__ = "0.1.0"

__all__ = [
    "AsyncBookOrchestrator",
    "BookLockedError",
    "BookNameError",
    "BookNotFoundError",
    "BookSpec",
    "BookgenError",
    "ChapterResult",
    "ChapterSpec",
    "ChapterState",
    "Completion",
    "CompletionRequest",
    "InputError",
    "Manifest",
    "ManifestError",
    "Message",
    "OptionError",
    "OutlineError",
    "Provider",
    "ProviderConfigError",
    "ProviderError",
    "RunSummary",
    "TransientProviderError",
    "Usage",
    "load_outline",
]
