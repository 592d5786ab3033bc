"""`bookgen compare`: the ideal-time model and the command's output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bookgen.bench import lpt_makespan, rate_limit_floor
from bookgen.cli import main
from tests.conftest import FAKE_KEY
from tests.fakellm import FakeLLMServer


def test_lpt_makespan() -> None:
    assert lpt_makespan([1.0] * 5, 3) == 2.0
    assert lpt_makespan([3.0, 3.0, 2.0, 2.0, 2.0], 2) == 7.0  # LPT's classic 7 vs optimal 6
    assert lpt_makespan([5.0, 1.0, 1.0], 10) == 5.0
    assert lpt_makespan([], 4) == 0.0


def test_rate_limit_floor() -> None:
    assert rate_limit_floor(10, None, 60) == 0.0
    assert rate_limit_floor(10, 10, 60) == 0.0
    assert rate_limit_floor(11, 10, 60) == 60.0
    assert rate_limit_floor(25, 10, 6) == 12.0


def test_compare_json_is_consistent(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "compare",
                "--chapters",
                "1",
                "2",
                "3",
                "4",
                "--max-concurrent",
                "2",
                "--latency",
                "0.05",
                "--json",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert set(data) >= {
        "chapters",
        "workers",
        "sequential_seconds",
        "parallel_seconds",
        "calls",
        "speedup",
        "ideal_speedup",
        "efficiency",
    }
    assert (data["chapters"], data["workers"], data["calls"]) == (4, 2, 4)
    assert data["speedup"] == pytest.approx(
        data["sequential_seconds"] / data["parallel_seconds"], rel=1e-3
    )
    assert data["efficiency"] == pytest.approx(data["speedup"] / data["ideal_speedup"], rel=1e-3)
    # 4 chapters of >= 0.05 s on one worker take >= 0.2 s; on two, the ideal is half of that.
    assert data["sequential_seconds"] >= 0.2
    assert 1.0 < data["ideal_speedup"] <= 2.0


def test_compare_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--chapters", "1", "2", "--max-concurrent", "2", "--latency", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "mode",
        "workers",
        "seconds",
        "calls",
        "speedup",
        "ideal",
        "speedup",
        "efficiency",
    ]
    assert lines[1].split()[:2] == ["sequential", "1"]
    assert lines[2].split()[:2] == ["parallel", "2"]


def test_compare_asks_before_paid_calls(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, provider_env: None
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["compare", "--provider", "openai", "--chapters", "1", "2"]) == 2
    assert capsys.readouterr().err == (
        "error: compare writes 2 chapters twice with openai: about 4 paid calls; pass --yes to confirm\n"
    )


def test_compare_with_yes_against_a_server(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    provider_env: None,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", llm.openai_base)
    assert main(["compare", "--provider", "openai", "--chapters", "1", "2", "--yes", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["calls"] == 2
    assert err == "note: compare writes 2 chapters twice with openai: about 4 paid calls\n"
    assert llm.calls() == 4


def test_each_run_analyses_its_texts_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    # Both runs write the same texts: the analyzers' caches of the first run's texts are
    # emptied before the second, or its analysis would be timed on cache hits.
    from bookgen import bench
    from bookgen.analyzers import _text

    cached: list[int] = []
    generate = bench.AsyncBookOrchestrator.generate_chapters_parallel

    def recorded(self: bench.AsyncBookOrchestrator, *args: Any) -> Any:
        cached.append(_text.words.cache_info().currsize)
        return generate(self, *args)

    monkeypatch.setattr(bench.AsyncBookOrchestrator, "generate_chapters_parallel", recorded)
    settings = bench.CompareSettings(
        source=bench.bundled_outline(),
        chapters=[1, 2],
        workers=2,
        provider="sim",
        model=None,
        options=["latency=0", "jitter=0"],
    )
    bench.compare(settings)
    # Each run starts with the warm-up's text alone.
    assert cached == [1, 1]
