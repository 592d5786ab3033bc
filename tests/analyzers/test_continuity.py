from __future__ import annotations

from collections import Counter

import pytest

from bookgen.analyzers.base import Finding
from bookgen.analyzers.continuity import CONTINUITY, names_in
from tests.analyzers.helpers import BODY, CLEAN, KNOWN, draft

NADIA = " Nadia was waiting on the pier. Ines gave Nadia the notebook and said nothing."


def test_an_unknown_name_is_major_and_named() -> None:
    result = CONTINUITY(draft(BODY + NADIA))
    assert result.score == pytest.approx(0.75)
    assert result.findings == [
        Finding(
            "continuity",
            "major",
            "Nadia appears 2 times but is not in the outline or story bible. Use the established "
            "characters, or give Nadia's part to one of them.",
        )
    ]


def test_a_required_character_who_never_appears_is_major() -> None:
    result = CONTINUITY(draft(BODY, required_names=frozenset({"Tobias Wren", "Ines"})))
    assert result.findings == [
        Finding(
            "continuity",
            "major",
            "Tobias Wren should appear in this chapter (its contract lists them) but never does. "
            "Bring Tobias Wren into the chapter as the contract requires.",
        )
    ]


def test_any_part_of_a_required_name_counts_but_not_a_title() -> None:
    text = BODY + " Her uncle Wren was not there."
    assert CONTINUITY(draft(text, required_names=frozenset({"Tobias Wren"}))).findings == []
    [finding] = CONTINUITY(draft(BODY, required_names=frozenset({"Captain Rhee"}))).findings
    assert finding.message.startswith("Captain Rhee should appear")


def test_names_need_two_uses_one_mid_sentence() -> None:
    assert names_in("Nadia ran. Nadia hid.") == Counter()  # only ever sentence-initial
    assert names_in("She saw Nadia.") == Counter()  # once
    assert names_in("Nadia ran. Then she saw Nadia.") == Counter({"Nadia": 2})


def test_words_also_used_in_lower_case_are_not_names() -> None:
    text = "The wind rose. She said Harbour twice, Harbour, and walked to the harbour."
    assert names_in(text) == Counter()


def test_titles_calendar_words_and_things_after_the_are_not_names() -> None:
    text = (
        "On Monday she met the Guild. Later she asked Captain Osk about the Guild and about "
        "Monday. The Harbour Office was shut. She went to the Harbour Office again. “Where?” "
        "I asked. I waited."
    )
    assert names_in(text) == Counter()  # and "Osk", once, is not a name yet


def test_known_names_and_title_words_pass() -> None:
    text = BODY + " Tobias Wren met Osk at the pier in Kellhaven, and Osk and Tobias talked."
    assert CONTINUITY(draft(text)).findings == []
    salt = BODY + " She thought of Ledger and Salt. Ledger, Salt: words on a cover."
    assert CONTINUITY(draft(salt, title="The Salt Ledger")).findings == []


def test_without_a_cast_list_unknown_names_are_not_judged() -> None:
    assert CONTINUITY(draft(BODY + NADIA, known_names=frozenset())).findings == []


def test_at_most_five_unknown_names_are_reported_most_frequent_first() -> None:
    names = ["Anna", "Boris", "Clara", "Dmitri", "Elsa", "Farid"]
    text = " ".join(f"Then {name} came. She met {name}." for name in names)
    text += " Later Farid left and Farid returned."
    findings = CONTINUITY(draft(text)).findings
    assert [f.message.split()[0] for f in findings] == ["Farid", "Anna", "Boris", "Clara", "Dmitri"]
    assert CONTINUITY(draft(text)).score == 0.0


def test_clean_chapter_uses_only_its_cast() -> None:
    assert set(names_in(CLEAN)) <= {word for name in KNOWN for word in name.split()}
    assert CONTINUITY(draft(CLEAN, required_names=frozenset({"Osk", "Tobias"}))).findings == []


def test_the_first_word_of_a_quotation_is_not_a_name() -> None:
    text = "He said, “Listen to me.” She said, “Listen yourself.” Then he left."
    assert names_in(text) == Counter()


def test_a_name_after_a_title_abbreviation_is_mid_sentence() -> None:
    assert names_in("Mr. Holt ran. Mr. Holt hid.") == Counter({"Holt": 2})
