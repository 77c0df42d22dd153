"""Automatic cache breakpoints: where they go, how many, and what the cache makes of them.

The last tests run a growing conversation through the stand-in upstream's
simulated prompt cache, which follows Anthropic's rules (breakpoints, minimum
length, 20-block lookback), and check what each turn reads and writes.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from gateway.services.optimizer.base import Context
from gateway.services.optimizer.breakpoints import (
    AutoBreakpoints,
    below_minimum,
)
from gateway.services.optimizer.breakpoints import layout_prompt as gateway_layout
from gateway.services.optimizer.normalize import BlockContent
from gateway.services.tokens import count_text
from gateway.standin.caching import PromptCache
from gateway.standin.segments import layout_prompt
from tests.services.cache_fakes import SONNET

LONG = "The gateway keeps prompts stable so the cache can work. " * 200
MARK = {"type": "ephemeral"}
TOOLS = [
    {
        "name": f"tool_{i}",
        "description": LONG[:4000],
        "input_schema": {"type": "object"},
    }
    for i in range(3)
]


def apply(body: dict, model=SONNET):
    BlockContent().apply(body, Context(model=model, mode="safe"))
    return AutoBreakpoints().apply(body, Context(model=model, mode="safe"))


def text(value: str, **extra) -> dict:
    return {"type": "text", "text": value, **extra}


def conversation(turns: int, *, system: str = LONG, tools: list | None = None) -> dict:
    messages: list[dict] = []
    for turn in range(turns):
        if turn:
            messages.append({"role": "assistant", "content": f"(answer {turn})"})
        messages.append(
            {"role": "user", "content": f"Question {turn}: " + "why? " * 40}
        )
    body = {
        "model": SONNET.model_id,
        "max_tokens": 100,
        "system": system,
        "messages": messages,
    }
    if tools:
        body["tools"] = copy.deepcopy(tools)
    return body


def markers(body: dict) -> list[str]:
    """Where the markers are: tools[i], system[i] or messages[i][j]."""
    found = [
        f"tools[{i}]"
        for i, t in enumerate(body.get("tools") or ())
        if "cache_control" in t
    ]
    found += [
        f"system[{i}]" for i, b in enumerate(body["system"]) if "cache_control" in b
    ]
    for i, message in enumerate(body["messages"]):
        found += [
            f"messages[{i}][{j}]"
            for j, b in enumerate(message["content"])
            if "cache_control" in b
        ]
    return found


def test_the_conversation_end_previous_turn_system_and_tools_are_marked():
    body = conversation(3, tools=TOOLS)
    outcome = apply(body)

    assert outcome.breakpoints == 4
    assert markers(body) == [
        "tools[2]",
        "system[0]",
        "messages[2][0]",
        "messages[4][0]",
    ]
    assert body["messages"][4]["content"][0]["cache_control"] == MARK


def test_a_first_turn_gets_the_system_and_the_conversation_end():
    body = conversation(1)
    apply(body)
    assert markers(body) == ["system[0]", "messages[0][0]"]


def test_nothing_is_marked_below_the_models_minimum():
    body = conversation(2, system="Short.")
    assert apply(body).breakpoints == 0
    assert markers(body) == []


def test_the_minimum_comes_from_the_model():
    body = conversation(2)
    apply(body, model=replace(SONNET, min_cacheable_tokens=4096))
    assert markers(body) == []

    body = conversation(2)
    apply(body, model=replace(SONNET, min_cacheable_tokens=count_text(LONG) + 1))
    assert markers(body) == ["messages[0][0]", "messages[2][0]"]


def exact_total(body: dict) -> int:
    layout = gateway_layout(body, enough=10**9)
    return layout.end_tokens[-1] if layout.end_tokens else 0


@pytest.mark.parametrize(
    "words",
    ["why? " * 40, "日本語のテキスト" * 30, "naïve café 🚀🚀 " * 25, "a" * 300],
)
def test_the_quick_bound_never_claims_a_prompt_is_shorter_than_it_is(words):
    body = conversation(3, system=words)
    BlockContent().apply(body, Context(model=SONNET, mode="safe"))
    total = exact_total(body)

    for minimum in (1, total // 2, total, total + 1, 4 * total, 100 * total):
        if below_minimum(body, minimum):
            assert total < minimum


def test_the_quick_bound_counts_plain_string_contents():
    long_text = "cache me " * 400
    assert not below_minimum({"system": long_text, "messages": []}, 1024)
    body = {"messages": [{"role": "user", "content": long_text}]}
    assert not below_minimum(body, 1024)
    assert below_minimum({"messages": [{"role": "user", "content": "Hi."}]}, 1024)


def test_a_short_chat_turn_skips_the_count_and_other_blocks_do_not():
    body = {"messages": [{"role": "user", "content": [text("Hello there.")]}]}
    assert below_minimum(body, 1024)

    image = {"type": "image", "source": {"type": "url", "url": "https://a.b/c"}}
    body["messages"][0]["content"].append(image)
    assert not below_minimum(body, 1024)
    assert not below_minimum({"messages": [], "tools": TOOLS}, 10**9)


def test_client_breakpoints_are_kept_and_count_towards_four():
    body = conversation(4, tools=TOOLS)
    BlockContent().apply(body, Context(model=SONNET, mode="safe"))
    body["messages"][0]["content"][0]["cache_control"] = dict(MARK)
    body["messages"][2]["content"][0]["cache_control"] = dict(MARK)
    apply(body)

    assert markers(body) == [
        "system[0]",
        "messages[0][0]",
        "messages[2][0]",
        "messages[6][0]",
    ]


def test_markers_inside_tool_results_count_too():
    body = conversation(1)
    inner = {
        "type": "tool_result",
        "tool_use_id": "t",
        "content": [text("x", cache_control=MARK)],
    }
    body["messages"][0]["content"] = [inner] * 1 + [text("go")]
    body["system"] = [text(LONG, cache_control=MARK), text(LONG, cache_control=MARK)]
    apply(body)

    assert markers(body) == ["system[0]", "system[1]", "messages[0][1]"]


def test_a_client_1h_breakpoint_keeps_ours_after_it():
    body = conversation(3)
    BlockContent().apply(body, Context(model=SONNET, mode="safe"))
    body["messages"][2]["content"][0]["cache_control"] = {
        "type": "ephemeral",
        "ttl": "1h",
    }
    apply(body)

    assert markers(body) == ["messages[2][0]", "messages[4][0]"]


def test_top_level_automatic_caching_is_left_to_anthropic():
    body = conversation(2)
    body["cache_control"] = dict(MARK)
    assert apply(body).breakpoints == 0


def test_thinking_and_empty_blocks_are_never_marked():
    body = conversation(2)
    BlockContent().apply(body, Context(model=SONNET, mode="safe"))
    body["messages"][1]["content"] = [
        {"type": "thinking", "thinking": "hm", "signature": "s"},
        text("fine"),
    ]
    body["messages"][2]["content"].append({"type": "redacted_thinking", "data": "x"})
    apply(body)

    assert "cache_control" not in body["messages"][1]["content"][0]
    assert "cache_control" not in body["messages"][2]["content"][1]
    assert "cache_control" in body["messages"][2]["content"][0]


@pytest.mark.parametrize("turns", [1, 2, 6])
def test_the_stand_in_accepts_every_placement(turns):
    from gateway.standin.anthropic_checks import check_breakpoints

    body = conversation(turns, tools=TOOLS)
    apply(body)
    check_breakpoints(layout_prompt(body))


def run_conversation(
    turns: int, *, tools: list | None = None, blocks_per_turn: int = 1
):
    """Send each growing request through the simulated cache; return each usage."""
    cache = PromptCache(clock=lambda: 0.0)
    usages = []
    for turn in range(1, turns + 1):
        body = conversation(turn, tools=tools)
        if blocks_per_turn > 1:
            for message in body["messages"]:
                message["content"] = [
                    f"{message['content']} part {i}" for i in range(blocks_per_turn)
                ]
                message["content"] = [text(t) for t in message["content"]]
        apply(body)
        layout = layout_prompt(body)
        usages.append(
            (
                layout.total_tokens,
                cache.account(scope=("k", "m"), layout=layout, min_tokens=1024),
            )
        )
    return usages


def test_every_later_turn_reads_all_but_its_new_messages_from_the_cache():
    usages = run_conversation(6, tools=TOOLS)

    first_total, first = usages[0]
    assert first.cache_read == 0 and first.input_tokens == 0
    assert first.cache_creation == first_total
    for (total, usage), (previous_total, _) in zip(usages[1:], usages, strict=False):
        assert usage.cache_read == previous_total
        assert usage.cache_creation == total - previous_total
        assert usage.input_tokens == 0


def test_turns_adding_more_than_twenty_blocks_still_read_the_previous_turn():
    usages = run_conversation(4, blocks_per_turn=12)

    for (_total, usage), (previous_total, _) in zip(usages[1:], usages, strict=False):
        assert usage.cache_read == previous_total


def test_a_new_conversation_with_the_same_system_prompt_reads_it_from_the_cache():
    cache = PromptCache(clock=lambda: 0.0)
    first, second = conversation(1), conversation(1)
    second["messages"][0]["content"] = "A different question " * 10
    for body in (first, second):
        apply(body)

    cache.account(scope=("k", "m"), layout=layout_prompt(first), min_tokens=1024)
    usage = cache.account(
        scope=("k", "m"), layout=layout_prompt(second), min_tokens=1024
    )
    system_tokens = layout_prompt(
        {"system": second["system"], "messages": []}
    ).total_tokens
    assert usage.cache_read == system_tokens
