"""Shape checks for OpenAI Chat Completions bodies.

Each check raises ``InvalidRequest`` with a message and a ``param`` path in
OpenAI's own notation (``messages[2].content``, ``tools[0].function.name``),
so a client can find the field without reading our code. Values the
translation drops (see ``IGNORED_PARAMETERS``) are not checked: refusing a
request over a parameter that would be thrown away helps nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from gateway.errors import InvalidRequest
from gateway.services.request_caps import check_caps

_ROLES = "'system', 'developer', 'user', 'assistant' or 'tool'"
_USER_PART_TYPES = frozenset({"text", "image_url", "input_audio", "file"})
_TOOL_CHOICE_STRINGS = frozenset({"auto", "none", "required"})
_RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})
_MAX_STOP_SEQUENCES = 4


def check_body(body: dict[str, Any]) -> None:
    """Check every field the translation reads, in the order a reader expects."""
    _check_model(body)
    _check_caps(body)
    _check_messages(body.get("messages"))
    _check_n(body.get("n"))
    _check_sampling(body)
    _check_token_limits(body)
    _check_stop(body.get("stop"))
    _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"), body.get("tools"))
    _check_flags(body)
    _check_response_format(body.get("response_format"))
    _check_legacy_functions(body)


def _fail(message: str, param: str) -> NoReturn:
    raise InvalidRequest(message, param=param)


def _json_type(value: object) -> str:
    """Name a value's type the way a JSON client would think of it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"

    return "an array" if isinstance(value, list) else "an object"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_string(value: object, path: str, *, empty_ok: bool = False) -> None:
    if not isinstance(value, str):
        _fail(f"{path} must be a string, got {_json_type(value)}.", path)
    if not value and not empty_ok:
        _fail(f"{path} must not be empty.", path)


def _require_object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(f"{path} must be an object, got {_json_type(value)}.", path)

    return value


def _require_optional(value: object, kind: type, path: str, wanted: str) -> None:
    if value is not None and not isinstance(value, kind):
        _fail(f"{path} must be {wanted}, got {_json_type(value)}.", path)


def _check_model(body: dict[str, Any]) -> None:
    _require_string(body["model"], "model")


def _check_caps(body: dict[str, Any]) -> None:
    """The gateway's per-request caps, checked before the body is walked."""
    param = "max_completion_tokens"
    if body.get(param) is None:
        param = "max_tokens"
    check_caps(
        messages=body.get("messages"),
        tools=body.get("tools"),
        max_tokens=body.get(param),
        max_tokens_param=param,
    )


def _check_messages(messages: object) -> None:
    if not isinstance(messages, list):
        _fail(f"messages must be an array, got {_json_type(messages)}.", "messages")
    if not messages:
        _fail("messages must contain at least one message.", "messages")

    for index, message in enumerate(messages):
        _check_message(message, f"messages[{index}]")


def _check_message(message: object, path: str) -> None:
    message = _require_object(message, path)
    role = message.get("role")
    if role == "function":
        _fail(
            f"{path}.role 'function' is deprecated and not supported; send "
            "function results as 'tool' messages.",
            f"{path}.role",
        )

    check = _MESSAGE_CHECKS.get(role) if isinstance(role, str) else None
    if check is None:
        _fail(f"{path}.role must be one of {_ROLES}.", f"{path}.role")
    check(message, path)


def _check_system_message(message: dict[str, Any], path: str) -> None:
    _check_text_content(message.get("content"), f"{path}.content")


def _check_text_content(content: object, path: str) -> None:
    """Accept a string or an array of text parts, as system and tool messages take."""
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        _fail(
            f"{path} must be a string or an array of text parts, "
            f"got {_json_type(content)}.",
            path,
        )

    for index, part in enumerate(content):
        _check_text_part(part, f"{path}[{index}]")


def _check_text_part(part: object, path: str) -> None:
    part = _require_object(part, path)
    if part.get("type") != "text":
        _fail(f"{path}.type must be 'text'.", f"{path}.type")
    _require_string(part.get("text"), f"{path}.text", empty_ok=True)


