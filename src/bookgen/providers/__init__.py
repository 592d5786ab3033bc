"""Providers: one small class per LLM backend, found by name through entry points."""

from __future__ import annotations

from bookgen.providers.base import (
    Provider,
    ProviderInfo,
    available_providers,
    create_provider,
    parse_provider_options,
)

__all__ = [
    "Provider",
    "ProviderInfo",
    "available_providers",
    "create_provider",
    "parse_provider_options",
]
