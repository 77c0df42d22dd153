"""String content written as one text block, so every message can carry a breakpoint."""

from __future__ import annotations

from gateway.services.optimizer.base import Context
from gateway.services.optimizer.normalize import BlockContent
from gateway.services.tokens import estimate_input_tokens


def apply(body: dict):
    return BlockContent().apply(body, Context(model=None, mode="safe"))


def test_string_system_and_message_content_become_single_text_blocks():
    body = {
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
        ],
    }
    outcome = apply(body)

    assert outcome.changed and outcome.tokens_saved == 0
    assert body["system"] == [{"type": "text", "text": "Be brief."}]
    assert body["messages"][0]["content"] == [{"type": "text", "text": "Hi"}]


def test_a_message_is_written_the_same_whether_or_not_it_is_the_newest():
    short = {"messages": [{"role": "user", "content": "Hi"}]}
    longer = {
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Bye"},
        ]
    }
    apply(short)
    apply(longer)

    assert short["messages"][0] == longer["messages"][0]


def test_the_token_estimate_is_unchanged():
    body = {
        "system": "Rules here.",
        "messages": [{"role": "user", "content": "Question?"}],
    }
    before = estimate_input_tokens(body)
    apply(body)
    assert estimate_input_tokens(body) == before


def test_empty_strings_and_block_lists_are_left_alone():
    body = {"system": "", "messages": [{"role": "user", "content": ""}]}
    assert not apply(body).changed
