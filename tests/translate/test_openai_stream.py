"""Anthropic stream events translated into OpenAI chunks (the vendors' API references)."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import orjson
import pytest
from openai.types.chat import ChatCompletionChunk

from gateway.translate.openai_stream import DONE, OpenAIStreamTranslator

START_USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 100,
    "cache_read_input_tokens": 2000,
    "output_tokens": 1,
}


def message_start(usage: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage or START_USAGE,
    }
    return {"type": "message_start", "message": message}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def text_delta(index: int, value: str) -> dict[str, Any]:
    return block_delta(index, {"type": "text_delta", "text": value})


def json_delta(index: int, fragment: str) -> dict[str, Any]:
    return block_delta(index, {"type": "input_json_delta", "partial_json": fragment})


def block_stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(stop_reason: str, usage: dict[str, Any]) -> dict[str, Any]:
    delta = {"stop_reason": stop_reason, "stop_sequence": None}
    return {"type": "message_delta", "delta": delta, "usage": usage}


MESSAGE_STOP = {"type": "message_stop"}
PING = {"type": "ping"}


def text_stream() -> list[dict[str, Any]]:
    return [
        message_start(),
        PING,
        block_start(0, {"type": "text", "text": ""}),
        text_delta(0, "Hel"),
        text_delta(0, "lo"),
        block_stop(0),
        message_delta("end_turn", {"output_tokens": 7}),
        MESSAGE_STOP,
    ]


def tool_stream() -> list[dict[str, Any]]:
    return [
        message_start(),
        block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        block_delta(0, {"type": "thinking_delta", "thinking": "Plan."}),
        block_delta(0, {"type": "signature_delta", "signature": "sig"}),
        block_stop(0),
        block_start(1, {"type": "text", "text": ""}),
        text_delta(1, "Checking."),
        block_stop(1),
        block_start(
            2, {"type": "tool_use", "id": "toolu_a", "name": "weather", "input": {}}
        ),
        json_delta(2, ""),
        json_delta(2, '{"city": '),
        json_delta(2, '"Paris"}'),
        block_stop(2),
        block_start(
            3, {"type": "tool_use", "id": "toolu_b", "name": "now", "input": {}}
        ),
        json_delta(3, ""),
        block_stop(3),
        message_delta("tool_use", {"output_tokens": 40}),
        MESSAGE_STOP,
    ]


def translator(include_usage: bool = False, **options: Any) -> OpenAIStreamTranslator:
    return OpenAIStreamTranslator(
        "chatcmpl-1", 1700000000, "m", include_usage, **options
    )


def run(events: list[dict[str, Any]], stream: OpenAIStreamTranslator) -> bytes:
    return b"".join(stream.feed(event) for event in events)


def frames(raw: bytes) -> list[Any]:
    """Split SSE output into parsed data payloads, checking the framing."""
    assert raw.endswith(b"\n\n")
    payloads = []
    for frame in raw[:-2].split(b"\n\n"):
        assert frame.startswith(b"data: ")
        assert b"\n" not in frame
        data = frame[len(b"data: ") :]
        payloads.append("[DONE]" if data == b"[DONE]" else orjson.loads(data))

    return payloads


def chunks(raw: bytes) -> list[dict[str, Any]]:
    """The chunk payloads, each proven acceptable to the OpenAI SDK's type."""
    payloads = [payload for payload in frames(raw) if payload != "[DONE]"]
    for payload in payloads:
        ChatCompletionChunk.model_validate(payload)

    return payloads


def deltas(raw: bytes) -> list[dict[str, Any]]:
    return [chunk["choices"][0]["delta"] for chunk in chunks(raw) if chunk["choices"]]


def test_text_stream_becomes_role_content_finish_and_done() -> None:
    raw = run(text_stream(), translator())

    assert frames(raw)[-1] == "[DONE]"
    assert chunks(raw) == [
        chunk_with({"role": "assistant", "content": ""}),
        chunk_with({"content": "Hel"}),
        chunk_with({"content": "lo"}),
        chunk_with({}, "stop"),
    ]


def chunk_with(
    delta: dict[str, Any], finish_reason: str | None = None
) -> dict[str, Any]:
    choice = {
        "index": 0,
        "delta": delta,
        "logprobs": None,
        "finish_reason": finish_reason,
    }
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "system_fingerprint": None,
        "choices": [choice],
    }


def test_frames_carry_no_event_lines() -> None:
    raw = run(text_stream(), translator())

    assert b"event:" not in raw


def test_ping_and_block_stop_produce_nothing() -> None:
    stream = translator()
    stream.feed(message_start())

    assert stream.feed(PING) == b""
    assert stream.feed(block_stop(0)) == b""


