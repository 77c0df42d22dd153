"""OpenAI Chat Completions requests, checked and rewritten as Anthropic Messages.

``validate_chat_request`` refuses what the OpenAI API would refuse, and the few
things Claude cannot do, with a message and a ``param`` path naming the field.
``to_anthropic_request`` then builds the upstream body following the mapping
table in docs/openai-surface.md. Both work on the parsed JSON in place of a
schema library: this runs on every request, and plain ``isinstance`` checks
cost microseconds.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import InvalidRequest
from gateway.translate.openai_messages import translate_messages
from gateway.translate.openai_validation import check_body

# Parameters of the OpenAI API that Claude has no counterpart for. They are
# accepted so that existing clients keep working, and dropped on the way
# upstream; the user documentation lists them from this set. Parameters nobody
# knows about are dropped as well, since the OpenAI SDK forwards ``extra_body``
# fields that may have been meant for some other provider.
IGNORED_PARAMETERS = frozenset(
    {
        "audio",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "metadata",
        "modalities",
        "moderation",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning_effort",
        "seed",
        "service_tier",
        "store",
        "top_logprobs",
        "verbosity",
        "web_search_options",
    }
)

_TOOL_CHOICE_TYPES = {"auto": "auto", "none": "none", "required": "any"}


def validate_chat_request(body: object) -> dict[str, Any]:
    """Check a parsed /v1/chat/completions body and return it.

    An absent or null ``model`` is set to ``"auto"`` so that routing always
    finds a string there. Raises ``InvalidRequest`` naming the first bad field.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")

    if body.get("model") is None:
        body["model"] = "auto"
    check_body(body)

    return body


def to_anthropic_request(
    body: dict[str, Any], *, model: str, default_max_tokens: int
) -> dict[str, Any]:
    """Build the Anthropic Messages body for a validated OpenAI request.

    ``stream`` is left out: the caller decides how it talks to the upstream.
    """
    system, messages = translate_messages(body["messages"])
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": _max_tokens(body, default_max_tokens),
    }
    if system:
        request["system"] = system
    request["messages"] = messages

    _add_sampling(request, body)
    _add_tools(request, body)
    _add_metadata(request, body)
    _add_output_format(request, body)

    return request


def has_images(request: dict[str, Any]) -> bool:
    """Tell whether an Anthropic request carries an image anywhere."""
    for message in request.get("messages", ()):
        content = message.get("content")
        if isinstance(content, list) and _blocks_have_image(content):
            return True

    return False


def _blocks_have_image(blocks: list[Any]) -> bool:
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "image":
            return True
        nested = block.get("content")
        if isinstance(nested, list) and _blocks_have_image(nested):
            return True

    return False


def _max_tokens(body: dict[str, Any], default: int) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value: int | None = body.get(key)
        if value is not None:
            return value

    return default


def _add_sampling(request: dict[str, Any], body: dict[str, Any]) -> None:
    """Copy temperature or top_p, and the stop sequences.

    OpenAI's temperature runs to 2 and Anthropic's to 1; like Anthropic's own
    compatibility layer, values above 1 become 1 rather than being halved, so
    the common settings (0, 0.7, 1) keep their meaning. Newer Claude models
    answer 400 when both temperature and top_p are set, so only one goes
    upstream: temperature, the one clients actually tune, while top_p is
    usually left at its neutral value beside it.
    """
    temperature = body.get("temperature")
    if temperature is not None:
        request["temperature"] = min(temperature, 1.0)
    elif body.get("top_p") is not None:
        request["top_p"] = body["top_p"]

    stop = body.get("stop")
    if isinstance(stop, str):
        request["stop_sequences"] = [stop]
    elif stop:
        request["stop_sequences"] = stop


def _add_tools(request: dict[str, Any], body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if not tools:
        return

    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice["type"] == "allowed_tools":
        tools = _allowed_tools(tools, choice["allowed_tools"])
    request["tools"] = [_tool(tool["function"]) for tool in tools]

    tool_choice = _tool_choice(choice)
    if body.get("parallel_tool_calls") is False:
        tool_choice = tool_choice or {"type": "auto"}
        if tool_choice["type"] != "none":
            tool_choice["disable_parallel_tool_use"] = True
    if tool_choice:
        request["tool_choice"] = tool_choice


def _tool(function: dict[str, Any]) -> dict[str, Any]:
    """Translate a function tool.

    ``strict`` is left behind: Claude enforces schemas only for some models
    and API versions, and a model that does not support it would refuse the
    whole request, which is worse than a loosely followed schema.
    """
    tool = {"name": function["name"]}
    if function.get("description") is not None:
        tool["description"] = function["description"]
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    tool["input_schema"] = schema

    return tool


def _allowed_tools(
    tools: list[dict[str, Any]], allowed: dict[str, Any]
) -> list[dict[str, Any]]:
    """Keep only the tools an ``allowed_tools`` choice lets the model call.

    Anthropic has no such filter, so the others are not sent at all.
    """
    names = {entry["function"]["name"] for entry in allowed["tools"]}

    return [tool for tool in tools if tool["function"]["name"] in names]


def _tool_choice(choice: str | dict[str, Any] | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        return {"type": _TOOL_CHOICE_TYPES[choice]}
    if choice["type"] == "function":
        return {"type": "tool", "name": choice["function"]["name"]}

    mode = choice["allowed_tools"]["mode"]
    return {"type": _TOOL_CHOICE_TYPES[mode]}


def _add_metadata(request: dict[str, Any], body: dict[str, Any]) -> None:
    """Pass the end-user id, under its older or newer OpenAI name."""
    user = body.get("user") or body.get("safety_identifier")
    if user:
        request["metadata"] = {"user_id": user}


def _add_output_format(request: dict[str, Any], body: dict[str, Any]) -> None:
    """Ask for schema-shaped output when the client gave a JSON schema.

    ``json_object`` has no counterpart: Claude cannot be told "any JSON", so
    nothing is added and the client's own instructions have to carry it.
    """
    response_format = body.get("response_format")
    if not response_format or response_format["type"] != "json_schema":
        return

    schema = response_format["json_schema"].get("schema")
    if schema is not None:
        request["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
