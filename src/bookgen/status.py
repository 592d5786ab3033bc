"""What ``bookgen status`` shows: a book's chapters and totals, as a table or JSON."""

from __future__ import annotations

from typing import Any

from bookgen.models import Manifest
from bookgen.store import BookStore

TOTAL_KEYS = ("words", "calls", "prompt_tokens", "completion_tokens", "duration")


def book_cost(manifest: Manifest) -> float | None:
    """What the book has cost so far, over every chapter paid for (detached ones too) and
    the planning calls; None if any price was unknown."""
    paid = [*manifest.chapters, *manifest.detached]
    if any(state.cost_usd is None for state in paid) or manifest.planning_cost_usd is None:
        return None
    return known_cost(manifest)


def known_cost(manifest: Manifest) -> float:
    """``book_cost`` with unknown prices counted as nothing: what ``--max-cost`` can
    hold the book's spending against."""
    paid = [*manifest.chapters, *manifest.detached]
    return round(
        sum(state.cost_usd or 0.0 for state in paid) + (manifest.planning_cost_usd or 0.0), 6
    )


def status_data(store: BookStore, manifest: Manifest) -> dict[str, Any]:
    chapters = [
        {
            "number": state.number,
            "title": state.title,
            "status": state.status,
            "words": state.words,
            "calls": state.calls,
            "attempts": state.attempts,
            "prompt_tokens": state.prompt_tokens,
            "completion_tokens": state.completion_tokens,
            "cached_prompt_tokens": state.cached_prompt_tokens,
            "usage_estimated": state.usage_estimated,
            "cost_usd": state.cost_usd,
            "providers": state.providers,
            "seconds": state.duration,
            "score": state.score,
            "needs_review": state.needs_review,
            "file": state.file,
            "file_exists": state.file is not None and (store.root / state.file).is_file(),
            "provider": state.provider,
            "model": state.model,
            "error": state.error,
        }
        for state in manifest.chapters
    ]
    states = manifest.chapters
    paid = [*manifest.chapters, *manifest.detached]
    statuses = [state.status for state in states]
    totals: dict[str, Any] = {
        "chapters": len(states),
        **{name: statuses.count(name) for name in ("completed", "failed", "pending", "running")},
        "words": sum(state.words for state in states),
        "calls": sum(state.calls for state in states) + manifest.planning_calls,
        "prompt_tokens": sum(state.prompt_tokens for state in states)
        + manifest.planning_usage.prompt_tokens,
        "completion_tokens": sum(state.completion_tokens for state in states)
        + manifest.planning_usage.completion_tokens,
        "seconds": round(sum(state.duration for state in states), 3),
        "cached_prompt_tokens": sum(state.cached_prompt_tokens for state in paid),
        "cache_hit_ratio": _ratio(
            sum(state.cached_prompt_tokens for state in paid),
            sum(state.prompt_tokens for state in paid),
        ),
        "cost_usd": book_cost(manifest),
        "usage_estimated": any(state.usage_estimated for state in paid),
    }
    return {
        "book": manifest.book,
        "title": manifest.title,
        "folder": str(store.root),
        "source": manifest.source,
        "chapters": chapters,
        "totals": totals,
    }


def status_table(data: dict[str, Any]) -> str:
    headers = ["#", "title", "status", "score", "words", "calls", "cost", "seconds", "error"]
    rows = [
        [
            str(c["number"]),
            _clip(c["title"], 36),
            c["status"]
            + ("" if c["file_exists"] or c["status"] != "completed" else " (file missing)")
            + (" (needs review)" if c["needs_review"] else ""),
            "-" if c["score"] is None else f"{c['score']:.2f}",
            f"{c['words']:,}",
            str(c["calls"]),
            cost_text(c["cost_usd"]),
            f"{c['seconds']:.1f}",
            _clip(c["error"] or "", 50),
        ]
        for c in data["chapters"]
    ]
    t = data["totals"]
    rows.append(
        [
            "",
            "total",
            f"{t['completed']}/{t['chapters']} completed",
            "",
            f"{t['words']:,}",
            str(t["calls"]),
            cost_text(t["cost_usd"]),
            f"{t['seconds']:.1f}",
            f"{t['failed']} failed" if t["failed"] else "",
        ]
    )
    right = {0, 3, 4, 5, 6, 7}
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    out = [f"{data['title']}  ({data['folder']})", line(headers), line(["-" * w for w in widths])]
    out += [line(row) for row in rows[:-1]]
    out += [line(["-" * w for w in widths]), line(rows[-1])]
    out += [f"usage: {usage_line(t)}"]
    return "\n".join(out)


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def cost_text(cost: float | None) -> str:
    return "unknown" if cost is None else f"${cost:.4f}"


def usage_line(totals: dict[str, Any]) -> str:
    """``12,345 prompt (25% cached) + 6,789 completion tokens, cost $0.0123``"""
    estimated = " (partly estimated)" if totals["usage_estimated"] else ""
    return (
        f"{totals['prompt_tokens']:,} prompt ({totals['cache_hit_ratio']:.0%} cached) + "
        f"{totals['completion_tokens']:,} completion tokens{estimated}, "
        f"cost {cost_text(totals['cost_usd'])}"
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def report_data(manifest: Manifest) -> dict[str, Any]:
    """Per chapter: the final score, each analyzer's score, iterations used, open findings."""
    chapters = []
    for state in manifest.chapters:
        final = _final_iteration(state.iterations)
        chapters.append(
            {
                "number": state.number,
                "title": state.title,
                "status": state.status,
                "score": state.score,
                "needs_review": state.needs_review,
                "iterations": len(state.iterations),
                "calls": state.calls,
                "analyzers": final.get("scores", {}) if final else {},
                "findings": final.get("findings", []) if final else [],
            }
        )
    return {"book": manifest.book, "title": manifest.title, "chapters": chapters}


def _final_iteration(iterations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The version that was kept: the best by (acceptable, score), as the loop chose."""
    if not iterations:
        return None
    return max(iterations, key=lambda it: (bool(it.get("acceptable")), float(it.get("score", 0.0))))


def report_text(data: dict[str, Any]) -> str:
    lines = [f"{data['title']}: quality report"]
    for c in data["chapters"]:
        score = "-" if c["score"] is None else f"{c['score']:.2f}"
        flag = ", needs review" if c["needs_review"] else ""
        lines.append(
            f'chapter {c["number"]} "{c["title"]}": {c["status"]}, score {score}, '
            f"{plural_iterations(c['iterations'])}{flag}"
        )
        if c["analyzers"]:
            lines.append(
                "  " + ", ".join(f"{name} {value:.2f}" for name, value in c["analyzers"].items())
            )
        for finding in c["findings"]:
            lines.append(f"  - [{finding['severity']}] {finding['message']}")
    return "\n".join(lines)


def plural_iterations(count: int) -> str:
    return f"{count} iteration" + ("" if count == 1 else "s")