def test_tool_use_becomes_tool_call_pieces_indexed_among_tool_calls() -> None:
    raw = run(tool_stream(), translator())

    assert deltas(raw) == [
        {"role": "assistant", "content": ""},
        {"content": "Checking."},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "toolu_a",
                    "type": "function",
                    "function": {"name": "weather", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "toolu_b",
                    "type": "function",
                    "function": {"name": "now", "arguments": ""},
                }
            ]
        },
        {},
    ]
    assert chunks(raw)[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_thinking_produces_no_chunks() -> None:
    raw = run(tool_stream(), translator())

    assert b"Plan." not in raw
    assert b"sig" not in raw


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_message_delta_carries_the_mapped_finish_reason(
    stop_reason: str, finish_reason: str
) -> None:
    stream = translator()
    stream.feed(message_start())
    raw = stream.feed(message_delta(stop_reason, {"output_tokens": 3}))

    assert chunks(raw) == [chunk_with({}, finish_reason)]
    assert stream.stop_reason == stop_reason


def test_include_usage_adds_null_usage_then_a_final_usage_chunk() -> None:
    raw = run(text_stream(), translator(include_usage=True))
    parsed = chunks(raw)

    assert all(chunk["usage"] is None for chunk in parsed[:-1])
    assert parsed[-1]["choices"] == []
    assert parsed[-1]["usage"] == {
        "prompt_tokens": 2112,
        "completion_tokens": 7,
        "total_tokens": 2119,
        "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert frames(raw)[-1] == "[DONE]"


def test_without_include_usage_chunks_have_no_usage_key() -> None:
    raw = run(text_stream(), translator())

    assert all("usage" not in chunk for chunk in chunks(raw))


def test_final_extra_adds_fields_to_the_usage_chunk() -> None:
    seen: list[dict[str, Any]] = []

    def cost(usage: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(usage))
        return {"cost": {"total_cost": 0.5}}

    raw = run(text_stream(), translator(include_usage=True, final_extra=cost))

    assert chunks(raw)[-1]["cost"] == {"total_cost": 0.5}
    assert seen[0]["output_tokens"] == 7


def test_usage_accumulates_input_from_start_and_cumulative_output() -> None:
    stream = translator()
    run(text_stream()[:-2], stream)
    stream.feed(message_delta("end_turn", {"output_tokens": 9, "input_tokens": None}))

    assert stream.usage == {**START_USAGE, "output_tokens": 9}


def test_repeated_counts_in_message_delta_replace_the_start_counts() -> None:
    stream = translator()
    stream.feed(message_start())
    final = {"input_tokens": 15, "cache_read_input_tokens": 2000, "output_tokens": 4}
    stream.feed(message_delta("end_turn", final))

    assert stream.usage["input_tokens"] == 15
    assert stream.usage["cache_creation_input_tokens"] == 100
    assert stream.usage["output_tokens"] == 4


def test_output_chars_count_text_arguments_and_thinking() -> None:
    stream = translator()
    run(tool_stream(), stream)

    assert stream.output_chars == len("Plan.") + len("Checking.") + len(
        '{"city": "Paris"}'
    )


def test_message_stop_marks_the_translator_finished_and_ignores_later_events() -> None:
    stream = translator()
    run(text_stream(), stream)

    assert stream.finished
    assert stream.feed(text_delta(0, "late")) == b""


def test_message_stop_without_message_delta_still_sends_a_finish_reason() -> None:
    raw = run([message_start(), text_delta(0, "Hi"), MESSAGE_STOP], translator())

    assert chunks(raw)[-1]["choices"][0]["finish_reason"] == "stop"
    assert raw.endswith(DONE)


def test_unknown_events_produce_nothing() -> None:
    stream = translator()

    assert stream.feed({"type": "message_checkpoint"}) == b""
    assert (
        stream.feed(block_delta(0, {"type": "citations_delta", "citation": {}})) == b""
    )


def test_upstream_error_event_becomes_an_openai_error_and_finishes() -> None:
    stream = translator()
    run(text_stream()[:4], stream)
    error = {"type": "overloaded_error", "message": "Overloaded"}
    raw = stream.feed({"type": "error", "error": error})

    assert frames(raw) == [
        {
            "error": {
                "message": "Overloaded",
                "type": "server_error",
                "param": None,
                "code": "overloaded_error",
            }
        }
    ]
    assert stream.finished
    assert stream.error == error
    assert stream.feed(MESSAGE_STOP) == b""


def test_rate_limit_error_keeps_its_type() -> None:
    error = {"type": "rate_limit_error", "message": "Slow down"}
    raw = translator().feed({"type": "error", "error": error})

    assert frames(raw)[0]["error"]["type"] == "rate_limit_error"


def test_error_chunk_reports_gateway_failures_and_finishes() -> None:
    stream = translator()
    raw = stream.error_chunk("Upstream stalled.", "server_error", "stream_timeout")

    assert frames(raw) == [
        {
            "error": {
                "message": "Upstream stalled.",
                "type": "server_error",
                "param": None,
                "code": "stream_timeout",
            }
        }
    ]
    assert stream.finished


def openai_client(body: bytes) -> openai.OpenAI:
    """An SDK client whose every request is answered with the given stream.

    openai 3.x talks through ``httpx2``, so the mock transport comes from there.
    """

    def answer(request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx2.Response(200, headers=headers, content=body)

    transport = httpx2.MockTransport(answer)
    return openai.OpenAI(
        api_key="test",
        base_url="http://gateway.test/v1",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
    )


def stream_through_sdk(body: bytes) -> list[ChatCompletionChunk]:
    client = openai_client(body)
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Hi"}], stream=True
    )

    return list(stream)


def tool_arguments(received: list[ChatCompletionChunk]) -> dict[int, str]:
    """Concatenate each tool call's argument pieces, as SDK users do."""
    arguments: dict[int, str] = {}
    for chunk in received:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                piece = call.function.arguments if call.function else None
                arguments[call.index] = arguments.get(call.index, "") + (piece or "")

    return arguments


def test_openai_sdk_reads_the_stream_and_rebuilds_the_tool_calls() -> None:
    received = stream_through_sdk(run(tool_stream(), translator(include_usage=True)))

    assert tool_arguments(received) == {0: '{"city": "Paris"}', 1: ""}
    assert received[-1].usage is not None
    assert received[-1].usage.prompt_tokens_details is not None
    assert received[-1].usage.prompt_tokens_details.cached_tokens == 2000


def test_openai_sdk_raises_on_the_error_chunk() -> None:
    stream = translator()
    body = run(text_stream()[:4], stream)
    body += stream.feed(
        {"type": "error", "error": {"type": "api_error", "message": "Boom"}}
    )

    with pytest.raises(openai.APIError, match="Boom"):
        stream_through_sdk(body)
