"""Prices, costs and the budget.

Prices are a pinned table (``prices.json``, USD per million input, cached-input and
output tokens, with the date they were checked) for the default models of the hosted
presets; ``--price-input``/``--price-output`` override it. A model with no known price
has an unknown cost, shown as unknown and never as 0. Simulated and local providers
(keyless servers on the user's own machine) cost 0.

The budget (``--max-cost``) counts the whole book: what earlier runs spent plus this
run. A call starts only if the spend so far, plus every call in flight at its worst
case, plus this call's worst case (its prompt estimate at the input price and its
``max_tokens`` at the output price) stays within it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from bookgen.errors import JobCancelled, OptionError
from bookgen.models import Usage


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    cached_input: float
    output: float

    def cost(self, usage: Usage) -> float:
        cached = min(usage.cached_prompt_tokens, usage.prompt_tokens)
        fresh = usage.prompt_tokens - cached
        return (
            fresh * self.input + cached * self.cached_input + usage.completion_tokens * self.output
        ) / 1e6

    def worst_case(self, prompt_tokens: int, max_tokens: int) -> float:
        return (prompt_tokens * self.input + max_tokens * self.output) / 1e6


FREE = Price(0.0, 0.0, 0.0)


@cache
def price_table() -> dict[str, Any]:
    text = resources.files("bookgen").joinpath("prices.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def find_price(
    provider: str,
    model: str,
    *,
    free: bool,
    price_input: float | None = None,
    price_output: float | None = None,
) -> Price | None:
    """The price of ``provider:model``: free, overridden, from the table, or None (unknown)."""
    if free:
        return FREE
    known = price_table()["prices"].get(f"{provider}:{model}")
    table = Price(**known) if known else None
    if price_input is None and price_output is None:
        return table
    if table is None and (price_input is None or price_output is None):
        raise OptionError(
            f"no price is known for {provider}:{model}: pass both --price-input and --price-output"
        )
    input_price = price_input if price_input is not None else table.input  # type: ignore[union-attr]
    output_price = price_output if price_output is not None else table.output  # type: ignore[union-attr]
    # An overridden input price applies to cached input too unless the table knows better.
    cached = table.cached_input if table is not None and price_input is None else input_price
    return Price(input_price, cached, output_price)


class Pricing:
    """Prices for every provider:model of a run (picklable: worker processes use it).

    ``free`` names providers that cost nothing whatever the model (simulated, and
    keyless local servers, whose model may only be known once the server answers).
    """

    def __init__(
        self, prices: dict[str, Price | None], *, free: frozenset[str] = frozenset()
    ) -> None:
        self.prices = prices
        self.free = free

    def of(self, provider: str) -> Price | None:
        if provider.partition(":")[0] in self.free:
            return FREE
        return self.prices.get(provider)

    def cost(self, provider: str, usage: Usage) -> float | None:
        price = self.of(provider)
        return None if price is None else price.cost(usage)


class BudgetExhausted(JobCancelled):
    """The next call could take the book past --max-cost: the chapter waits for a rerun."""


class Budget:
    """Thread-safe spend tracking against ``limit`` USD.

    A call whose worst case fits the budget but not next to the calls in flight
    waits for them to settle (they usually cost far less than their worst case);
    a call that could not fit even alone exhausts the budget.

    >>> budget = Budget(5.0, spent=1.2)
    >>> ticket = budget.reserve(0.3)      # raises BudgetExhausted if it cannot fit
    >>> budget.settle(ticket, 0.05)       # what the call really cost
    """

    def __init__(self, limit: float, *, spent: float = 0.0) -> None:
        self.limit = limit
        self.spent = spent
        self._held: dict[int, float] = {}
        self._next = 0
        self._cond = threading.Condition()
        self.exhausted = False

    def reserve(self, worst_case: float) -> int:
        with self._cond:
            while True:
                if self.exhausted or self.spent + worst_case > self.limit:
                    self.exhausted = True
                    raise BudgetExhausted(
                        f"the next call could cost up to ${worst_case:.4f}, and ${self.spent:.4f} "
                        f"of --max-cost ${self.limit:.4g} is spent"
                    )
                if self.spent + sum(self._held.values()) + worst_case <= self.limit:
                    break
                # Fits alone, not beside the calls in flight: wait for them to settle.
                self._cond.wait(1.0)
            self._next += 1
            self._held[self._next] = worst_case
            return self._next

    def settle(self, ticket: int, cost: float) -> None:
        with self._cond:
            self._held.pop(ticket, None)
            self.spent += cost
            self._cond.notify_all()

    def state(self) -> tuple[float, bool]:
        with self._cond:
            return self.spent, self.exhausted
