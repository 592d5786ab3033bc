"""Crash safety, Ctrl-C and the lock, with real `bookgen` processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bookgen.cli import main
from bookgen.store import BookStore
from tests.conftest import FAST

pytestmark = pytest.mark.slow

OUTLINE = "# Six Chapters\nTarget words: 200\n\n" + "\n".join(
    f"## Chapter {n}: Part {n}\nThings happen in part {n}.\n" for n in range(1, 7)
)
WORKERS = 2


@pytest.fixture
def six(tmp_path: Path) -> Path:
    path = tmp_path / "six.md"
    path.write_text(OUTLINE)
    return path


def start(
    six: Path, tmp_path: Path, *extra: str, json_events: bool = True
) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "bookgen",
        "generate",
        "--source",
        str(six),
        "--provider",
        "sim",
    ]
    command += ["-O", f"call_log={tmp_path / 'calls.log'}"]
    command += ["--output-dir", str(tmp_path / "books"), "--max-concurrent", str(WORKERS)]
    command += [
        "-O",
        "latency=0.25",
        "-O",
        "jitter=0",
        *(["--json"] if json_events else []),
        *extra,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until(process: subprocess.Popen[str], kind: str, count: int) -> None:
    seen = 0
    assert process.stdout is not None
    for line in process.stdout:
        if json.loads(line)["event"] == kind:
            seen += 1
            if seen >= count:
                return
    raise AssertionError(f"process ended before {count} {kind} events")


def manifest(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    """The book as bookgen reads it: manifest.json plus its journal."""
    return BookStore(tmp_path / "books", "six-chapters").load().model_dump(mode="json")


def check_book_complete(tmp_path: Path) -> None:
    data = manifest(tmp_path)
    assert [c["status"] for c in data["chapters"]] == ["completed"] * 6
    for chapter in data["chapters"]:
        text = (tmp_path / "books" / "six-chapters" / chapter["file"]).read_text()
        heading, _, body = text.partition("\n\n")
        assert heading == f"# Chapter {chapter['number']}: Part {chapter['number']}"
        assert len(body.split()) == chapter["words"] == 200
        assert text.endswith((".\n", '."\n'))
    leftovers = [p.name for p in (tmp_path / "books" / "six-chapters").rglob("*.tmp")]
    assert leftovers == []


@pytest.mark.parametrize("completed_before_kill", [0, 1, 3, 5])
def test_sigkill_then_resume(six: Path, tmp_path: Path, completed_before_kill: int) -> None:
    process = start(six, tmp_path)
    if completed_before_kill:
        read_until(process, "chapter_completed", completed_before_kill)
    else:
        read_until(process, "chapter_started", 1)
    process.kill()
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    # Whatever instant the kill hit, the manifest on disk is whole.
    before = manifest(tmp_path)
    done_before = sum(c["status"] == "completed" for c in before["chapters"])
    assert done_before >= completed_before_kill

    assert (
        main(
            [
                "generate",
                "--source",
                str(six),
                "--output-dir",
                str(tmp_path / "books"),
                "--json",
                *FAST,
            ]
        )
        == 0
    )
    check_book_complete(tmp_path)
    # Calls counted outside bookgen, by the provider as they started, across both runs.
    log = tmp_path / "calls.log"
    killed_run = log.read_text().split() if log.exists() else []
    resumed_run = [c["calls"] for c in manifest(tmp_path)["chapters"]]
    resumed = sum(resumed_run) - sum(c["calls"] for c in before["chapters"])
    assert 6 <= len(killed_run) + resumed <= 6 + WORKERS
    assert len(killed_run) >= done_before
    # Chapters finished before the kill were not written again.
    for old, new in zip(before["chapters"], manifest(tmp_path)["chapters"], strict=True):
        if old["status"] == "completed":
            assert new["sha256"] == old["sha256"]
            assert new["calls"] == old["calls"]


def test_ctrl_c_exits_130_and_resumes(six: Path, tmp_path: Path) -> None:
    process = start(six, tmp_path)
    read_until(process, "chapter_completed", 1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    assert err == ""  # --json: everything the user needs is in the events
    last = json.loads(out.splitlines()[-1])
    assert last["event"] == "run_interrupted"
    assert last["resume"].startswith("bookgen generate --source ")
    statuses = [c["status"] for c in manifest(tmp_path)["chapters"]]
    assert "running" not in statuses
    assert statuses.count("completed") == last["completed"] >= 1
    assert (
        main(
            [
                "generate",
                "--source",
                str(six),
                "--output-dir",
                str(tmp_path / "books"),
                "--json",
                *FAST,
            ]
        )
        == 0
    )
    check_book_complete(tmp_path)


def test_ctrl_c_plain_output_says_how_to_resume(six: Path, tmp_path: Path) -> None:
    process = start(six, tmp_path, json_events=False)
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("completed chapter"):
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert out == ""
    last = err.splitlines()[-1]
    assert last.startswith("interrupted: ")
    assert "chapters completed, the rest left pending; run `bookgen generate --source " in last
    assert "Traceback" not in err


def test_second_run_on_the_same_book_is_refused(
    six: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    process = start(six, tmp_path)
    try:
        read_until(process, "chapter_started", 1)
        code = main(
            ["generate", "--source", str(six), "--output-dir", str(tmp_path / "books"), *FAST]
        )
        _, err = capsys.readouterr()
        assert code == 2
        assert err == (
            f"error: book 'six-chapters' is being generated by process {process.pid}; wait for it to "
            f"finish or stop it ({tmp_path / 'books' / 'six-chapters'})\n"
        )
    finally:
        process.kill()
        process.communicate(timeout=10)
    # The killed holder's lock does not block the next run.
    assert (
        main(
            [
                "generate",
                "--source",
                str(six),
                "--output-dir",
                str(tmp_path / "books"),
                "--json",
                *FAST,
            ]
        )
        == 0
    )
    check_book_complete(tmp_path)


def test_sigterm_is_handled_like_ctrl_c(six: Path, tmp_path: Path) -> None:
    process = start(six, tmp_path)
    read_until(process, "chapter_completed", 1)
    os.kill(process.pid, signal.SIGTERM)
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 143
    assert json.loads(out.splitlines()[-1])["event"] == "run_interrupted"
    assert "running" not in [c["status"] for c in manifest(tmp_path)["chapters"]]


def test_ctrl_c_while_waiting_on_the_rate_limit_is_prompt(six: Path, tmp_path: Path) -> None:
    process = start(six, tmp_path, "--rate-limit-calls", "1", "--rate-limit-period", "60")
    read_until(process, "chapter_completed", 1)
    # The other chapters now wait a minute for a permit; Ctrl-C must not wait with them.
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=4)
    assert process.returncode == 130, err
    statuses = [c["status"] for c in manifest(tmp_path)["chapters"]]
    assert statuses.count("completed") == 1
    assert "running" not in statuses


def test_ctrl_c_with_process_workers(six: Path, tmp_path: Path) -> None:
    process = start(six, tmp_path, "--executor", "process")
    read_until(process, "chapter_completed", 1)
    process.send_signal(signal.SIGINT)  # workers ignore it; the coordinator stops them
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "running" not in [c["status"] for c in manifest(tmp_path)["chapters"]]
    assert (
        main(
            [
                "generate",
                "--source",
                str(six),
                "--output-dir",
                str(tmp_path / "books"),
                "--json",
                *FAST,
            ]
        )
        == 0
    )
    check_book_complete(tmp_path)
