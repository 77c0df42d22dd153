"""Dropping exact duplicate blocks within one message or the system prompt."""

from __future__ import annotations

from gateway.services.optimizer.base import Context
from gateway.services.optimizer.dedupe import DropDuplicates
from gateway.services.tokens import count_text

DOC = "Retrieved passage about caching and prefixes."
IMAGE = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"},
}


def apply(body: dict):
    return DropDuplicates().apply(body, Context(model=None, mode="safe"))


def text(value: str, **extra) -> dict:
    return {"type": "text", "text": value, **extra}


def test_a_repeated_block_in_one_message_is_dropped_and_its_tokens_counted():
    body = {
        "messages": [{"role": "user", "content": [text(DOC), text("Q?"), text(DOC)]}]
    }
    outcome = apply(body)

    assert body["messages"][0]["content"] == [text(DOC), text("Q?")]
    assert outcome.tokens_saved == count_text(DOC)


def test_repeated_images_and_system_blocks_are_dropped():
    body = {
        "system": [text("Rules."), text("Rules.")],
        "messages": [
            {"role": "user", "content": [IMAGE, text("What is it?"), dict(IMAGE)]}
        ],
    }
    apply(body)

    assert body["system"] == [text("Rules.")]
    assert body["messages"][0]["content"] == [IMAGE, text("What is it?")]


def test_the_same_block_in_different_messages_is_kept():
    body = {
        "messages": [
            {"role": "user", "content": [text("Again?")]},
            {"role": "assistant", "content": [text("Yes.")]},
            {"role": "user", "content": [text("Again?")]},
        ]
    }
    assert not apply(body).changed


def test_a_copy_carrying_the_clients_breakpoint_is_kept():
    marked = text(DOC, cache_control={"type": "ephemeral"})
    body = {"messages": [{"role": "user", "content": [text(DOC), marked]}]}

    assert not apply(body).changed
    assert body["messages"][0]["content"][1] is marked


def test_a_later_copy_is_dropped_even_if_the_first_carries_a_breakpoint():
    marked = text(DOC, cache_control={"type": "ephemeral"})
    body = {"messages": [{"role": "user", "content": [marked, text(DOC)]}]}
    apply(body)

    assert body["messages"][0]["content"] == [marked]


def test_tool_results_with_equal_content_are_never_dropped():
    results = [
        {"type": "tool_result", "tool_use_id": "a", "content": "same"},
        {"type": "tool_result", "tool_use_id": "b", "content": "same"},
        {"type": "tool_result", "tool_use_id": "b", "content": "same"},
    ]
    body = {"messages": [{"role": "user", "content": results}]}
    assert not apply(body).changed


def test_blocks_that_differ_only_in_extra_fields_are_kept():
    cited = text(DOC, citations=[{"type": "char_location", "cited_text": "x"}])
    body = {"messages": [{"role": "assistant", "content": [text(DOC), cited]}]}
    assert not apply(body).changed
