"""Request bodies for both surfaces, hostile and valid.

The hostile ones have the shape of a real request, each field drawn either
from plausible values (so many get through validation and reach the upstream)
or from any JSON value at all. The valid ones are what a well-behaved client
sends, so that every run also exercises the whole pipeline.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.security.fuzz_values import (
    BIG_NUMBERS,
    GOOD_MODELS,
    MODELS,
    json_values,
    maybe,
    texts,
    words,
)


def anthropic_blocks() -> st.SearchStrategy:
    text = st.fixed_dictionaries({"type": st.just("text"), "text": maybe(texts)})
    image = st.fixed_dictionaries(
        {
            "type": st.just("image"),
            "source": maybe(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(["base64", "url"]),
                        "media_type": st.sampled_from(
                            ["image/png", "image/bmp", "text/plain"]
                        ),
                        "data": st.sampled_from(["iVBORw0KGgo=", "not base64", ""]),
                    }
                )
            ),
        }
    )
    tool_use = st.fixed_dictionaries(
        {
            "type": st.just("tool_use"),
            "id": maybe(st.just("toolu_01")),
            "name": maybe(st.just("lookup")),
            "input": maybe(st.just({})),
        }
    )
    tool_result = st.fixed_dictionaries(
        {
            "type": st.just("tool_result"),
            "tool_use_id": maybe(st.just("toolu_01")),
            "content": maybe(texts),
        }
    )
    thinking = st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["thinking", "redacted_thinking", "unknown_block", ""]
            ),
            "thinking": maybe(texts),
            "signature": maybe(texts),
        }
    )
    return st.one_of(text, text, image, tool_use, tool_result, thinking)


def anthropic_messages() -> st.SearchStrategy:
    content = st.one_of(texts, st.lists(maybe(anthropic_blocks()), max_size=4))
    message = st.fixed_dictionaries(
        {"role": maybe(st.sampled_from(["user", "assistant", "system", "tool"]))},
        optional={"content": maybe(content), "extra": json_values},
    )
    return st.lists(maybe(message), max_size=5)


def anthropic_tools() -> st.SearchStrategy:
    tool = st.fixed_dictionaries(
        {"name": maybe(st.sampled_from(["lookup", "", "a b", "x" * 80]))},
        optional={
            "description": maybe(texts),
            "input_schema": maybe(st.just({"type": "object", "properties": {}})),
            "type": st.sampled_from(["web_search_20250305", "custom", "bogus"]),
            "cache_control": maybe(st.just({"type": "ephemeral"})),
        },
    )
    return st.lists(maybe(tool), max_size=4)


def messages_bodies(*, count_only: bool = False) -> st.SearchStrategy:
    required = {
        "model": maybe(st.sampled_from(MODELS)),
        "messages": maybe(anthropic_messages()),
    }
    optional = {
        "system": maybe(st.one_of(texts, st.lists(anthropic_blocks(), max_size=3))),
        "tools": maybe(anthropic_tools()),
        "tool_choice": maybe(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["auto", "any", "tool", "none", "bogus"])}
            )
        ),
        "thinking": maybe(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(["enabled", "disabled"]),
                    "budget_tokens": st.sampled_from([0, 1024, 2048, 10**9]),
                }
            )
        ),
        "junk": json_values,
    }
    if not count_only:
        required["max_tokens"] = maybe(
            st.one_of(
                st.integers(min_value=-5, max_value=300), st.sampled_from(BIG_NUMBERS)
            )
        )
        optional.update(
            {
                "stream": maybe(st.booleans()),
                "temperature": maybe(st.floats(min_value=-1, max_value=3)),
                "top_p": maybe(st.floats(min_value=-1, max_value=2)),
                "top_k": maybe(st.integers(min_value=-1, max_value=500)),
                "stop_sequences": maybe(st.lists(texts, max_size=3)),
                "metadata": maybe(st.fixed_dictionaries({"user_id": texts})),
            }
        )
    return st.fixed_dictionaries(required, optional=optional)


def chat_messages() -> st.SearchStrategy:
    part = st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": maybe(texts)}),
        st.fixed_dictionaries(
            {
                "type": st.just("image_url"),
                "image_url": maybe(
                    st.fixed_dictionaries(
                        {
                            "url": st.sampled_from(
                                [
                                    "data:image/png;base64,iVBORw0KGgo=",
                                    "data:image/bmp;base64,AAAA",
                                    "data:,",
                                    "https://example.invalid/a.png",
                                    "ftp://x",
                                    "",
                                ]
                            )
                        }
                    )
                ),
            }
        ),
        st.fixed_dictionaries(
            {"type": st.sampled_from(["input_audio", "file", "bogus"])}
        ),
    )
    tool_call = st.fixed_dictionaries(
        {
            "id": maybe(st.just("call_1")),
            "type": maybe(st.just("function")),
            "function": maybe(
                st.fixed_dictionaries(
                    {
                        "name": maybe(st.just("lookup")),
                        "arguments": maybe(
                            st.sampled_from(['{"q": 1}', "{", "", "[]", "null"])
                        ),
                    }
                )
            ),
        }
    )
    message = st.fixed_dictionaries(
        {
            "role": maybe(
                st.sampled_from(
                    ["system", "developer", "user", "assistant", "tool", "function"]
                )
            )
        },
        optional={
            "content": maybe(st.one_of(texts, st.none(), st.lists(part, max_size=3))),
            "tool_calls": maybe(st.lists(tool_call, max_size=2)),
            "tool_call_id": maybe(st.just("call_1")),
            "name": maybe(texts),
        },
    )
    return st.lists(maybe(message), max_size=5)


def chat_bodies() -> st.SearchStrategy:
    tool = st.fixed_dictionaries(
        {
            "type": maybe(st.just("function")),
            "function": maybe(
                st.fixed_dictionaries(
                    {"name": maybe(st.sampled_from(["lookup", "", "x" * 80]))},
                    optional={
                        "parameters": maybe(st.just({"type": "object"})),
                        "description": maybe(texts),
                    },
                )
            ),
        }
    )
    return st.fixed_dictionaries(
        {"messages": maybe(chat_messages())},
        optional={
            "model": maybe(st.sampled_from(MODELS)),
            "max_tokens": maybe(st.sampled_from(BIG_NUMBERS + [16, 64])),
            "max_completion_tokens": maybe(st.integers(min_value=-2, max_value=300)),
            "temperature": maybe(st.floats(min_value=-1, max_value=3)),
            "top_p": maybe(st.floats(min_value=-1, max_value=2)),
            "n": maybe(st.integers(min_value=0, max_value=3)),
            "stop": maybe(st.one_of(texts, st.lists(texts, max_size=6))),
            "stream": maybe(st.booleans()),
            "stream_options": maybe(
                st.fixed_dictionaries({"include_usage": maybe(st.booleans())})
            ),
            "tools": maybe(st.lists(tool, max_size=3)),
            "tool_choice": maybe(
                st.one_of(
                    st.sampled_from(["auto", "none", "required", "bogus"]),
                    st.fixed_dictionaries(
                        {
                            "type": st.just("function"),
                            "function": maybe(
                                st.fixed_dictionaries(
                                    {"name": st.sampled_from(["lookup", "other"])}
                                )
                            ),
                        }
                    ),
                )
            ),
            "response_format": maybe(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(
                            ["text", "json_object", "json_schema", "xml"]
                        )
                    }
                )
            ),
            "parallel_tool_calls": maybe(st.booleans()),
            "user": maybe(texts),
            "functions": json_values,
            "seed": json_values,
            "logit_bias": json_values,
        },
    )


def _turns(content: st.SearchStrategy) -> st.SearchStrategy:
    """One to four turns alternating from user to user."""
    return (
        st.integers(min_value=0, max_value=1)
        .flatmap(lambda pairs: st.tuples(*[content] * (2 * pairs + 1)))
        .map(
            lambda texts: [
                {"role": "user" if i % 2 == 0 else "assistant", "content": text}
                for i, text in enumerate(texts)
            ]
        )
    )


def valid_chat_bodies() -> st.SearchStrategy:
    tool = st.builds(
        lambda name: {
            "type": "function",
            "function": {
                "name": name,
                "parameters": {"type": "object", "properties": {}},
            },
        },
        st.sampled_from(["lookup", "search", "fetch"]),
    )
    return st.fixed_dictionaries(
        {"model": st.sampled_from(GOOD_MODELS), "messages": _turns(words)},
        optional={
            "max_tokens": st.integers(min_value=1, max_value=64),
            "temperature": st.floats(min_value=0, max_value=1),
            "stream": st.booleans(),
            "stream_options": st.just({"include_usage": True}),
            "stop": st.lists(words, min_size=1, max_size=2),
            "tools": st.lists(tool, min_size=1, max_size=3, unique_by=str),
            "user": words,
            "seed": st.integers(min_value=0, max_value=99),
        },
    ).map(_drop_stream_options_without_stream)


def _drop_stream_options_without_stream(body: dict) -> dict:
    if not body.get("stream"):
        body.pop("stream_options", None)
    return body


def valid_messages_bodies(*, count_only: bool = False) -> st.SearchStrategy:
    tool = st.builds(
        lambda name: {
            "name": name,
            "input_schema": {"type": "object", "properties": {}},
        },
        st.sampled_from(["lookup", "search"]),
    )
    optional = {
        "system": words,
        "tools": st.lists(tool, min_size=1, max_size=2, unique_by=str),
    }
    required = {"model": st.sampled_from(GOOD_MODELS[:2]), "messages": _turns(words)}
    if not count_only:
        required["max_tokens"] = st.integers(min_value=1, max_value=64)
        optional.update(
            {
                "stream": st.booleans(),
                "temperature": st.floats(min_value=0, max_value=1),
                "stop_sequences": st.lists(words, min_size=1, max_size=2),
                "metadata": st.fixed_dictionaries({"user_id": words}),
            }
        )
    return st.fixed_dictionaries(required, optional=optional)
