from __future__ import annotations

import pytest

from bookgen.models import BookSpec, ChapterSpec
from bookgen.schedule import order

BOOK = BookSpec(
    title="T",
    target_words=1000,
    chapters=[
        ChapterSpec(number=1, title="Opening"),
        ChapterSpec(number=2, title="Short", target_words=500),
        ChapterSpec(number=3, title="Long", target_words=3000),
        ChapterSpec(number=4, title="Marked", priority=True),
        ChapterSpec(number=5, title="Mid", target_words=2000),
        ChapterSpec(number=6, title="Final"),
    ],
)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("outline", [1, 2, 3, 4, 5, 6]),
        ("longest", [3, 5, 1, 4, 6, 2]),
        ("priority", [4, 1, 6, 3, 5, 2]),
    ],
)
def test_orders(schedule: str, expected: list[int]) -> None:
    assert order(BOOK, [6, 5, 4, 3, 2, 1], schedule) == expected  # type: ignore[arg-type]


def test_subset_keeps_the_rules() -> None:
    assert order(BOOK, [2, 3, 6], "priority") == [6, 3, 2]
    assert order(BOOK, [2, 5], "longest") == [5, 2]
