"""The `bookgen` command end to end, in process, with the sim provider."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bookgen.cli import main
from tests.conftest import FAST


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def gen(outline: Path, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "generate",
        "--source",
        str(outline),
        "--output-dir",
        str(tmp_path / "books"),
        "--progress",
        "plain",
        *FAST,
        *extra,
    ]


def status_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str = "the-test-book"
) -> dict:  # type: ignore[type-arg]
    code, out, _ = run(
        capsys, "status", "--book-name", name, "--output-dir", str(tmp_path / "books"), "--json"
    )
    assert code == 0
    return json.loads(out)  # type: ignore[no-any-return]


def test_generate_status_rerun_and_repair(
    capsys: pytest.CaptureFixture[str], outline: Path, tmp_path: Path
) -> None:
    code, out, err = run(capsys, *gen(outline, tmp_path, "--max-concurrent", "3"))
    assert code == 0
    assert out.splitlines()[0].startswith(
        "The Test Book: 4 completed, 0 failed, 0 skipped | 1,200 words | 4 calls | "
    )
    assert re.fullmatch(
        r"book so far: [\d,]+ prompt \(0% cached\) \+ [\d,]+ completion tokens, cost \$0\.0000",
        out.splitlines()[1],
    )
    assert out.splitlines()[2] == f"book folder: {tmp_path / 'books' / 'the-test-book'}"
    assert err.splitlines()[:2] == [
        "The Test Book: 4 chapters to write, 0 already done, provider sim (sim-prose-1), up to 3 at a time",
        "note: provider sim writes simulated text, not a model's: use it to try the machinery",
    ]
    assert sum(line.startswith("completed chapter ") for line in err.splitlines()) == 4
    book = tmp_path / "books" / "the-test-book"
    files = sorted(p.name for p in (book / "chapters").iterdir())
    assert files == ["01-arrival.md", "02-the-mill.md", "03-the-storm.md", "04-departure.md"]
    assert (
        (book / "chapters" / "03-the-storm.md").read_text().startswith("# Chapter 3: The Storm\n\n")
    )

    data = status_json(capsys, tmp_path)
    assert data["book"] == "the-test-book"
    assert data["title"] == "The Test Book"
    assert [
        (c["number"], c["status"], c["words"], c["calls"], c["file"]) for c in data["chapters"]
    ] == [
        (1, "completed", 300, 1, "chapters/01-arrival.md"),
        (2, "completed", 300, 1, "chapters/02-the-mill.md"),
        (3, "completed", 300, 1, "chapters/03-the-storm.md"),
        (4, "completed", 300, 1, "chapters/04-departure.md"),
    ]
    assert data["totals"]["completed"] == 4
    assert data["totals"]["words"] == 1200
    assert data["totals"]["calls"] == 5  # four chapters and the story bible
    assert all(c["prompt_tokens"] > 0 and c["completion_tokens"] > 0 for c in data["chapters"])

    # A second run pays for nothing.
    code, out, err = run(capsys, *gen(outline, tmp_path))
    assert code == 0
    assert "0 completed, 0 failed, 4 skipped | 0 words | 0 calls" in out
    assert status_json(capsys, tmp_path)["totals"]["calls"] == 5

    # A deleted chapter file is written again, and only that one.
    (book / "chapters" / "02-the-mill.md").unlink()
    code, out, err = run(capsys, *gen(outline, tmp_path))
    assert code == 0
    assert "1 completed, 0 failed, 3 skipped | 300 words | 1 call | " in out
    assert "note: chapter 2: regenerating: its file is missing" in err
    assert (book / "chapters" / "02-the-mill.md").is_file()
    after = status_json(capsys, tmp_path)
    assert [c["calls"] for c in after["chapters"]] == [1, 2, 1, 1]


def test_status_table(capsys: pytest.CaptureFixture[str], outline: Path, tmp_path: Path) -> None:
    assert run(capsys, *gen(outline, tmp_path, "--chapters", "2", "3"))[0] == 0
    code, out, _ = run(
        capsys, "status", "--book-name", "the-test-book", "--output-dir", str(tmp_path / "books")
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == [
        "#",
        "title",
        "status",
        "score",
        "words",
        "calls",
        "cost",
        "seconds",
        "error",
    ]
    assert lines[3].split()[:6] == ["1", "Arrival", "pending", "-", "0", "0"]
    row = lines[4].split()
    assert row[:4] == ["2", "The", "Mill", "completed"]
    assert 0.75 <= float(row[4]) <= 1.0  # the analyzers' score, over the threshold
    assert row[5:7] == ["300", "1"]
    assert lines[-2].split()[:4] == ["total", "2/4", "completed", "600"]
    assert lines[-1].startswith("usage: ") and lines[-1].endswith(", cost $0.0000")


def test_json_events_only_on_stdout(
    capsys: pytest.CaptureFixture[str], outline: Path, tmp_path: Path
) -> None:
    code, out, err = run(capsys, *gen(outline, tmp_path, "--json", "--chapters", "1", "4"))
    assert code == 0
    assert err == ""
    events = [json.loads(line) for line in out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert sorted(kinds[1:-1]) == ["chapter_completed"] * 2 + ["chapter_started"] * 2
    done = {e["chapter"]: e for e in events if e["event"] == "chapter_completed"}
    assert set(done) == {1, 4}
    assert all(e["words"] == 300 and e["calls"] == 1 and e["seconds"] >= 0 for e in done.values())
    assert events[-1]["completed"] == 2 and events[-1]["calls"] == 2


def test_sim_failures_give_exit_1_and_resume(
    capsys: pytest.CaptureFixture[str], outline: Path, tmp_path: Path
) -> None:
    code, out, err = run(capsys, *gen(outline, tmp_path, "-O", "fail_rate=1", "--max-retries", "0"))
    assert code == 1
    assert "0 completed, 4 failed" in out
    assert 'failed    chapter 1 "Arrival": simulated server error (sim fail_rate)' in err
    assert "4 chapters failed; run `bookgen generate" in out
    data = status_json(capsys, tmp_path)
    assert [c["error"] for c in data["chapters"]] == ["simulated server error (sim fail_rate)"] * 4
    code, out, _ = run(capsys, *gen(outline, tmp_path))
    assert code == 0
    assert "4 completed, 0 failed, 0 skipped" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-concurrent", "0"], "error: --max-concurrent must be at least 1, got 0"),
        (["--max-concurrent", "-3"], "error: --max-concurrent must be at least 1, got -3"),
        (["--rate-limit-calls", "0"], "error: --rate-limit-calls must be at least 1, got 0"),
        (["--rate-limit-period", "0"], "error: --rate-limit-period must be greater than 0, got 0"),
        (["--max-iterations", "0"], "error: --max-iterations must be at least 1, got 0"),
        (
            ["--max-concurrent", "many"],
            "error: argument --max-concurrent: invalid int value: 'many'",
        ),
        (
            ["--provider", "nope"],
            "error: unknown provider 'nope'; known providers: anthropic, deepseek, groq, llamacpp, lmstudio, local, mistral, ollama, openai, openrouter, sim, together, vllm",
        ),
        (["-O", "latency"], "error: -O expects KEY=VALUE, got 'latency'"),
        (
            ["-O", "colour=red"],
            "error: -O colour: unknown option for provider 'sim'; known: latency, jitter, seed, fail_rate, call_log",
        ),
        (["-O", "latency=-1"], "error: -O latency: Input should be greater than or equal to 0"),
        (
            ["--book-name", "../escape"],
            "error: --book-name '../escape' contains a path separator; use a plain name",
        ),
        (["--book-name", ".."], "error: --book-name '..' contains '..'; use a plain name"),
        (["--book-name", ""], "error: --book-name is empty"),
        (
            ["--rate-limit-calls", "5", "--rate-limit-period", "nan"],
            "error: --rate-limit-period must be a finite number, got nan",
        ),
        (
            ["--rate-limit-period", "inf"],
            "error: --rate-limit-period must be a finite number, got inf",
        ),
        (["-O", "latency=inf"], "error: -O latency: Input should be a finite number"),
        (
            ["--target-words", "100000000"],
            "error: --target-words must be at most 50,000, got 100,000,000",
        ),
        (
            ["--book-name", "x" * 300],
            "error: --book-name is longer than 200 bytes; use a shorter name",
        ),
        (["--base-url", "http://x"], "error: --base-url does not apply to provider 'sim'"),
        (["--max-retries", "-1"], "error: --max-retries must be at least 0, got -1"),
        (["--fallback", ":m"], "error: --fallback expects PROVIDER[:MODEL][@URL], got ':m'"),
        (
            ["--fallback", "nope"],
            "error: unknown provider 'nope'; known providers: anthropic, deepseek, groq, llamacpp, lmstudio, local, mistral, ollama, openai, openrouter, sim, together, vllm",
        ),
    ],
)
def test_bad_options_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
    outline: Path,
    tmp_path: Path,
    extra: list[str],
    message: str,
) -> None:
    code, out, err = run(capsys, *gen(outline, tmp_path, *extra))
    assert (code, out, err) == (2, "", message + "\n")
    assert not (tmp_path / "books").exists()


def test_chapters_not_in_outline(
    capsys: pytest.CaptureFixture[str], outline: Path, tmp_path: Path
) -> None:
    code, out, err = run(capsys, *gen(outline, tmp_path, "--chapters", "2", "9"))
    assert (code, out) == (2, "")
    assert err == f"error: --chapters: 9 not in the outline (it has chapters 1-4) ({outline})\n"
    assert not (tmp_path / "books").exists()


def test_output_dir_is_a_file(
    capsys: pytest.CaptureFixture[str], outline: Path, tmp_path: Path
) -> None:
    (tmp_path / "books").write_text("I am a file")
    code, out, err = run(capsys, *gen(outline, tmp_path))
    assert (code, out) == (2, "")
    assert err == f"error: --output-dir {tmp_path / 'books'} is a file, not a folder\n"
    assert (tmp_path / "books").read_text() == "I am a file"


def test_missing_source(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(
        capsys, "generate", "--source", str(tmp_path / "nope.md"), "--output-dir", str(tmp_path)
    )
    assert (code, out) == (2, "")
    assert err.startswith("error: outline file not found")
    assert len(err.splitlines()) == 1


def test_a_file_where_the_manifest_goes(
    capsys: pytest.CaptureFixture[str], outline: Path, tmp_path: Path
) -> None:
    (tmp_path / "books" / "the-test-book" / "manifest.json").mkdir(parents=True)
    code, out, err = run(capsys, *gen(outline, tmp_path))
    assert (code, out) == (2, "")
    assert (
        err
        == f"error: {tmp_path / 'books/the-test-book/manifest.json'} is a folder where bookgen keeps a file; move it away\n"
    )


def test_an_internal_error_is_one_line_and_exit_70(
    capsys: pytest.CaptureFixture[str],
    outline: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bookgen import orchestrator

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(orchestrator, "order", broken)
    code, out, err = run(capsys, *gen(outline, tmp_path))
    assert (code, out) == (70, "")
    assert (
        err.splitlines()[-1]
        == "error: internal error: RuntimeError: a bug (set BOOKGEN_RAISE_ERRORS=1 to see the traceback)"
    )


def test_no_command_says_which_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert (
        err
        == "error: the following arguments are required: COMMAND (generate, status, report, export, compare or providers; see bookgen --help)\n"
    )


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "generate") == (
        2,
        "",
        "error: the following arguments are required: --source\n",
    )
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys)[0] == 2


def test_status_of_unknown_book(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "status", "--book-name", "ghost", "--output-dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert (
        err
        == f"error: no book named 'ghost' in {tmp_path} ({tmp_path / 'ghost' / 'manifest.json'})\n"
    )


def test_providers(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-never-shown-1234567890")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    code, out, _ = run(capsys, "providers")
    assert code == 0
    assert "sk-test" not in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()}
    assert rows["provider"] == ["provider", "status", "base", "URL", "API", "key", "about"]
    assert rows["sim"][:4] == ["sim", "ready", "-", "-"]
    assert rows["local"][:4] == ["local", "ready", "-", "-"]
    assert rows["openai"][:5] == [
        "openai",
        "ready",
        "https://api.openai.com/v1",
        "OPENAI_API_KEY",
        "(set)",
    ]
    assert rows["anthropic"][:6] == [
        "anthropic",
        "set",
        "ANTHROPIC_API_KEY",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
        "(not",
    ]
    code, out, _ = run(capsys, "providers", "--json")
    assert "sk-test" not in out
    infos = {info["name"]: info for info in json.loads(out)}
    assert set(infos) == {
        "anthropic",
        "deepseek",
        "groq",
        "llamacpp",
        "lmstudio",
        "local",
        "mistral",
        "ollama",
        "openai",
        "openrouter",
        "sim",
        "together",
        "vllm",
    }
    assert infos["sim"] == {
        "name": "sim",
        "description": "simulated text for tests and demos (not a model)",
        "needs": "nothing",
        "ready": True,
        "status": "ready",
        "simulated": True,
        "base_url": None,
        "key_env": None,
        "key_set": None,
    }
    assert (infos["openai"]["key_env"], infos["openai"]["key_set"]) == ("OPENAI_API_KEY", True)
    assert (infos["groq"]["base_url"], infos["groq"]["key_set"]) == (
        "https://api.groq.com/openai/v1",
        False,
    )
    assert infos["ollama"]["base_url"] == "http://localhost:11434/v1"
    assert infos["ollama"]["needs"] == "a running server"


def test_raise_errors_env_shows_the_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bookgen.errors import OutlineError

    monkeypatch.setenv("BOOKGEN_RAISE_ERRORS", "1")
    with pytest.raises(OutlineError):
        main(["generate", "--source", str(tmp_path / "nope.md")])


def test_simulated_text_never_finishes_a_real_book(
    capsys: pytest.CaptureFixture[str], outline: Path, tmp_path: Path
) -> None:
    assert run(capsys, *gen(outline, tmp_path, "--chapters", "1"))[0] == 0
    manifest = tmp_path / "books" / "the-test-book" / "manifest.json"
    data = json.loads(manifest.read_text())
    # As if a model had written chapter 1.
    data["chapters"][0].update(provider="openai", model="gpt-4o-mini")
    manifest.write_text(json.dumps(data))
    before = manifest.read_text()
    code, out, err = run(capsys, *gen(outline, tmp_path))
    assert (code, out) == (2, "")
    assert err == (
        "error: book 'the-test-book' was written by openai:gpt-4o-mini; --provider sim would "
        "fill it with simulated text: choose a real provider, or another --book-name\n"
    )
    assert manifest.read_text() == before
