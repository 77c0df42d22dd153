"""The optimiser as a whole: modes, reporting, and a cache-safe growing conversation."""

from __future__ import annotations

import copy
import json

import orjson
import pytest

from gateway.errors import InvalidRequest
from gateway.services.optimizer import Optimizer
from gateway.services.optimizer.service import DETAIL_HEADER
from gateway.standin.caching import PromptCache
from gateway.standin.segments import layout_prompt
from tests.services.cache_fakes import SONNET, client, exchange

SYSTEM = "You are a careful agent.   \n\n\n\n" + "Follow the rules. " * 300
RESULT = json.dumps(
    {"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(30)]},
    indent=2,
)


def agent_body(steps: int) -> dict:
    messages: list[dict] = [
        {"role": "user", "content": "List the items.   \n\n\n\nThen stop."}
    ]
    for step in range(steps):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": f"Step {step}."},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{step}",
                        "name": "sh",
                        "input": {"cmd": "ls"},
                    },
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"toolu_{step}",
                        "content": RESULT,
                    },
                ],
            }
        )
    return {
        "model": SONNET.model_id,
        "max_tokens": 512,
        "system": SYSTEM,
        "tools": [
            {
                "name": "sh",
                "description": "Run a shell command.",
                "input_schema": {"type": "object"},
            }
        ],
        "messages": messages,
    }


def optimised(body: dict, *, header: str | None = None, mode: str = "safe"):
    ex = exchange(body, who=client(mode=mode), optimize=header)
    Optimizer(trim_budget_tokens=2000).apply(ex)
    return ex


def unmarked(value):
    """The JSON bytes without cache_control markers, which are not part of the prefix."""
    if isinstance(value, dict):
        return {k: unmarked(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [unmarked(v) for v in value]
    return value


def test_safe_mode_saves_tokens_marks_the_body_and_reports_per_transform():
    ex = optimised(agent_body(3))

    assert ex.tokens_saved > 0 and ex.body_changed
    detail = dict(
        part.split("=") for part in ex.response_headers[DETAIL_HEADER].split(",")
    )
    assert detail["mode"] == "safe"
    assert int(detail["json_minify"]) + int(detail["whitespace"]) == ex.tokens_saved
    assert int(detail["breakpoints"]) >= 2


def test_off_mode_leaves_the_body_and_its_bytes_alone():
    body = agent_body(2)
    ex = optimised(body, header="off")

    assert ex.body == body and not ex.body_changed and ex.tokens_saved == 0
    assert DETAIL_HEADER not in ex.response_headers


def test_the_header_overrides_the_clients_default():
    assert optimised(agent_body(1), mode="off", header="safe").tokens_saved > 0
    assert optimised(agent_body(1), mode="safe", header="OFF").tokens_saved == 0
    assert optimised(agent_body(1), mode="off").tokens_saved == 0


def test_an_unknown_mode_is_a_400_naming_the_header():
    with pytest.raises(InvalidRequest) as caught:
        optimised(agent_body(1), header="maximum")
    assert caught.value.param == "X-TokensGate-Optimize"


def test_aggressive_mode_also_trims_long_conversations():
    safe, aggressive = (
        optimised(agent_body(20)),
        optimised(agent_body(20), header="aggressive"),
    )
    assert aggressive.tokens_saved > safe.tokens_saved
    assert "trim_history" in aggressive.response_headers[DETAIL_HEADER]


def test_the_optimiser_keeps_process_totals_per_transform():
    optimizer = Optimizer()
    for _ in range(2):
        optimizer.apply(exchange(agent_body(2)))
    assert (
        optimizer.tokens_saved["json_minify"] > 0 and optimizer.breakpoints_added >= 4
    )


@pytest.mark.parametrize("build", [agent_body], ids=["agent"])
def test_each_request_of_a_growing_conversation_keeps_the_previous_prefix_byte_for_byte(
    build,
):
    previous = None
    for steps in range(6):
        body = optimised(build(steps)).body
        current = orjson.dumps(unmarked(body["messages"]))
        if previous is not None:
            earlier = unmarked(previous["messages"])
            assert unmarked(body["messages"][: len(earlier)]) == earlier
            assert unmarked(body["system"]) == unmarked(previous["system"])
            assert unmarked(body["tools"]) == unmarked(previous["tools"])
        previous = copy.deepcopy(body)
        assert current


def test_a_growing_conversation_reads_its_prefix_from_the_simulated_cache():
    cache = PromptCache(clock=lambda: 0.0)
    previous_total = None
    for steps in range(6):
        layout = layout_prompt(optimised(agent_body(steps)).body)
        usage = cache.account(scope=("k", "m"), layout=layout, min_tokens=1024)
        if previous_total is not None:
            assert usage.cache_read == previous_total
            assert usage.input_tokens == 0
        previous_total = layout.total_tokens
