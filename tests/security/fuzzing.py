"""Hypothesis strategies for hostile and broken requests to the API surfaces.

Bodies start from the shape of a real request, each field drawn either from
plausible values (so many requests get through validation and reach the
upstream) or from any JSON value at all; then a share of them is mutated at
the byte level: truncated, spliced with garbage, nested past any parser's
patience, or replaced by something that is not JSON. Headers vary the key,
the content type and every header the gateway reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from hypothesis import strategies as st

MODELS = [
    "auto", "claude-haiku-4-5", "claude-haiku-4-5-20251001", "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-3-haiku-20240307",
    "llama3.2:1b", "gpt-4o", "", " ", "claude-retired-2020", "a" * 300,
]
BIG_NUMBERS = [0, -1, 1, 2**31, 2**53 + 1, 2**63, 2**64 + 7, 10**30, -(2**63)]

_header_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40
)


@dataclass
class FuzzRequest:
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    key: str = "valid"
    key_style: str = "bearer"


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(BIG_NUMBERS),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=12,
)


def maybe(plausible: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly plausible values, sometimes anything at all."""
    return st.one_of(plausible, plausible, plausible, json_values)


texts = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["hello", "", " ", "\u0000", "\ud7ff\ue000", "{}", "x" * 5000]),
)


def anthropic_blocks() -> st.SearchStrategy:
    text = st.fixed_dictionaries({"type": st.just("text"), "text": maybe(texts)})
    image = st.fixed_dictionaries({
        "type": st.just("image"),
        "source": maybe(st.fixed_dictionaries({
            "type": st.sampled_from(["base64", "url"]),
            "media_type": st.sampled_from(["image/png", "image/bmp", "text/plain"]),
            "data": st.sampled_from(["iVBORw0KGgo=", "not base64", ""]),
        })),
    })
    tool_use = st.fixed_dictionaries({
        "type": st.just("tool_use"), "id": maybe(st.just("toolu_01")),
        "name": maybe(st.just("lookup")), "input": maybe(st.just({})),
    })
    tool_result = st.fixed_dictionaries({
        "type": st.just("tool_result"), "tool_use_id": maybe(st.just("toolu_01")),
        "content": maybe(texts),
    })
    thinking = st.fixed_dictionaries({
        "type": st.sampled_from(["thinking", "redacted_thinking", "unknown_block", ""]),
        "thinking": maybe(texts), "signature": maybe(texts),
    })
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
    required = {"model": maybe(st.sampled_from(MODELS)), "messages": maybe(anthropic_messages())}
    optional = {
        "system": maybe(st.one_of(texts, st.lists(anthropic_blocks(), max_size=3))),
        "tools": maybe(anthropic_tools()),
        "tool_choice": maybe(st.fixed_dictionaries({
            "type": st.sampled_from(["auto", "any", "tool", "none", "bogus"])})),
        "thinking": maybe(st.fixed_dictionaries({
            "type": st.sampled_from(["enabled", "disabled"]),
            "budget_tokens": st.sampled_from([0, 1024, 2048, 10**9])})),
        "junk": json_values,
    }
    if not count_only:
        required["max_tokens"] = maybe(st.one_of(
            st.integers(min_value=-5, max_value=300), st.sampled_from(BIG_NUMBERS)))
        optional.update({
            "stream": maybe(st.booleans()),
            "temperature": maybe(st.floats(min_value=-1, max_value=3)),
            "top_p": maybe(st.floats(min_value=-1, max_value=2)),
            "top_k": maybe(st.integers(min_value=-1, max_value=500)),
            "stop_sequences": maybe(st.lists(texts, max_size=3)),
            "metadata": maybe(st.fixed_dictionaries({"user_id": texts})),
        })
    return st.fixed_dictionaries(required, optional=optional)


def chat_messages() -> st.SearchStrategy:
    part = st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": maybe(texts)}),
        st.fixed_dictionaries({
            "type": st.just("image_url"),
            "image_url": maybe(st.fixed_dictionaries({"url": st.sampled_from([
                "data:image/png;base64,iVBORw0KGgo=", "data:image/bmp;base64,AAAA",
                "data:,", "https://example.invalid/a.png", "ftp://x", "",
            ])})),
        }),
        st.fixed_dictionaries({"type": st.sampled_from(["input_audio", "file", "bogus"])}),
    )
    tool_call = st.fixed_dictionaries({
        "id": maybe(st.just("call_1")), "type": maybe(st.just("function")),
        "function": maybe(st.fixed_dictionaries({
            "name": maybe(st.just("lookup")),
            "arguments": maybe(st.sampled_from(['{"q": 1}', "{", "", "[]", "null"])),
        })),
    })
    message = st.fixed_dictionaries(
        {"role": maybe(st.sampled_from(
            ["system", "developer", "user", "assistant", "tool", "function"]))},
        optional={
            "content": maybe(st.one_of(texts, st.none(), st.lists(part, max_size=3))),
            "tool_calls": maybe(st.lists(tool_call, max_size=2)),
            "tool_call_id": maybe(st.just("call_1")),
            "name": maybe(texts),
        },
    )
    return st.lists(maybe(message), max_size=5)


