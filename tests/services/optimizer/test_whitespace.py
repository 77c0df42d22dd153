"""Trimming trailing whitespace and blank-line runs, with code and diffs left alone."""

from __future__ import annotations

from gateway.services.optimizer.base import Context
from gateway.services.optimizer.whitespace import Whitespace, tidy_text
from gateway.services.tokens import count_text


def apply(body: dict):
    return Whitespace().apply(body, Context(model=None, mode="safe"))


def test_trailing_spaces_and_tabs_go_and_blank_line_runs_become_one():
    text = "Title   \n\n\n\nFirst line.\t\nSecond line.  \n\n\n"
    assert tidy_text(text) == "Title\n\nFirst line.\nSecond line.\n\n"


def test_indentation_and_single_blank_lines_are_kept():
    text = "- item\n    - nested item\n\nNext paragraph."
    assert tidy_text(text) == text


def test_fenced_code_keeps_every_byte():
    code = "```python\ndef f():   \n\n\n\n    return 1  \n```\n"
    text = "Look:   \n\n\n\n" + code + "\n\n\nDone.   "
    tidy = tidy_text(text)

    assert code in tidy
    assert tidy.startswith("Look:\n\n```python")
    assert tidy.endswith("```\n\nDone.")


def test_tilde_fences_and_unclosed_fences_are_code_to_the_end():
    tilde = "~~~\nkeep   \n\n\n\n~~~\n"
    unclosed = "Intro  \n```\nstill code   \n\n\n\n"

    assert tidy_text("a  \n" + tilde) == "a\n" + tilde
    assert tidy_text(unclosed) == "Intro\n```\nstill code   \n\n\n\n"


def test_a_fence_of_the_other_kind_does_not_close_the_block():
    text = "```\nx   \n~~~\ny   \n```\nz   "
    assert tidy_text(text) == "```\nx   \n~~~\ny   \n```\nz"


def test_diffs_are_left_untouched():
    diff = "--- a/f.py\n+++ b/f.py\n@@ -1,3 +1,3 @@\n \n-old   \n+new\n \n\n\n"
    assert tidy_text(diff) == diff


def test_user_assistant_and_system_text_blocks_are_tidied_with_tokens_counted():
    messy = "Hello   \n\n\n\n\nWorld   "
    body = {
        "system": [{"type": "text", "text": messy}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": messy}]},
            {"role": "assistant", "content": [{"type": "text", "text": messy}]},
        ],
    }
    outcome = apply(body)

    assert body["system"][0]["text"] == "Hello\n\nWorld"
    assert all(m["content"][0]["text"] == "Hello\n\nWorld" for m in body["messages"])
    assert outcome.tokens_saved == 3 * (
        count_text(messy) - count_text("Hello\n\nWorld")
    )


def test_tool_results_are_left_untouched():
    output = "line with trailing   \n\n\n\nmore"
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": output}
                ],
            }
        ]
    }
    assert not apply(body).changed
    assert body["messages"][0]["content"][0]["content"] == output


def test_text_that_would_become_empty_is_kept():
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "   \n\n\n"}]}
        ]
    }
    assert not apply(body).changed


def test_turns_with_thinking_are_never_touched():
    turn = {
        "role": "assistant",
        "content": [
            {"type": "redacted_thinking", "data": "x"},
            {"type": "text", "text": "a   \n\n\n\nb"},
        ],
    }
    assert not apply({"messages": [turn]}).changed
