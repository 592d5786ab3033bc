from __future__ import annotations

import pytest

from bookgen.analyzers.base import Finding
from bookgen.analyzers.leaks import LEAKS, strip_leaks
from tests.analyzers.helpers import BODY, CLEAN, draft


def test_chatter_at_both_ends_is_two_hard_findings() -> None:
    text = f"Sure! Here is chapter 3 of your story:\n\n{BODY}\n\nI hope you enjoyed it!"
    result = LEAKS(draft(text))
    assert result.score == 0.0
    assert result.findings == [
        Finding(
            "leaks",
            "hard",
            'The text opens with chatter to the user ("Sure! Here is chapter 3 of your story:"). '
            "Remove it and start directly with the story.",
        ),
        Finding(
            "leaks",
            "hard",
            'The text ends with chatter to the user ("I hope you enjoyed it!"). Remove it and end '
            "with the story itself.",
        ),
    ]


@pytest.mark.parametrize(
    "opening",
    [
        "Sure!",
        "Certainly! Here's the revised chapter.",
        "Of course. Below is the chapter.",
        "Okay, here is the next chapter.",
        "Here is the chapter you asked for:",
        "Here's Chapter 3: The Salt Ledger",
        "Here is the revised and expanded draft.",
        "Below is the full chapter, about 3,000 words.",
        "I've written the chapter with more dialogue, as requested.",
        "As an AI, I have done my best with this chapter.",
        "This chapter explores Ines's doubts about her uncle.",
        "In this chapter, Ines discovers the salt.",
        # What SmolLM2 opened a demo chapter with.
        "I'm glad you enjoyed this chapter. It's about a winter gale that knocks out the beacon.",
        "This is the final chapter of the story. This one focuses on the cliff path home.",
    ],
)
def test_chatter_at_the_start(opening: str) -> None:
    [finding] = LEAKS(draft(f"{opening}\n\n{BODY}")).findings
    assert finding.severity == "hard"
    assert finding.message.startswith(f'The text opens with chatter to the user ("{opening[:59]}')


@pytest.mark.parametrize(
    "closing",
    [
        "I hope you enjoyed this chapter!",
        "Glad you liked the story so far!",
        "The length of this chapter: about 15 pages.",
        "Let me know if you'd like any changes.",
        "Please let me know if you want a different ending.",
        "Would you like me to continue with chapter 4?",
        "Feel free to ask for revisions.",
        "I can also revise the tone if needed.",
        "Your feedback is welcome.",
        "I'd love to hear your thoughts on the pacing.",
        "Word count: 3,012",
        "Note: I kept the names from the outline.",
        "(Note: This chapter sets up the confrontation in chapter 4.)",
        "Author's note: the salt trade is loosely historical.",
        "[Note: names kept as in the bible]",
        "As a language model, I cannot visit Kellhaven.",
    ],
)
def test_chatter_at_the_end(closing: str) -> None:
    [finding] = LEAKS(draft(f"{BODY}\n\n{closing}")).findings
    assert finding.severity == "hard"
    assert finding.message.startswith(f'The text ends with chatter to the user ("{closing[:59]}')


def test_chatter_after_a_separator_is_still_at_the_end() -> None:
    [finding] = LEAKS(draft(f"{BODY}\n\n---\n\nLet me know if you want changes.")).findings
    assert finding.message.startswith('The text ends with chatter to the user ("Let me know if')


@pytest.mark.parametrize(
    "closing",
    [
        "“Let me know if he calls,” she said, and went out.",
        "“Sure!” said the mate.",
        "Here is the harbour, she thought, and here is the boat.",
        "Certainly the wind had dropped by then.",
        "She hoped the note would reach him in time.",
        "The mate had promised to let her know if the wind came back.",
        "This was the last chapter of a long war, and everyone on the quay knew it.",
        "She hoped the storm would pass; the length of this night frightened her.",
    ],
)
def test_prose_and_dialogue_at_the_edges_pass(closing: str) -> None:
    assert LEAKS(draft(f"{closing}\n\n{BODY}\n\n{closing}")).findings == []


def test_code_fences_are_hard() -> None:
    [finding] = LEAKS(draft(f"```markdown\n{BODY}\n```")).findings
    assert finding == Finding(
        "leaks", "hard", "The text contains code fences (```). Remove them; write plain prose."
    )


def test_speaking_as_a_language_model_mid_text_is_hard() -> None:
    text = f"{BODY}\n\nAs an AI language model, I cannot describe the salt.\n\n{BODY}"
    [finding] = LEAKS(draft(text)).findings
    assert finding.message == (
        'The text speaks as a language model ("As an AI language model"). Remove it; write '
        "only the story."
    )


@pytest.mark.parametrize(
    "said",
    [
        "AS AN AI LANGUAGE MODEL",
        "as a Large Language Model",
        "As a LANGUAGE model",
        "aſ an AI Language Model",
    ],
)
def test_speaking_as_a_language_model_is_found_in_any_case(said: str) -> None:
    text = f"{BODY}\n\nWell, {said}, I cannot.\n\n{BODY}"
    [finding] = LEAKS(draft(text)).findings
    assert f'("{said}")' in finding.message


def test_a_stray_heading_is_minor() -> None:
    result = LEAKS(draft(f"{BODY}\n\n## Part Two\n\n{BODY}"))
    assert result.score == pytest.approx(0.85)
    assert result.findings == [
        Finding(
            "leaks",
            "minor",
            'The text contains a markdown heading ("## Part Two"). Remove headings: the chapter '
            "title is added separately, and a blank line marks a scene break.",
        )
    ]


def test_a_leading_chapter_heading_is_minor_too() -> None:
    [finding] = LEAKS(draft(f"# Chapter 3: The Salt Ledger\n\n{BODY}")).findings
    assert finding.severity == "minor"


def test_clean_text_passes() -> None:
    assert LEAKS(draft(CLEAN)).findings == []


# --- strip_leaks -------------------------------------------------------------------------


def test_strip_leaks_removes_chatter_at_both_ends() -> None:
    text = (
        "Sure! Here is chapter 3:\n\n"
        "Rain fell on the harbour.\n\nInes waited.\n\n"
        "---\n\nI hope you enjoyed it! Let me know if you want changes."
    )
    assert strip_leaks(text) == "Rain fell on the harbour.\n\nInes waited."


def test_strip_leaks_removes_fences_and_a_leading_heading_but_keeps_the_prose() -> None:
    text = "```\n# Chapter 3\n\nRain fell.\n\n* * *\n\nInes waited.\n```"
    assert strip_leaks(text) == "Rain fell.\n\n* * *\n\nInes waited."


def test_strip_leaks_closes_the_gap_a_fence_leaves() -> None:
    assert strip_leaks("Rain fell.\n\n```\n\nInes waited.") == "Rain fell.\n\nInes waited."


def test_strip_leaks_leaves_clean_text_untouched() -> None:
    assert strip_leaks(CLEAN) is CLEAN
    assert strip_leaks("Rain fell.\n\n\n\nInes waited.\n") == "Rain fell.\n\n\n\nInes waited.\n"


def test_strip_leaks_then_analyze_is_clean() -> None:
    text = f"Certainly! Here is the chapter.\n\n```\n{BODY}\n```\n\nWord count: 236"
    assert LEAKS(draft(strip_leaks(text))).findings == []
    assert strip_leaks(text) == BODY
