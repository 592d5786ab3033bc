"""Texts and drafts shared by the analyzer tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from bookgen.analyzers.base import Draft

FIXTURES = Path(__file__).parent / "fixtures"
# A clean chapter of 3,010 words: the fixture every analyzer must pass without a finding.
CLEAN = (FIXTURES / "clean_3000.txt").read_text(encoding="utf-8")
KNOWN = frozenset({"Ines Calder", "Tobias Wren", "Osk", "Kellhaven", "Marrow Point"})
# Varied, clean prose of about 200 words, for analyzers that need some body around a defect.
BODY = (
    "The ferry left at dawn. Ines stood at the rail with her collar up and watched the town "
    "shrink to a row of grey roofs above the water. Gulls followed for a while, then gave up. "
    "She had packed in a hurry: two shirts, the ledger, a loaf wrapped in paper, and the "
    "notebook with the cracked cover that her uncle had pressed into her hands on the pier. "
    "The crossing would take most of the day if the wind held. It did not. By noon the sails "
    "hung slack and the crew sat on coils of rope, smoking and arguing about the price of "
    "tar. “We’ll be lucky to see the other side before dark,” the mate told her. “Then "
    "I’ll read,” Ines said, and she did. She read the notebook twice from cover to cover, and on the second pass "
    "she began to see a pattern in the figures that she had missed the night before. Every "
    "third entry was short by exactly one sack. Not stolen, then. Counted wrong, always in "
    "the same place, by the same tired hand. She closed the book and looked out at the flat "
    "water. Somebody in Kellhaven had been making the same small mistake for a year, and "
    "nobody had noticed because nobody had ever added the columns across instead of down. "
    "When the wind came back in the late afternoon, she was ready to explain it."
)


def draft(text: str, **changes: Any) -> Draft:
    """Chapter 3 of a longer book, 3,000 words asked, the fixture's cast known."""
    base = Draft(text, 3, "The Salt Ledger", 3000, known_names=KNOWN)
    return replace(base, **changes)
