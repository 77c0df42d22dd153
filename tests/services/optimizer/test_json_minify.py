"""Minifying JSON in tool results and JSON-only text, and nothing else."""

from __future__ import annotations

import json

import pytest

from gateway.services.optimizer.base import Context
from gateway.services.optimizer.json_minify import JsonMinify, minify_json_text
from gateway.services.tokens import count_text

PRETTY = json.dumps(
    {"id": 1000, "name": "hello world", "labels": [{"name": "bug", "color": "f29513"}]},
    indent=2,
)


def apply(body: dict):
    return JsonMinify().apply(body, Context(model=None, mode="safe"))


def tool_turn(content) -> dict:
    return {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "go"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t1", "name": "sh", "input": {}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": content}
                ],
            },
        ]
    }


def test_pretty_json_loses_its_whitespace_and_nothing_else():
    minified = minify_json_text(PRETTY)

    assert (
        minified
        == '{"id":1000,"name":"hello world","labels":[{"name":"bug","color":"f29513"}]}'
    )
    assert json.loads(minified) == json.loads(PRETTY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{\n  "n": 10.0,\n  "exp": 1E+2\n}', '{"n":10.0,"exp":1E+2}'),
        ('{\n  "a": 1,\n  "a": 2\n}', '{"a":1,"a":2}'),
        (
            '[\n  "\\u00e9t\\u00e9",\n  "tab\\there"\n]',
            '["\\u00e9t\\u00e9","tab\\there"]',
        ),
        (
            '{\n "big": 123456789012345678901234567890\n}',
            '{"big":123456789012345678901234567890}',
        ),
        ('{\n  "price": 1.50,\n  "huge": 1e400\n}', None),
    ],
    ids=[
        "number-literals",
        "duplicate-keys",
        "escapes",
        "big-integer",
        "unparseable-float",
    ],
)
def test_literals_keys_and_escapes_are_kept_byte_for_byte(text, expected):
    assert minify_json_text(text) == expected


def test_whitespace_inside_strings_is_kept():
    text = '{\n  "code": "def f():\\n    return  1",\n  "spaced": "a   b"\n}'
    assert (
        minify_json_text(text) == '{"code":"def f():\\n    return  1","spaced":"a   b"}'
    )


@pytest.mark.parametrize(
    "text",
    [
        "Here is the result:\n" + PRETTY,
        "```json\n" + PRETTY + "\n```",
        "{not json at all, just braces}",
        '{"already":"minified","and":"long enough"}',
        '{\n  "nan": NaN\n}',
        "[1, 2",
        "short",
    ],
    ids=[
        "prose-around",
        "fenced",
        "not-json",
        "already-tight",
        "nan",
        "truncated",
        "short",
    ],
)
def test_text_that_is_not_only_json_or_already_tight_is_left_alone(text):
    assert minify_json_text(text) is None


def test_tool_result_strings_and_text_blocks_are_minified_with_tokens_counted():
    body = tool_turn(PRETTY)
    nested = tool_turn(
        [{"type": "text", "text": PRETTY}, {"type": "image", "source": {}}]
    )
    outcome = apply(body)
    apply(nested)

    result = body["messages"][2]["content"][0]["content"]
    assert result == minify_json_text(PRETTY)
    assert nested["messages"][2]["content"][0]["content"][0]["text"] == result
    assert outcome.changed
    assert outcome.tokens_saved == count_text(PRETTY) - count_text(result) > 0


def test_json_only_user_text_and_system_text_are_minified():
    body = {
        "system": [{"type": "text", "text": PRETTY}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": PRETTY}]}],
    }
    apply(body)

    assert body["system"][0]["text"] == minify_json_text(PRETTY)
    assert body["messages"][0]["content"][0]["text"] == minify_json_text(PRETTY)


def test_assistant_turns_with_thinking_are_never_touched():
    turn = {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": PRETTY},
        ],
    }
    body = {"messages": [{"role": "user", "content": "q"}, turn]}

    assert not apply(body).changed
    assert turn["content"][1]["text"] == PRETTY


def test_a_body_without_json_is_unchanged():
    body = tool_turn("plain output\nwith lines\n")
    assert not apply(body).changed
