from __future__ import annotations

import pytest

from bookgen.analyzers.base import Finding
from bookgen.analyzers.truncation import TRUNCATION
from tests.analyzers.helpers import BODY, draft


def test_finish_reason_length_is_hard_even_if_the_text_looks_finished() -> None:
    result = TRUNCATION(draft(BODY, finish_reason="length"))
    assert result.score == 0.0
    assert result.findings == [
        Finding(
            "truncation",
            "hard",
            "The chapter was cut off at the output limit. Continue from where it stops, "
            "finish the last scene and end the chapter on a complete sentence.",
        )
    ]


def test_mid_sentence_ending_quotes_the_tail() -> None:
    [finding] = TRUNCATION(draft(BODY + " Then the mate turned to her and")).findings
    assert finding == Finding(
        "truncation",
        "hard",
        'The chapter stops mid-sentence ("…was ready to explain it. Then the mate turned to her and"). '
        "Finish the sentence and the scene, and end the chapter on a complete sentence.",
    )


def test_short_text_mid_sentence_is_quoted_whole() -> None:
    [finding] = TRUNCATION(draft("She opened the door and")).findings
    assert finding.message.startswith('The chapter stops mid-sentence ("She opened the door and").')


def test_unclosed_quote_in_the_last_paragraph_is_hard() -> None:
    text = BODY + "\n\n“Wait,” she said. “There is one more thing I have to tell you."
    [finding] = TRUNCATION(draft(text)).findings
    assert finding.severity == "hard"
    assert finding.message.startswith("The chapter ends inside an unclosed quotation.")


def test_unclosed_straight_quote_is_hard() -> None:
    assert TRUNCATION(draft(BODY + '\n\n"Wait," she said. "There is one more thing.')).hard


@pytest.mark.parametrize(
    "ending",
    [
        "She slept.",
        "Was it over?",
        "Run!",
        "“Go home,” he said. “Now.”",
        '"Go home," he said. "Now."',
        "She waited…",
        "She waited...",
        "(It was not.)",
        "*She slept.*",
        "She said it was ‘nothing’",
    ],
)
def test_finished_endings_pass(ending: str) -> None:
    assert TRUNCATION(draft(BODY + "\n\n" + ending + "\n")).findings == []


def test_an_open_quote_in_an_earlier_paragraph_is_the_multi_paragraph_convention() -> None:
    text = "“The first part of a long speech.\n\n“And the end of it,” she said.\n\nThey left."
    assert TRUNCATION(draft(text)).findings == []


def test_empty_text_is_left_to_the_length_analyzer() -> None:
    assert TRUNCATION(draft("   ")).findings == []
