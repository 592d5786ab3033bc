"""Prices, costs, the budget, --dry-run and prompt-cache keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bookgen.cli import main
from bookgen.cost import FREE, Budget, BudgetExhausted, Price, find_price
from bookgen.errors import OptionError
from bookgen.models import Usage
from bookgen.store import BookStore
from tests.conftest import FAKE_KEY
from tests.fakellm import FakeLLMServer

pytestmark = pytest.mark.usefixtures("provider_env")


def test_prices() -> None:
    assert find_price("openai", "gpt-4o-mini", free=False) == Price(0.15, 0.075, 0.60)
    assert find_price("groq", "some-new-model", free=False) is None  # unknown, never 0
    assert find_price("ollama", "llama3", free=True) is FREE
    assert find_price("groq", "new", free=False, price_input=1.0, price_output=2.0) == Price(
        1.0, 1.0, 2.0
    )
    assert find_price("openai", "gpt-4o-mini", free=False, price_output=9.0) == Price(
        0.15, 0.075, 9.0
    )
    with pytest.raises(
        OptionError,
        match="no price is known for groq:new: pass both --price-input and --price-output",
    ):
        find_price("groq", "new", free=False, price_input=1.0)


def test_cost_prices_cached_tokens_at_the_cached_rate() -> None:
    price = Price(input=2.0, cached_input=0.5, output=8.0)
    usage = Usage(prompt_tokens=1_000_000, cached_prompt_tokens=400_000, completion_tokens=250_000)
    assert price.cost(usage) == pytest.approx(0.6 * 2.0 + 0.4 * 0.5 + 0.25 * 8.0)
    assert price.worst_case(1_000_000, 1_000_000) == pytest.approx(10.0)


def test_budget() -> None:
    import threading

    budget = Budget(1.0, spent=0.5)
    first = budget.reserve(0.3)
    second: list[int] = []
    # 0.5 spent + 0.3 held + 0.3 > 1.0, but 0.5 + 0.3 alone fits: it waits for the first.
    waiter = threading.Thread(target=lambda: second.append(budget.reserve(0.3)), daemon=True)
    waiter.start()
    waiter.join(0.1)
    assert second == []
    budget.settle(first, 0.1)
    waiter.join(5)
    assert len(second) == 1
    budget.settle(second[0], 0.3)  # spent 0.9
    with pytest.raises(
        BudgetExhausted,
        match=r"could cost up to \$0\.3000, and \$0\.9000 of --max-cost \$1 is spent",
    ):
        budget.reserve(0.3)
    assert budget.state() == (pytest.approx(0.9), True)


def book_args(outline: Path, tmp_path: Path, llm: FakeLLMServer, *extra: str) -> list[str]:
    return [
        "generate",
        "--source",
        str(outline),
        "--output-dir",
        str(tmp_path / "books"),
        "--provider",
        "openai",
        "--base-url",
        llm.openai_base,
        "--model",
        "m",
        "--progress",
        "plain",
        "--no-export",
        *extra,
    ]


def test_dry_run_calls_nothing_and_writes_nothing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    code = main(
        book_args(outline, tmp_path, llm, "--dry-run", "--price-input", "1", "--price-output", "2")
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert llm.requests == [] and not (tmp_path / "books").exists()
    assert (
        out[0]
        == "dry run: The Test Book: 4 chapters to write, 0 already done; provider openai:m; nothing was called or written"
    )
    assert out[1] == "calls: 4 to 12 (one per chapter, up to --max-iterations)"
    assert re.fullmatch(
        r"tokens: about [\d,]+ prompt \+ 1,600 completion in one pass, at most [\d,]+ \+ [\d,]+ \(estimated at 4 characters a token\)",
        out[2],
    )
    low, high = map(
        float,
        re.fullmatch(
            r"cost: \$([\d.]+) to \$([\d.]+) at 1 in / 2 out USD per million tokens", out[3]
        ).groups(),
    )  # type: ignore[union-attr]
    assert 0 < low < high


def test_dry_run_needs_no_api_key(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code = main(book_args(outline, tmp_path, llm, "--dry-run"))
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.startswith("dry run: The Test Book: 4 chapters to write")
    assert llm.requests == [] and not (tmp_path / "books").exists()
    # The real run still asks for the key, before anything is written.
    code = main(book_args(outline, tmp_path, llm))
    assert code == 2
    assert capsys.readouterr().err.startswith(
        "error: provider 'openai' needs an API key: set OPENAI_API_KEY"
    )
    assert not (tmp_path / "books").exists()


def test_dry_run_with_an_unknown_price(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    assert main(book_args(outline, tmp_path, llm, "--dry-run")) == 0
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == "cost: unknown: no price for openai:m; pass --price-input and --price-output"
    )


def test_max_cost_needs_a_price(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    assert main(book_args(outline, tmp_path, llm, "--max-cost", "1")) == 2
    assert capsys.readouterr().err == (
        "error: --max-cost needs prices, and none is known for openai:m: pass --price-input and --price-output\n"
    )


def test_budget_stops_the_run_and_a_larger_one_continues(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    prices = ["--price-input", "100", "--price-output", "100", "--max-concurrent", "1"]
    # A chapter's worst case here is about $0.08 (prompt + 664 max_tokens at $100/M).
    code = main(book_args(outline, tmp_path, llm, *prices, "--max-cost", "0.2"))
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "budget reached: $" in out and "rerun with a larger --max-cost to continue" in out
    store = BookStore(tmp_path / "books", "the-test-book")
    first = store.load()
    done = [s.number for s in first.chapters if s.status == "completed"]
    assert 1 <= len(done) < 4
    assert [s.status for s in first.chapters if s.number not in done] == ["pending"] * (
        4 - len(done)
    )
    spent = sum(s.cost_usd or 0 for s in first.chapters)
    assert 0 < spent <= 0.2
    calls_before = llm.calls()
    assert main(book_args(outline, tmp_path, llm, *prices, "--max-cost", "5", "--json")) == 0
    finished = json.loads(capsys.readouterr().out.splitlines()[-1])
    second = store.load()
    assert finished["event"] == "run_finished"
    book = sum(s.cost_usd or 0 for s in second.chapters) + (second.planning_cost_usd or 0)
    assert finished["book_cost_usd"] == pytest.approx(book)
    # This run paid for the chapters the budget had stopped, not for the book so far.
    assert finished["run_cost_usd"] == pytest.approx(book - spent)
    assert 0 < finished["run_cost_usd"] < finished["book_cost_usd"]
    assert [s.status for s in second.chapters] == ["completed"] * 4
    assert llm.calls() - calls_before == 4 - len(done)  # finished chapters were not repeated
    assert all(second.state(n).calls == 1 for n in done)
    data = json.loads(json.dumps([s.cost_usd for s in second.chapters]))
    assert all(cost > 0 for cost in data)


def test_openai_prompt_cache_key_is_one_per_book(
    make_provider, monkeypatch: pytest.MonkeyPatch, llm: FakeLLMServer
) -> None:  # type: ignore[no-untyped-def]
    from bookgen.models import CompletionRequest, Message

    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    request = CompletionRequest(
        messages=[Message(role="user", content="Write about 10 words.")],
        max_tokens=50,
        metadata={"book": "novel"},
    )
    make_provider("openai", options=[f"base_url={llm.openai_base}", "prompt_cache=true"]).complete(
        request
    )
    assert (
        llm.requests[-1].body is not None
        and llm.requests[-1].body["prompt_cache_key"] == "bookgen:novel"
    )
    make_provider("openai", options=[f"base_url={llm.openai_base}"]).complete(request)
    assert (
        "prompt_cache_key" not in llm.requests[-1].body
    )  # a compatible server: not sent by default