def chat_bodies() -> st.SearchStrategy:
    tool = st.fixed_dictionaries({
        "type": maybe(st.just("function")),
        "function": maybe(st.fixed_dictionaries(
            {"name": maybe(st.sampled_from(["lookup", "", "x" * 80]))},
            optional={"parameters": maybe(st.just({"type": "object"})),
                      "description": maybe(texts)},
        )),
    })
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
            "stream_options": maybe(st.fixed_dictionaries(
                {"include_usage": maybe(st.booleans())})),
            "tools": maybe(st.lists(tool, max_size=3)),
            "tool_choice": maybe(st.one_of(
                st.sampled_from(["auto", "none", "required", "bogus"]),
                st.fixed_dictionaries({"type": st.just("function"), "function": maybe(
                    st.fixed_dictionaries({"name": st.sampled_from(["lookup", "other"])}))}),
            )),
            "response_format": maybe(st.fixed_dictionaries({"type": st.sampled_from(
                ["text", "json_object", "json_schema", "xml"])})),
            "parallel_tool_calls": maybe(st.booleans()),
            "user": maybe(texts),
            "functions": json_values,
            "seed": json_values,
            "logit_bias": json_values,
        },
    )


@st.composite
def encoded(draw: st.DrawFn, bodies: st.SearchStrategy) -> bytes:
    """A body serialised as JSON, and in a share of cases broken on purpose."""
    raw = json.dumps(draw(bodies)).encode("utf-8", "surrogatepass")
    mutation = draw(st.sampled_from(
        ["none"] * 12
        + ["truncate", "splice", "not_json", "empty", "deep", "not_object", "bad_utf8"]
    ))
    if mutation == "truncate":
        return raw[: draw(st.integers(min_value=0, max_value=max(len(raw) - 1, 0)))]
    if mutation == "splice":
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    if mutation == "not_json":
        return draw(st.sampled_from(
            [b"NaN", b"{'a': 1}", b"<xml/>", b"\xff\xfe{}", b"{\"a\": NaN}", b"1e999999"]))
    if mutation == "empty":
        return b""
    if mutation == "deep":
        depth = draw(st.sampled_from([200, 1100, 5000]))
        return b'{"messages": ' + b"[" * depth + b"]" * depth + b"}"
    if mutation == "not_object":
        return json.dumps(draw(json_scalars)).encode()
    return raw.replace(b'"', b'"\xc3', 1)


KEYS = st.sampled_from(
    ["valid", "valid", "valid", "valid", "none", "wrong", "disabled", "mangled"]
)
KEY_STYLES = st.sampled_from(["bearer", "x-api-key", "both", "lowercase-bearer"])


@st.composite
def request_headers(draw: st.DrawFn, surface: str) -> dict[str, str]:
    """Headers as a sloppy or hostile client might send them, but the key."""
    headers = {}
    if draw(st.integers(0, 9)):
        headers["Content-Type"] = draw(st.sampled_from(
            ["application/json", "application/json; charset=utf-8", "text/plain",
             "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]))
    if surface == "anthropic" or draw(st.booleans()):
        headers["anthropic-version"] = draw(st.one_of(
            st.sampled_from(["2023-06-01", "2026-10-21"]), _header_text))
    optional = {
        "X-Route-Strategy": st.one_of(
            st.sampled_from(["auto", "cheap", "expensive", "explicit"]), _header_text),
        "X-TokensGate-Optimize": st.one_of(
            st.sampled_from(["off", "safe", "aggressive"]), _header_text),
        "Cache-Control": st.sampled_from(["no-cache", "no-store", "max-age=0", "junk"]),
        "anthropic-beta": st.one_of(st.just("prompt-caching-2024-07-31"), _header_text),
        "X-Request-ID": _header_text,
        "X-Forwarded-Host": st.just("attacker.invalid"),
    }
    for name, values in optional.items():
        if draw(st.integers(0, 3)) == 0:
            headers[name] = draw(values)
    return headers


def requests_for(path: str, surface: str, bodies: st.SearchStrategy) -> st.SearchStrategy:
    method = st.sampled_from(["POST"] * 15 + ["GET", "PUT", "DELETE"])
    paths = st.sampled_from([path, path, path, path + "?beta=true", path + "?x=%ff"])
    return st.builds(
        FuzzRequest, method=method, path=paths, body=encoded(bodies),
        headers=request_headers(surface), key=KEYS, key_style=KEY_STYLES,
    )


def model_list_requests() -> st.SearchStrategy:
    return st.builds(
        FuzzRequest,
        method=st.sampled_from(["GET"] * 6 + ["POST", "DELETE"]),
        path=st.sampled_from(["/v1/models", "/v1/models?limit=5", "/v1/models?after_id=x"]),
        body=st.one_of(st.none(), encoded(json_values)),
        headers=request_headers("either"), key=KEYS, key_style=KEY_STYLES,
    )
