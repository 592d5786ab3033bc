"""The order in which chapters are admitted.

- ``outline``: outline order.
- ``longest``: longest target first. Longest-processing-time-first keeps the
  makespan within 4/3 of the optimum when chapters differ in length, because the
  short ones fill the gaps the long ones leave at the end.
- ``priority`` (default): chapters marked ``priority`` in the outline, then the
  opening and the final chapter (they set and resolve the book), then the rest
  longest-first.
"""

from __future__ import annotations

from typing import Literal

from bookgen.models import BookSpec

Schedule = Literal["outline", "priority", "longest"]
SCHEDULES: tuple[Schedule, ...] = ("priority", "outline", "longest")


def order(book: BookSpec, numbers: list[int], schedule: Schedule) -> list[int]:
    """``numbers`` (chapters of ``book``) in the order ``schedule`` admits them."""
    position = {n: i for i, n in enumerate(book.numbers)}
    outline_order = sorted(numbers, key=position.__getitem__)
    if schedule == "outline":
        return outline_order

    def longest_first(number: int) -> tuple[int, int]:
        return (-book.target_for(book.chapter(number)), position[number])

    if schedule == "longest":
        return sorted(outline_order, key=longest_first)
    ends = {book.numbers[0], book.numbers[-1]}
    marked = [n for n in outline_order if book.chapter(n).priority]
    opening_and_final = [n for n in outline_order if n in ends and n not in marked]
    rest = sorted(
        (n for n in outline_order if n not in ends and n not in marked), key=longest_first
    )
    return marked + opening_and_final + rest
