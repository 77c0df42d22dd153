"""Validation of Anthropic Messages requests, with the API's own messages.

The checks are the ones a gateway can trip over when it rewrites requests:
required fields, roles, block shapes, cache breakpoints, sampling
parameters. They raise :class:`StandinError` (400) with a message in the
style of the real API, e.g. ``max_tokens: Field required``.
"""

from __future__ import annotations

from typing import Any

from gateway.standin.errors import StandinError, invalid_request
from gateway.standin.segments import PromptLayout

MAX_BREAKPOINTS = 4
ROLES = ("user", "assistant")
TOOL_CHOICES = ("auto", "any", "tool", "none")
THINKING_TYPES = ("enabled", "adaptive", "disabled")
MIN_THINKING_BUDGET = 1024


def check_headers(headers: dict[str, str]) -> str:
    """Check authentication and version headers; return the API key."""
    key = headers.get("x-api-key", "")
    if not key:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""

    if not key:
        raise StandinError(401, "x-api-key header is required")
    if key == "invalid-key":
        raise StandinError(401, "invalid x-api-key")
    if not headers.get("anthropic-version"):
        raise invalid_request("anthropic-version: header is required")

    return key


def check_body(body: Any, *, count_only: bool = False) -> dict[str, Any]:
    """Check the shape of a Messages (or count_tokens) body and return it."""
    if not isinstance(body, dict):
        raise invalid_request("The request body is not valid JSON.")

    if not isinstance(body.get("model"), str) or not body["model"]:
        raise invalid_request("model: Field required")
    if not count_only:
        _check_max_tokens(body.get("max_tokens"))

    _check_messages(body.get("messages"))
    _check_system(body.get("system"))
    _check_sampling(body)
    _check_tools(body.get("tools"), body.get("tool_choice"))
    _check_thinking(body, count_only)

    return body


def check_breakpoints(layout: PromptLayout) -> None:
    """Refuse more than four breakpoints, and 1h ones after 5m ones."""
    ttls = [layout.segments[index].ttl for index in layout.breakpoints]
    if len(ttls) > MAX_BREAKPOINTS:
        raise invalid_request(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be "
            f"provided. Found {len(ttls)}."
        )

    for ttl in ttls:
        if ttl not in ("5m", "1h"):
            raise invalid_request("cache_control.ttl: Input should be '5m' or '1h'")

    # Longer-lived entries must come first: a 1h prefix cannot sit on top of
    # a 5m one that may expire under it.
    if "1h" in ttls and "5m" in ttls and ttls.index("5m") < _last_index(ttls, "1h"):
        raise invalid_request(
            "a ttl='1h' cache_control block must not come after a ttl='5m' "
            "cache_control block"
        )


def _last_index(values: list[str | None], value: str) -> int:
    return len(values) - 1 - values[::-1].index(value)


def _check_max_tokens(max_tokens: Any) -> None:
    if max_tokens is None:
        raise invalid_request("max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise invalid_request("max_tokens: Input should be a valid integer")
    if max_tokens < 1:
        raise invalid_request("max_tokens: Input should be greater than or equal to 1")


def _check_messages(messages: Any) -> None:
    if messages is None:
        raise invalid_request("messages: Field required")
    if not isinstance(messages, list):
        raise invalid_request("messages: Input should be a valid list")
    if not messages:
        raise invalid_request("messages: at least one message is required")

    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            raise invalid_request(f"{where}: Input should be a valid dictionary")
        if message.get("role") not in ROLES:
            raise invalid_request(
                f"{where}.role: Input should be 'user' or 'assistant'"
            )
        _check_content(message.get("content"), f"{where}.content")


def _check_content(content: Any, where: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid_request(f"{where}: Input should be a valid string or list")

    for index, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise invalid_request(f"{where}.{index}.type: Field required")
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            raise invalid_request(f"{where}.{index}.text: Field required")
        if block["type"] == "text" and not block["text"] and "cache_control" in block:
            raise invalid_request(
                f"{where}.{index}: cache_control cannot be set for empty text blocks"
            )


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid_request("system: Input should be a valid string or list")

    for index, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise invalid_request(f"system.{index}.type: Input should be 'text'")
        if not isinstance(block.get("text"), str):
            raise invalid_request(f"system.{index}.text: Field required")


def _check_sampling(body: dict[str, Any]) -> None:
    temperature = body.get("temperature")
    if temperature is not None and body.get("top_p") is not None:
        # Claude 4.5-class models refuse the pair; the stand-in does so for
        # every model so the gateway's handling is always exercised.
        raise invalid_request(
            "`temperature` and `top_p` cannot both be specified for this model. "
            "Please use only one."
        )

    if temperature is not None and (
        not isinstance(temperature, (int, float)) or not 0 <= temperature <= 1
    ):
        raise invalid_request("temperature: Input should be less than or equal to 1")

    stops = body.get("stop_sequences")
    if stops is not None and (
        not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)
    ):
        raise invalid_request("stop_sequences: Input should be a valid list of strings")

    if "stream" in body and not isinstance(body["stream"], bool):
        raise invalid_request("stream: Input should be a valid boolean")


def _check_tools(tools: Any, tool_choice: Any) -> None:
    if tools is not None and not isinstance(tools, list):
        raise invalid_request("tools: Input should be a valid list")

    names = []
    for index, tool in enumerate(tools or ()):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise invalid_request(f"tools.{index}.name: Field required")
        if "type" not in tool and not isinstance(tool.get("input_schema"), dict):
            raise invalid_request(f"tools.{index}.input_schema: Field required")
        names.append(tool["name"])

    if len(set(names)) != len(names):
        raise invalid_request("tools: Tool names must be unique.")

    _check_tool_choice(tool_choice, names)


def _check_tool_choice(tool_choice: Any, names: list[str]) -> None:
    if tool_choice is None:
        return
    if not isinstance(tool_choice, dict) or tool_choice.get("type") not in TOOL_CHOICES:
        raise invalid_request(
            "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'"
        )

    if tool_choice["type"] == "tool" and tool_choice.get("name") not in names:
        raise invalid_request(
            f"tool_choice: Tool '{tool_choice.get('name')}' not found in tools"
        )


def _check_thinking(body: dict[str, Any], count_only: bool) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    if not isinstance(thinking, dict) or thinking.get("type") not in THINKING_TYPES:
        raise invalid_request(
            "thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'"
        )
    if thinking["type"] != "enabled":
        return

    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
        raise invalid_request(
            "thinking.enabled.budget_tokens: Input should be greater than or "
            f"equal to {MIN_THINKING_BUDGET}"
        )
    if not count_only and budget >= body["max_tokens"]:
        raise invalid_request(
            "`max_tokens` must be greater than `thinking.budget_tokens`."
        )

    choice = body.get("tool_choice") or {}
    if choice.get("type") in ("any", "tool"):
        raise invalid_request(
            "Thinking may not be enabled when tool_choice forces tool use."
        )