def _check_user_message(message: dict[str, Any], path: str) -> None:
    content = message.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        _fail(
            f"{path}.content must be a string or an array of content parts, "
            f"got {_json_type(content)}.",
            f"{path}.content",
        )

    for index, part in enumerate(content):
        _check_user_part(part, f"{path}.content[{index}]")


def _check_user_part(part: object, path: str) -> None:
    part = _require_object(part, path)
    kind = part.get("type")
    if kind not in _USER_PART_TYPES:
        _fail(
            f"{path}.type must be one of 'text', 'image_url', 'input_audio' or 'file'.",
            f"{path}.type",
        )

    if kind == "text":
        _require_string(part.get("text"), f"{path}.text", empty_ok=True)
    elif kind == "image_url":
        image = _require_object(part.get("image_url"), f"{path}.image_url")
        _require_string(image.get("url"), f"{path}.image_url.url")
    else:
        _require_object(part.get(kind), f"{path}.{kind}")


def _check_assistant_message(message: dict[str, Any], path: str) -> None:
    content = message.get("content")
    if isinstance(content, list):
        for index, part in enumerate(content):
            _check_assistant_part(part, f"{path}.content[{index}]")
    else:
        _require_optional(content, str, f"{path}.content", "a string or an array")
    _require_optional(message.get("refusal"), str, f"{path}.refusal", "a string")

    tool_calls = message.get("tool_calls")
    _require_optional(tool_calls, list, f"{path}.tool_calls", "an array")
    for index, call in enumerate(tool_calls or ()):
        _check_tool_call(call, f"{path}.tool_calls[{index}]")


def _check_assistant_part(part: object, path: str) -> None:
    part = _require_object(part, path)
    kind = part.get("type")
    if kind == "refusal":
        _require_string(part.get("refusal"), f"{path}.refusal", empty_ok=True)
        return
    if kind != "text":
        _fail(f"{path}.type must be 'text' or 'refusal'.", f"{path}.type")
    _require_string(part.get("text"), f"{path}.text", empty_ok=True)


def _check_tool_call(call: object, path: str) -> None:
    call = _require_object(call, path)
    if call.get("type") != "function":
        _fail(f"{path}.type must be 'function'.", f"{path}.type")
    _require_string(call.get("id"), f"{path}.id")

    function = _require_object(call.get("function"), f"{path}.function")
    _require_string(function.get("name"), f"{path}.function.name")
    _require_string(
        function.get("arguments"), f"{path}.function.arguments", empty_ok=True
    )


def _check_tool_message(message: dict[str, Any], path: str) -> None:
    _require_string(message.get("tool_call_id"), f"{path}.tool_call_id")
    _check_text_content(message.get("content"), f"{path}.content")


_MESSAGE_CHECKS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "system": _check_system_message,
    "developer": _check_system_message,
    "user": _check_user_message,
    "assistant": _check_assistant_message,
    "tool": _check_tool_message,
}


def _check_n(n: object) -> None:
    if n is not None and (not _is_integer(n) or n != 1):
        _fail("n must be 1: Claude returns a single choice per request.", "n")


def _check_sampling(body: dict[str, Any]) -> None:
    for name, high in (("temperature", 2), ("top_p", 1)):
        value = body.get(name)
        if value is None:
            continue
        if not _is_number(value):
            _fail(f"{name} must be a number, got {_json_type(value)}.", name)
        if not 0 <= value <= high:
            _fail(f"{name} must be between 0 and {high}.", name)


def _check_token_limits(body: dict[str, Any]) -> None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is not None and (not _is_integer(value) or value < 1):
            _fail(f"{name} must be a positive integer.", name)


def _check_stop(stop: object) -> None:
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list):
        _fail(f"stop must be a string or an array, got {_json_type(stop)}.", "stop")
    if len(stop) > _MAX_STOP_SEQUENCES:
        _fail(f"stop may hold at most {_MAX_STOP_SEQUENCES} sequences.", "stop")

    for index, sequence in enumerate(stop):
        _require_string(sequence, f"stop[{index}]")


def _check_tools(tools: object) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        _fail(f"tools must be an array, got {_json_type(tools)}.", "tools")

    for index, tool in enumerate(tools):
        _check_tool(tool, f"tools[{index}]")


