"""The built-in providers by name: the same list as the entry points in pyproject.toml,
for running from a source tree that was never installed (where entry points are absent)."""

from __future__ import annotations

from bookgen.providers.anthropic import AnthropicProvider
from bookgen.providers.base import Provider
from bookgen.providers.local import LocalProvider
from bookgen.providers.openai import (
    DeepSeekProvider,
    GroqProvider,
    LlamaCppProvider,
    LMStudioProvider,
    MistralProvider,
    OllamaProvider,
    OpenAIProvider,
    OpenRouterProvider,
    TogetherProvider,
    VLLMProvider,
)
from bookgen.providers.sim import SimProvider

BUILTIN: dict[str, type[Provider]] = {
    cls.name: cls
    for cls in (
        SimProvider,
        OpenAIProvider,
        GroqProvider,
        TogetherProvider,
        OpenRouterProvider,
        DeepSeekProvider,
        MistralProvider,
        OllamaProvider,
        VLLMProvider,
        LlamaCppProvider,
        LMStudioProvider,
        AnthropicProvider,
        LocalProvider,
    )
}
