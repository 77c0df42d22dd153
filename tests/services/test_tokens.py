"""Offline token estimation and its memo of long texts."""

from __future__ import annotations

from gateway.services import tokens
from gateway.services.tokens import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD_TOKENS,
    count_text,
    encoding,
    estimate_input_tokens,
)

LONG = "Prompt caching rewards prompts that stay the same. " * 100


def test_the_encoding_ships_with_the_installation():
    assert encoding().name.startswith("cl100k_base")
    assert count_text("hello world") == 2


def test_memoised_counts_equal_fresh_counts():
    tokens._memo.clear()
    fresh = len(encoding().encode_ordinary(LONG))

    assert count_text(LONG) == fresh
    assert count_text(LONG) == fresh
    assert count_text(LONG + "!") == len(encoding().encode_ordinary(LONG + "!"))


def test_special_token_text_counts_as_plain_text():
    assert count_text("<|endoftext|>") > 1


def test_the_memo_is_bounded_by_characters():
    memo = tokens._CountMemo(max_chars=len(LONG) * 2)
    for suffix in "abc":
        memo.count(LONG + suffix)

    assert memo._chars <= len(LONG) * 2 + 2
    assert LONG + "a" not in memo._counts and LONG + "c" in memo._counts


def test_a_request_is_estimated_from_system_messages_tools_and_images():
    request = {
        "system": [{"type": "text", "text": "Be brief."}],
        "tools": [{"name": "t", "input_schema": {"type": "object"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "source": {"type": "base64", "data": "x"}},
                ],
            }
        ],
    }
    expected = (
        count_text("Be brief.")
        + MESSAGE_OVERHEAD_TOKENS
        + count_text("What is this?")
        + IMAGE_TOKENS
        + count_text('[{"name":"t","input_schema":{"type":"object"}}]')
    )
    assert estimate_input_tokens(request) == expected