def _check_tool(tool: object, path: str) -> None:
    tool = _require_object(tool, path)
    if tool.get("type") != "function":
        _fail(
            f"{path}.type must be 'function': Claude takes no custom tools.",
            f"{path}.type",
        )

    function = _require_object(tool.get("function"), f"{path}.function")
    _require_string(function.get("name"), f"{path}.function.name")
    description = function.get("description")
    _require_optional(description, str, f"{path}.function.description", "a string")
    parameters = function.get("parameters")
    _require_optional(parameters, dict, f"{path}.function.parameters", "an object")


def _check_tool_choice(choice: object, tools: object) -> None:
    if choice is None or choice in ("auto", "none"):
        return
    if choice != "required" and not isinstance(choice, dict):
        _fail(
            "tool_choice must be 'auto', 'none', 'required' or an object.",
            "tool_choice",
        )
    if not tools:
        _fail("tool_choice needs tools to choose from.", "tool_choice")

    if isinstance(choice, dict):
        _check_named_choice(choice, tools)


def _check_named_choice(choice: dict[str, Any], tools: object) -> None:
    kind = choice.get("type")
    if kind == "allowed_tools":
        _check_allowed_tools(choice.get("allowed_tools"), tools)
        return
    if kind != "function":
        _fail(
            "tool_choice.type must be 'function' or 'allowed_tools'.",
            "tool_choice.type",
        )

    function = _require_object(choice.get("function"), "tool_choice.function")
    _check_declared_tool(function.get("name"), tools, "tool_choice.function.name")


def _check_allowed_tools(allowed: object, tools: Any) -> None:
    path = "tool_choice.allowed_tools"
    allowed = _require_object(allowed, path)
    if allowed.get("mode") not in ("auto", "required"):
        _fail(f"{path}.mode must be 'auto' or 'required'.", f"{path}.mode")
    entries = allowed.get("tools")
    if not isinstance(entries, list) or not entries:
        _fail(f"{path}.tools must be a non-empty array.", f"{path}.tools")

    for index, entry in enumerate(entries):
        entry_path = f"{path}.tools[{index}]"
        entry = _require_object(entry, entry_path)
        function = _require_object(entry.get("function"), f"{entry_path}.function")
        name_path = f"{entry_path}.function.name"
        _check_declared_tool(function.get("name"), tools, name_path)


def _check_declared_tool(name: object, tools: Any, path: str) -> None:
    """Refuse a choice naming a tool the request does not declare."""
    _require_string(name, path)
    for tool in tools:
        if tool["function"]["name"] == name:
            return

    _fail(f"{path} names {name!r}, which is not among the tools.", path)


def _check_flags(body: dict[str, Any]) -> None:
    for name in ("stream", "parallel_tool_calls"):
        _require_optional(body.get(name), bool, name, "a boolean")
    for name in ("user", "safety_identifier"):
        _require_optional(body.get(name), str, name, "a string")

    options = body.get("stream_options")
    _require_optional(options, dict, "stream_options", "an object")
    include_usage = (options or {}).get("include_usage")
    _require_optional(include_usage, bool, "stream_options.include_usage", "a boolean")


def _check_response_format(response_format: object) -> None:
    if response_format is None:
        return
    response_format = _require_object(response_format, "response_format")
    if response_format.get("type") not in _RESPONSE_FORMATS:
        _fail(
            "response_format.type must be 'text', 'json_object' or 'json_schema'.",
            "response_format.type",
        )

    if response_format["type"] == "json_schema":
        path = "response_format.json_schema"
        json_schema = _require_object(response_format.get("json_schema"), path)
        schema = json_schema.get("schema")
        _require_optional(schema, dict, f"{path}.schema", "an object")


def _check_legacy_functions(body: dict[str, Any]) -> None:
    """Refuse the pre-tools function calling API instead of silently ignoring it."""
    for name in ("functions", "function_call"):
        if body.get(name) is not None:
            _fail(
                f"{name} is deprecated and not supported; use tools and "
                "tool_choice instead.",
                name,
            )
