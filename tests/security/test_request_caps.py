"""Caps on messages, tools and max_tokens, with precise 400s on both surfaces."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidRequest
from gateway.services.request_caps import check_caps
from gateway.translate.openai_request import validate_chat_request


@pytest.fixture(autouse=True)
def small_caps(settings):
    settings.TOKENSGATE = {
        **settings.TOKENSGATE,
        "MAX_MESSAGES": 3,
        "MAX_TOOLS": 2,
        "MAX_OUTPUT_TOKENS": 1000,
    }


def _user(text: str = "hi") -> dict:
    return {"role": "user", "content": text}


def _tool(name: str) -> dict:
    return {"type": "function", "function": {"name": name, "parameters": {}}}


def _refusal(**kwargs) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        check_caps(**{"messages": None, "tools": None, "max_tokens": None, **kwargs})
    return caught.value


def test_too_many_messages_names_the_count_and_the_cap():
    error = _refusal(messages=[_user()] * 4)

    assert error.status == 400
    assert error.param == "messages"
    assert error.code == "too_many_messages"
    assert "4 messages" in error.message and "at most 3" in error.message


def test_too_many_tools_is_refused():
    error = _refusal(tools=[{}] * 3)

    assert error.param == "tools"
    assert error.code == "too_many_tools"


def test_max_tokens_over_the_cap_names_the_parameter_used():
    error = _refusal(max_tokens=1001, max_tokens_param="max_completion_tokens")

    assert error.param == "max_completion_tokens"
    assert error.code == "max_tokens_too_large"
    assert "1,001" in error.message and "1,000" in error.message


def test_requests_at_the_caps_pass():
    check_caps(messages=[_user()] * 3, tools=[{}] * 2, max_tokens=1000)


@pytest.mark.parametrize("value", ["many", 10**6 * 1.0, True, {"n": 5}])
def test_wrong_types_are_left_to_the_surface_validation(value):
    check_caps(messages=value, tools=value, max_tokens=value)


def test_openai_surface_refuses_too_many_messages_before_walking_them():
    # The fourth message is malformed too; the cap is what gets reported.
    body = {"model": "auto", "messages": [_user()] * 3 + [{"role": "nobody"}]}

    with pytest.raises(InvalidRequest) as caught:
        validate_chat_request(body)
    assert caught.value.param == "messages"


def test_openai_surface_refuses_too_many_tools():
    body = {"messages": [_user()], "tools": [_tool("a"), _tool("b"), _tool("c")]}

    with pytest.raises(InvalidRequest) as caught:
        validate_chat_request(body)
    assert caught.value.param == "tools"


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
def test_openai_surface_caps_either_token_parameter(param):
    body = {"messages": [_user()], param: 5000}

    with pytest.raises(InvalidRequest) as caught:
        validate_chat_request(body)
    assert caught.value.param == param


def test_openai_surface_accepts_requests_within_the_caps():
    body = {"messages": [_user()] * 3, "tools": [_tool("a")], "max_tokens": 1000}

    assert validate_chat_request(body) is body
