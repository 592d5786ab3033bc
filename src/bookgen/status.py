"""What ``bookgen status`` shows: a book's chapters and totals, as a table or JSON."""

from __future__ import annotations

from typing import Any

from bookgen.models import Manifest
from bookgen.store import BookStore

TOTAL_KEYS = ("words", "calls", "prompt_tokens", "completion_tokens", "duration")


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
            "seconds": state.duration,
            "file": state.file,
            "file_exists": state.file is not None and (store.root / state.file).is_file(),
            "provider": state.provider,
            "model": state.model,
            "error": state.error,
        }
        for state in manifest.chapters
    ]
    states = manifest.chapters
    statuses = [state.status for state in states]
    totals: dict[str, Any] = {
        "chapters": len(states),
        **{name: statuses.count(name) for name in ("completed", "failed", "pending", "running")},
        "words": sum(state.words for state in states),
        "calls": sum(state.calls for state in states),
        "prompt_tokens": sum(state.prompt_tokens for state in states),
        "completion_tokens": sum(state.completion_tokens for state in states),
        "seconds": round(sum(state.duration for state in states), 3),
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
    headers = ["#", "title", "status", "words", "calls", "seconds", "error"]
    rows = [
        [
            str(c["number"]),
            _clip(c["title"], 36),
            c["status"]
            + ("" if c["file_exists"] or c["status"] != "completed" else " (file missing)"),
            f"{c['words']:,}",
            str(c["calls"]),
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
            f"{t['words']:,}",
            str(t["calls"]),
            f"{t['seconds']:.1f}",
            f"{t['failed']} failed" if t["failed"] else "",
        ]
    )
    right = {0, 3, 4, 5}
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    out = [f"{data['title']}  ({data['folder']})", line(headers), line(["-" * w for w in widths])]
    out += [line(row) for row in rows[:-1]]
    out += [line(["-" * w for w in widths]), line(rows[-1])]
    return "\n".join(out)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
