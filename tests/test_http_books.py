"""Whole books through the CLI against the loopback server: faults, fallbacks, keys, 429 pauses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bookgen.cli import main
from tests.conftest import FAKE_KEY
from tests.fakellm import BadJSON, CutStream, Drop, FakeLLMServer, Slow, Status

pytestmark = pytest.mark.usefixtures("provider_env", "fast_retries")

FAULTS = [Status(429), Status(500), Status(503), Status(529), Drop(), CutStream(after=2), BadJSON()]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def manifest(tmp_path: Path, name: str = "the-test-book") -> dict:  # type: ignore[type-arg]
    return json.loads((tmp_path / "books" / name / "manifest.json").read_text())  # type: ignore[no-any-return]


def book_args(outline: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "generate",
        "--source",
        str(outline),
        "--output-dir",
        str(tmp_path / "books"),
        "--progress",
        "plain",
        "--max-concurrent",
        "5",
        "--no-bible",
        *extra,
    ]


def test_openai_book_with_30_percent_faults_completes(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    llm.fault_rate(0.3, FAULTS, seed=3)
    code, out, err = run(
        capsys,
        *book_args(
            outline, tmp_path, "--provider", "openai", "--base-url", llm.openai_base, "--model", "M"
        ),
    )
    assert code == 0, err
    assert "4 completed, 0 failed" in out
    data = manifest(tmp_path)
    assert [(c["status"], c["provider"], c["model"]) for c in data["chapters"]] == [
        ("completed", "openai", "M")
    ] * 4
    assert all(c["words"] >= 270 for c in data["chapters"])
    faulty = llm.calls() - sum(c["calls"] for c in data["chapters"])
    assert faulty > 0  # the faults really happened, and were retried
    assert err.count("; retrying openai in ") == faulty


def test_anthropic_book_with_faults_completes(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    llm.fault_rate(0.3, [Status(529), Status(500), Drop(), CutStream(after=1)], seed=4)
    code, out, err = run(
        capsys,
        *book_args(
            outline, tmp_path, "--provider", "anthropic", "--base-url", llm.url, "-O", "stream=true"
        ),
    )
    assert code == 0, err
    assert [c["provider"] for c in manifest(tmp_path)["chapters"]] == ["anthropic"] * 4
    assert llm.calls() > 4  # the faults happened and were retried


def test_fallback_takes_over_from_a_dead_primary(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    with FakeLLMServer(api_key=FAKE_KEY) as dead:
        dead.fault_rate(1.0, [Status(503)])
        monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", llm.openai_base)
        code, out, err = run(
            capsys,
            *book_args(
                outline,
                tmp_path,
                "--provider",
                "anthropic",
                "--base-url",
                dead.url,
                "--fallback",
                "openai:backup-model",
            ),
        )
        assert code == 0, err
        chapters = manifest(tmp_path)["chapters"]
        assert [(c["provider"], c["model"]) for c in chapters] == [("openai", "backup-model")] * 4
        assert [c["providers"] for c in chapters] == [["openai:backup-model"]] * 4
        assert "anthropic keeps failing" in err or "this call goes to openai" in err
        # The primary was given up on after a few failures, not retried for every chapter.
        assert dead.calls() <= 8 + 5
        assert llm.calls() == 4


def test_wrong_key_stops_the_run_at_once(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-000000000000")
    code, out, err = run(
        capsys,
        *book_args(
            outline,
            tmp_path,
            "--provider",
            "openai",
            "--base-url",
            llm.openai_base,
            "--max-concurrent",
            "5",
        ),
    )
    assert code == 2
    assert err.splitlines()[-1] == (
        "error: openai refused the credentials (HTTP 401: Incorrect API key provided); set OPENAI_API_KEY to a valid key"
    )
    assert llm.calls() == 0  # the key was checked before any chapter started
    assert "started" not in err
    assert [c["status"] for c in manifest(tmp_path)["chapters"]] == ["pending"] * 4
    assert "sk-wrong" not in out + err


def test_missing_key_is_exit_2_before_anything(
    capsys: pytest.CaptureFixture[str], outline: Path, tmp_path: Path
) -> None:
    code, out, err = run(capsys, *book_args(outline, tmp_path, "--provider", "groq"))
    assert (code, out) == (2, "")
    assert (
        err
        == "error: provider 'groq' needs an API key: set GROQ_API_KEY, or pass --provider sim to try bookgen without one\n"
    )
    assert not (tmp_path / "books").exists()


def test_bad_request_fails_that_chapter_only(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    llm.script(Status(400, message="context length exceeded"))
    code, out, err = run(
        capsys,
        *book_args(
            outline,
            tmp_path,
            "--provider",
            "openai",
            "--base-url",
            llm.openai_base,
            "--max-concurrent",
            "1",
        ),
    )
    assert code == 1
    chapters = manifest(tmp_path)["chapters"]
    assert [c["status"] for c in chapters] == ["failed", "completed", "completed", "completed"]
    assert chapters[0]["error"] == "openai rejected the request (HTTP 400: context length exceeded)"
    assert llm.calls() == 4


def test_the_key_never_reaches_disk_or_output(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("BOOKGEN_DEBUG_HTTP", "1")
    llm.script(
        Status(500, message=f"upstream said {FAKE_KEY}"),
        Status(429, message=f"key ...{FAKE_KEY[-8:]}"),
        Status(500, message=f"Incorrect API key provided: {FAKE_KEY}", in_stream=True),
    )
    code, out, err = run(
        capsys,
        *book_args(
            outline, tmp_path, "--provider", "openai", "--base-url", llm.openai_base, "--json"
        ),
    )
    assert code == 0
    assert "> POST " in err and "authorization" in err.lower()  # the debug log was written
    haystacks = {"stdout": out, "stderr": err}
    for path in (tmp_path / "books").rglob("*"):
        if path.is_file():
            haystacks[str(path)] = path.read_text(errors="replace")
    for where, text in haystacks.items():
        for piece in (FAKE_KEY, FAKE_KEY[:12], FAKE_KEY[-8:]):
            assert piece not in text, f"key piece {piece!r} found in {where}"


@pytest.mark.slow
def test_a_429_holds_every_worker_back(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    outline = tmp_path / "eight.md"
    outline.write_text(
        "# Eight\nTarget words: 50\n\n" + "\n".join(f"## Part {n}\nStuff.\n" for n in range(1, 9))
    )
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    # The first request is refused for 1 s; the three answered beside it take 0.3 s, so
    # their workers ask for chapters 5-8 long after the 429 reached the client.
    llm.script(Status(429, headers={"retry-after": "1"}), Slow(0.3), Slow(0.3), Slow(0.3))
    code, _, err = run(
        capsys,
        "generate",
        "--source",
        str(outline),
        "--output-dir",
        str(tmp_path / "books"),
        "--provider",
        "openai",
        "--base-url",
        llm.openai_base,
        "--max-concurrent",
        "4",
        "--no-bible",
        "--json",
    )
    assert code == 0, err
    posts = [r for r in llm.requests if r.method == "POST"]
    refused_at = posts[0].at
    later = posts[4:]
    assert len(later) == 5  # the retry of the refused chapter, and chapters 5-8
    assert all(r.at >= refused_at + 1.0 for r in later)


def eight_chapters(tmp_path: Path) -> Path:
    outline = tmp_path / "eight.md"
    outline.write_text(
        "# Eight\nTarget words: 50\n\n" + "\n".join(f"## Part {n}\nStuff.\n" for n in range(1, 9))
    )
    return outline


@pytest.mark.slow
def test_client_limit_keeps_a_server_limit_from_ever_saying_429(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    # A 4 s window: the limiter's 2% slot margin (80 ms) must outlast the time from a
    # permit to the server's clock, and here the server runs in this process: at the
    # start eight chapter jobs and the server's threads share one GIL (a 2 s window's
    # 40 ms was once not enough on a loaded CI machine). Real windows are 60 s: 0.25 s.
    llm.rate_limit(4, 4.0)
    code, _, err = run(
        capsys,
        "generate",
        "--source",
        str(eight_chapters(tmp_path)),
        "--output-dir",
        str(tmp_path / "books"),
        "--provider",
        "openai",
        "--base-url",
        llm.openai_base,
        "--max-concurrent",
        "8",
        "--rate-limit-calls",
        "4",
        "--rate-limit-period",
        "4",
        "--no-bible",
        "--json",
    )
    assert code == 0, err
    assert llm.calls() == 8  # not one request was refused


@pytest.mark.slow
def test_adaptive_concurrency_backs_off_on_429(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    llm.script(Status(429, headers={"retry-after-ms": "50"}))
    code, out, err = run(
        capsys,
        "generate",
        "--source",
        str(eight_chapters(tmp_path)),
        "--output-dir",
        str(tmp_path / "books"),
        "--provider",
        "openai",
        "--base-url",
        llm.openai_base,
        "--max-concurrent",
        "4",
        "--adaptive",
        "--no-bible",
        "--json",
    )
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    limits = [e for e in events if e["event"] == "concurrency"]
    assert limits[0] == {
        "event": "concurrency",
        "limit": 2,
        "max": 4,
        "reason": "rate limited",
        "elapsed": limits[0]["elapsed"],
    }
    assert events[0]["adaptive"] is True


@pytest.mark.slow
def test_a_tight_server_limit_without_a_client_limit_still_completes(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    llm.rate_limit(2, 0.5)
    code, _, err = run(
        capsys,
        "generate",
        "--source",
        str(eight_chapters(tmp_path)),
        "--output-dir",
        str(tmp_path / "books"),
        "--provider",
        "openai",
        "--base-url",
        llm.openai_base,
        "--max-concurrent",
        "8",
        "--max-retries",
        "1",
        "--no-bible",
        "--json",
    )
    assert code == 0, err  # 429s do not use up --max-retries
    # Refusals there are (14-17 requests in all, measured); the slow start itself is
    # pinned down exactly in test_ratelimit.py with a fake clock.
    assert 8 < llm.calls() <= 32


def test_a_fallback_of_the_same_kind_inherits_the_base_url_or_names_its_own(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    with FakeLLMServer(api_key=FAKE_KEY) as dead, FakeLLMServer(api_key=FAKE_KEY) as other:
        dead.fault_rate(1.0, [Status(503)])
        code, _, err = run(
            capsys,
            *book_args(
                outline,
                tmp_path,
                "--provider",
                "openai",
                "--base-url",
                dead.openai_base,
                "--fallback",
                f"openai:second@{other.openai_base}",
                "--max-retries",
                "1",
            ),
        )
        assert code == 0, err
        assert other.calls() == 4
        assert [c["providers"] for c in manifest(tmp_path)["chapters"]] == [["openai:second"]] * 4


def test_a_simulated_fallback_behind_a_real_provider_is_refused(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    outline: Path,
    tmp_path: Path,
    llm: FakeLLMServer,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    code, out, err = run(
        capsys,
        *book_args(
            outline,
            tmp_path,
            "--provider",
            "openai",
            "--base-url",
            llm.openai_base,
            "--fallback",
            "sim",
        ),
    )
    assert (code, out) == (2, "")
    assert (
        err
        == "error: --fallback sim would fill a real book with simulated text; name a real provider\n"
    )
