from __future__ import annotations

import random

import pytest

from bookgen.analyzers.base import Finding
from bookgen.analyzers.ending import ENDING
from tests.analyzers.helpers import BODY, draft


def test_the_end_on_its_own_line_ends_chapter_3_too_early() -> None:
    result = ENDING(draft(BODY + "\n\nTHE END"))
    assert result.score == 0.0
    assert result.findings == [
        Finding(
            "ending",
            "hard",
            'Chapter 3 ends the book ("THE END"), but more chapters follow. Remove "THE END" and '
            "anything that reads like an epilogue, and end the chapter with the story moving on "
            "toward the next one.",
        )
    ]


@pytest.mark.parametrize(
    ("tail", "marker"),
    [
        ("\n\nThe End", "The End"),
        ("\n\n**The End.**", "The End"),
        ("\n\n# THE END", "THE END"),
        ("\n\n— Fin —", "Fin"),
        ("\n\nTo be continued...", "To be continued"),
        ("\n\n*To Be Continued*", "To Be Continued"),
        (" The end.", "The end"),
        (" The End!", "The End"),
        (" THE END", "THE END"),
        (" And so it was to be continued.", None),
        ("\n\nEpilogue\n\nTen years later the harbour was full of boats.", "Epilogue"),
        ("\n\n## Epilogue: Ten Years Later\n\nThe harbour was full of boats.", "Epilogue"),
    ],
)
def test_markers(tail: str, marker: str | None) -> None:
    findings = ENDING(draft(BODY + tail)).findings
    if marker is None:
        assert findings == []
    else:
        [finding] = findings
        assert finding.severity == "hard"
        assert finding.message.startswith(f'Chapter 3 ends the book ("{marker}")')


@pytest.mark.parametrize(
    "tail",
    [
        " She knew this was the end.",
        " It was the end of the pier, and the end of the day.",
        "\n\n“The end,” she said, “is not yet.” They walked on.",
        "\n\nEpilogue was the word her uncle used for the years after the war, and he said it "
        "often.",
        " Fin slept in the boat.",
    ],
)
def test_prose_that_mentions_an_end_passes(tail: str) -> None:
    assert ENDING(draft(BODY + tail)).findings == []


def test_the_last_chapter_may_end_the_book() -> None:
    assert ENDING(draft(BODY + "\n\nTHE END", is_last=True)).findings == []
    assert ENDING(draft(BODY + "\n\nEpilogue\n\nYears later.", is_last=True)).score == 1.0


def test_the_closing_marker_is_looked_for_where_a_whole_search_finds_it() -> None:
    from bookgen.analyzers.ending import _TAIL, _tail_start

    rng = random.Random(9)
    parts = [
        *["The End", "THE END", "the end", "To Be Continued", "end of the book"],
        *["End of Story", "end of book", "end of the story", "she slept", "x", "End", "book"],
        *["*", "_", "#", " ", "\n", "***", "\t", ".", "!", "…", "?", '"', "”", "’", "\u2028"],
    ]
    texts = ["".join(rng.choice(parts) for _ in range(rng.randint(0, 14))) for _ in range(5000)]
    for text in [BODY + "\n\nTHE END", BODY + "\n\n*** The End ***", *texts]:
        tail = text.rstrip()
        whole = _TAIL.search(tail)
        found = _TAIL.search(tail, _tail_start(tail))
        assert (found and found.group(1)) == (whole and whole.group(1)), repr(text)
