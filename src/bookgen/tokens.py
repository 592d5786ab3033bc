"""Token estimates for when a provider reports none, and for reserving rate-limit room.

About four characters a token holds for English prose with the common BPE
tokenizers; it is an approximation and is labelled so wherever it is shown.
"""

from __future__ import annotations

import math

from bookgen.models import CompletionRequest

CHARS_PER_TOKEN = 4
TOKENS_PER_WORD = 4 / 3
# Room above the target so a model that runs a little long is not cut off.
MAX_TOKENS_HEADROOM = 1.5


def estimate_tokens(text: str) -> int:
    """About four ASCII characters a token; every other character is counted as a
    token of its own (CJK and the like take a token or more each), so the estimate
    errs high where a budget depends on it."""
    narrow = len(text.encode("ascii", "ignore"))  # in C: a per-character loop cost ~1 ms
    wide = len(text) - narrow
    return max(1, (narrow + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN + wide)


def reserved_tokens(request: CompletionRequest) -> int:
    """What a call may use at most: its prompt (estimated) plus its ``max_tokens``."""
    return estimate_tokens(request.prompt_text) + request.max_tokens


def max_tokens_for(words: int) -> int:
    """The ``max_tokens`` of a request for about ``words`` words of answer."""
    return math.ceil(words * TOKENS_PER_WORD * MAX_TOKENS_HEADROOM) + 64
