"""Replaying a stored message as Anthropic events, and rebuilding one from events."""

from __future__ import annotations

import copy

import orjson
import pytest

from gateway.services.message_events import (
    TEXT_PIECE_CHARS,
    MessageAccumulator,
    replay_events,
    replay_stream,
)
from gateway.sse import SSEEvent, encode_event, iter_events
from tests.services.cache_fakes import message

THINKING_MESSAGE = message(
    content=[
        {"type": "thinking", "thinking": "Two and two.", "signature": "c2lnbmF0dXJl"},
        {
            "type": "text",
            "text": "4",
            "citations": [{"type": "char_location", "cited_text": "4"}],
        },
        {"type": "redacted_thinking", "data": "opaque"},
    ],
    stop_reason="end_turn",
)


def rebuilt(events) -> dict | None:
    accumulator = MessageAccumulator()
    for event in events:
        accumulator.observe(event)
    return accumulator.result()


@pytest.mark.parametrize(
    "original",
    [
        message(),
        THINKING_MESSAGE,
        message(content=[{"type": "text", "text": "x" * (3 * TEXT_PIECE_CHARS + 7)}]),
        message(
            content=[{"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}}]
        ),
        message(content=[], stop_reason="max_tokens"),
        message(stop_reason="stop_sequence", stop_sequence="\n\nHuman:"),
    ],
    ids=[
        "text-and-tool",
        "thinking",
        "long-text",
        "no-arguments",
        "empty",
        "stop-sequence",
    ],
)
def test_a_replayed_message_rebuilds_to_the_same_message(original):
    assert rebuilt(replay_events(copy.deepcopy(original))) == original


def test_replayed_events_follow_anthropics_order_and_framing():
    events = list(replay_events(message()))
    names = [event.name for event in events]

    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    for event in events:
        assert orjson.loads(event.data)["type"] == event.name
        assert event.raw == encode_event(event.name, orjson.loads(event.data))


def test_message_start_has_empty_content_and_message_delta_the_full_usage():
    events = list(replay_events(message()))
    start = events[0].json()["message"]
    delta = events[-2].json()

    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["input_tokens"] == 20 and start["usage"]["output_tokens"] == 1
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 30


def test_tool_input_is_streamed_as_json_from_an_empty_start():
    events = list(replay_events(message()))
    start, delta = events[4].json(), events[5].json()

    assert start["content_block"] == {
        "type": "tool_use",
        "id": "toolu_01",
        "name": "calculator",
        "input": {},
    }
    assert (
        orjson.loads(delta["delta"]["partial_json"]) == message()["content"][1]["input"]
    )


def test_long_text_is_replayed_in_pieces():
    text = "y" * (2 * TEXT_PIECE_CHARS + 1)
    deltas = [
        e.json()["delta"]["text"]
        for e in replay_events(message(content=[{"type": "text", "text": text}]))
        if e.name == "content_block_delta"
    ]
    assert len(deltas) == 3 and "".join(deltas) == text


async def test_replay_stream_completes_like_an_upstream_stream():
    stream = replay_stream(message())
    events = [event async for event in stream]

    assert stream.completed
    assert rebuilt(events) == message()


async def test_replayed_bytes_parse_back_into_the_same_events():
    raw = b"".join(event.raw for event in replay_events(THINKING_MESSAGE))

    async def chunks():
        for i in range(0, len(raw), 7):
            yield raw[i : i + 7]

    parsed = [event async for event in iter_events(chunks())]
    assert rebuilt(parsed) == THINKING_MESSAGE


def _event(name: str, payload: dict) -> SSEEvent:
    return SSEEvent(name, orjson.dumps(payload), encode_event(name, payload))


def test_a_stream_without_message_stop_rebuilds_nothing():
    events = list(replay_events(message()))[:-1]
    assert rebuilt(events) is None


def test_a_stream_with_an_error_event_rebuilds_nothing():
    events = list(replay_events(message()))
    error = _event(
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "x"}},
    )

    assert rebuilt([*events[:3], error, *events[3:]]) is None


def test_pings_and_unknown_events_are_ignored():
    events = list(replay_events(message()))
    ping = _event("ping", {"type": "ping"})
    unknown = _event("future_event", {"type": "future_event"})

    assert rebuilt([events[0], ping, unknown, *events[1:]]) == message()


def test_tool_input_split_across_deltas_with_an_empty_first_piece_is_joined():
    events = list(replay_events(message()))
    whole = events[5].json()["delta"]["partial_json"]
    pieces = ["", whole[:5], whole[5:]]
    split = [
        _event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": piece},
            },
        )
        for piece in pieces
    ]
    assert rebuilt([*events[:5], *split, *events[6:]]) == message()


def test_invalid_tool_json_rebuilds_nothing():
    events = list(replay_events(message()))
    broken = _event(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"a": '},
        },
    )
    assert rebuilt([*events[:5], broken, *events[6:]]) is None
