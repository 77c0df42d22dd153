"""Aggressive mode: trimming the middle of long conversations, in stable steps."""

from __future__ import annotations

from itertools import pairwise

from gateway.services.optimizer.base import Context
from gateway.services.optimizer.trim_history import NOTE, TrimHistory
from gateway.services.tokens import estimate_input_tokens

TURN_TEXT = "A long turn about caches and prefixes. " * 40  # ~330 tokens


def chat(turns: int) -> dict:
    messages = []
    for turn in range(turns):
        if turn:
            messages.append(
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": f"answer {turn} " + TURN_TEXT}
                    ],
                }
            )
        messages.append(
            {
                "role": "user",
                "content": [{"type": "text", "text": f"question {turn} " + TURN_TEXT}],
            }
        )
    return {"messages": messages}


def apply(body: dict, *, budget: int = 2000, mode: str = "aggressive"):
    return TrimHistory().apply(
        body, Context(model=None, mode=mode, trim_budget_tokens=budget)
    )


def test_safe_mode_never_trims():
    body = chat(20)
    assert not apply(body, mode="safe").changed
    assert len(body["messages"]) == 39


def test_a_conversation_within_the_budget_is_untouched():
    body = chat(3)
    assert not apply(body, budget=100_000).changed


def test_the_first_turn_and_the_latest_turns_are_kept_within_the_budget():
    body = chat(20)
    before = estimate_input_tokens(body)
    outcome = apply(body)
    messages = body["messages"]

    head = messages[0]["content"]
    assert head[0]["text"].startswith("question 0 ")
    assert head[1]["text"] == NOTE.format(count=int(head[1]["text"].split()[0][1:]))
    assert messages[-1]["content"][0]["text"].startswith("question 19 ")
    assert estimate_input_tokens(body) <= 2000
    assert outcome.tokens_saved > 0
    assert abs((before - estimate_input_tokens(body)) - outcome.tokens_saved) < 20


def test_roles_still_alternate_after_the_cut():
    body = chat(20)
    apply(body)
    roles = [m["role"] for m in body["messages"]]
    assert roles[0] == "user" and all(a != b for a, b in pairwise(roles))


def test_tool_results_whose_calls_were_cut_become_text():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "task " + TURN_TEXT}]}
    ]
    for step in range(12):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": f"t{step}",
                        "name": "sh",
                        "input": {"cmd": TURN_TEXT},
                    }
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"t{step}",
                        "content": f"out {step} " + TURN_TEXT,
                    }
                ],
            }
        )
    body = {"messages": messages}
    apply(body)

    head = body["messages"][0]["content"]
    assert all(block["type"] == "text" for block in head)
    assert head[-1]["text"].startswith("Tool result: out ")
    kept_ids = {
        b["tool_use_id"]
        for m in body["messages"]
        for b in m["content"]
        if b["type"] == "tool_result"
    }
    call_ids = {
        b["id"]
        for m in body["messages"]
        for b in m["content"]
        if b["type"] == "tool_use"
    }
    assert kept_ids <= call_ids


def test_the_cut_moves_only_after_the_conversation_grew_by_half_the_budget():
    cuts = []
    for turns in range(30, 70):
        body = chat(turns)
        apply(body, budget=8000)
        cuts.append(body["messages"][0]["content"][1]["text"])

    # Each turn adds about 700 tokens, so half of an 8,000 budget is ~6 turns.
    changes = sum(1 for a, b in pairwise(cuts) if a != b)
    assert 0 < changes <= len(cuts) // 5
