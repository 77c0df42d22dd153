"""OpenAI request validation and translation to Anthropic (the vendors' API references)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import InvalidRequest
from gateway.translate.openai_request import (
    IGNORED_PARAMETERS,
    has_images,
    to_anthropic_request,
    validate_chat_request,
)

MODEL = "claude-haiku-4-5-20251001"
PNG_DATA_URL = "data:image/png;base64,iVBORw0KGgo="
PDF_DATA_URL = "data:application/pdf;base64,JVBERi0xLjQ="


def translate(body: dict[str, Any], default_max_tokens: int = 4096) -> dict[str, Any]:
    """Validate then translate, as the view does."""
    validated = validate_chat_request(body)

    return to_anthropic_request(
        validated, model=MODEL, default_max_tokens=default_max_tokens
    )


def chat(*messages: dict[str, Any], **params: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": list(messages), **params}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any = None, **fields: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, **fields}


def tool_message(call_id: str, content: Any) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def call(call_id: str, name: str, arguments: object) -> dict[str, Any]:
    function = {"name": name, "arguments": arguments}
    return {"id": call_id, "type": "function", "function": function}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def function_tool(name: str, **function: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, **function}}


def rejection(body: object) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        translate(body)  # type: ignore[arg-type]

    return caught.value


# The basic shape.


def test_minimal_request_becomes_model_max_tokens_and_one_user_turn() -> None:
    request = translate(chat(user("Hello")))

    assert request == {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [text("Hello")]}],
    }


def test_stream_is_left_for_the_caller_to_set() -> None:
    request = translate(chat(user("Hi"), stream=True, stream_options={}))

    assert "stream" not in request
    assert "stream_options" not in request


def test_absent_or_null_model_is_treated_as_auto() -> None:
    body = {"messages": [user("Hi")]}

    assert validate_chat_request(body)["model"] == "auto"
    assert validate_chat_request({**body, "model": None})["model"] == "auto"


def test_validation_returns_the_same_body() -> None:
    body = chat(user("Hi"))

    assert validate_chat_request(body) is body


# System and developer messages.


def test_system_and_developer_messages_become_system_blocks_in_order() -> None:
    request = translate(
        chat(
            {"role": "system", "content": "Be brief."},
            user("Hi"),
            {"role": "developer", "content": [text("Use French."), text("")]},
        )
    )

    assert request["system"] == [text("Be brief."), text("Use French.")]
    assert request["messages"] == [{"role": "user", "content": [text("Hi")]}]


def test_empty_system_message_is_dropped() -> None:
    request = translate(chat({"role": "system", "content": ""}, user("Hi")))

    assert "system" not in request


def test_system_prompt_alone_is_rejected() -> None:
    error = rejection(chat({"role": "system", "content": "Be brief."}))

    assert error.param == "messages"


# Merging turns.


def test_consecutive_user_messages_merge_into_one_turn_in_order() -> None:
    request = translate(chat(user("one"), user([text("two"), text("three")])))

    assert request["messages"] == [
        {"role": "user", "content": [text("one"), text("two"), text("three")]}
    ]


def test_consecutive_assistant_messages_merge_into_one_turn() -> None:
    request = translate(chat(user("Hi"), assistant("a"), assistant("b")))

    assert request["messages"][1] == {
        "role": "assistant",
        "content": [text("a"), text("b")],
    }


def test_conversation_starting_with_assistant_is_kept_as_is() -> None:
    request = translate(chat(assistant("Welcome!"), user("Thanks")))

    assert [turn["role"] for turn in request["messages"]] == ["assistant", "user"]


def test_final_assistant_message_passes_through_as_prefill() -> None:
    request = translate(chat(user("Count"), assistant("1, 2,")))

    assert request["messages"][-1] == {"role": "assistant", "content": [text("1, 2,")]}


# Assistant tool calls.


def test_assistant_text_and_tool_calls_become_text_then_tool_use_blocks() -> None:
    message = assistant(
        "Checking.",
        tool_calls=[
            call("call_1", "weather", '{"city": "Paris"}'),
            call("call_2", "time", "{}"),
        ],
    )
    request = translate(chat(user("Weather?"), message))

    assert request["messages"][1]["content"] == [
        text("Checking."),
        {
            "type": "tool_use",
            "id": "call_1",
            "name": "weather",
            "input": {"city": "Paris"},
        },
        {"type": "tool_use", "id": "call_2", "name": "time", "input": {}},
    ]


def test_assistant_with_null_content_and_tool_calls_has_only_tool_use() -> None:
    message = assistant(None, tool_calls=[call("call_1", "now", "{}")])
    request = translate(chat(user("Time?"), message))

    assert [block["type"] for block in request["messages"][1]["content"]] == [
        "tool_use"
    ]


def test_empty_tool_arguments_are_read_as_no_arguments() -> None:
    message = assistant(None, tool_calls=[call("call_1", "now", "")])
    request = translate(chat(user("Time?"), message))

    assert request["messages"][1]["content"][0]["input"] == {}


def test_tool_arguments_that_are_not_json_are_rejected_naming_the_message() -> None:
    message = assistant(None, tool_calls=[call("a", "f", "{}"), call("b", "f", "{x")])
    error = rejection(chat(user("Hi"), user("Hi"), assistant("ok"), message))

    assert error.param == "messages[3].tool_calls[1].function.arguments"
    assert (
        str(error) == "messages[3].tool_calls[1].function.arguments is not valid JSON."
    )


def test_tool_arguments_that_are_not_an_object_are_rejected() -> None:
    message = assistant(None, tool_calls=[call("a", "f", "[1, 2]")])
    error = rejection(chat(user("Hi"), message))

    assert error.param == "messages[1].tool_calls[0].function.arguments"
    assert "JSON object" in str(error)


def test_tool_ids_from_other_providers_are_made_acceptable_consistently() -> None:
    calling = assistant(None, tool_calls=[call("functions.lookup:0", "lookup", "{}")])
    request = translate(
        chat(user("Hi"), calling, tool_message("functions.lookup:0", "found"))
    )

    tool_use = request["messages"][1]["content"][0]
    tool_result = request["messages"][2]["content"][0]
    assert tool_use["id"] == "functions_lookup_0"
    assert tool_result["tool_use_id"] == "functions_lookup_0"


def test_assistant_refusal_is_ignored() -> None:
    message = assistant("Here you go.", refusal="I cannot")
    request = translate(chat(user("Hi"), message))

    assert request["messages"][1]["content"] == [text("Here you go.")]


def test_assistant_refusal_parts_are_ignored() -> None:
    parts = [text("Partly."), {"type": "refusal", "refusal": "No more."}]
    request = translate(chat(user("Hi"), assistant(parts)))

    assert request["messages"][1]["content"] == [text("Partly.")]


def test_assistant_message_holding_only_a_refusal_is_dropped() -> None:
    request = translate(
        chat(user("Hi"), assistant(None, refusal="I cannot"), user("Why?"))
    )

    assert request["messages"] == [
        {"role": "user", "content": [text("Hi"), text("Why?")]}
    ]


def test_assistant_message_with_nothing_in_it_is_rejected() -> None:
    error = rejection(chat(user("Hi"), assistant("")))

    assert error.param == "messages[1].content"
    assert "messages[1]" in str(error)


# Tool results.


def tool_exchange() -> list[dict[str, Any]]:
    calls = [call("call_a", "f", "{}"), call("call_b", "g", "{}")]
    return [user("Go"), assistant(None, tool_calls=calls)]


def test_consecutive_tool_messages_become_one_user_turn() -> None:
    request = translate(
        chat(
            *tool_exchange(),
            tool_message("call_a", "result a"),
            tool_message("call_b", [text("result b")]),
            user("Now summarise."),
        )
    )

    assert request["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_a", "content": "result a"},
            {
                "type": "tool_result",
                "tool_use_id": "call_b",
                "content": [text("result b")],
            },
            text("Now summarise."),
        ],
    }
    assert len(request["messages"]) == 3


def test_tool_results_go_before_user_text_that_came_between_them() -> None:
    request = translate(
        chat(
            *tool_exchange(),
            tool_message("call_a", "a"),
            user("Also this."),
            tool_message("call_b", "b"),
        )
    )

    kinds = [block["type"] for block in request["messages"][2]["content"]]
    assert kinds == ["tool_result", "tool_result", "text"]


def test_empty_tool_result_content_is_left_out() -> None:
    request = translate(chat(*tool_exchange()[:2], tool_message("call_a", "")))

    assert request["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_a"}
    ]


# User content parts.


def test_empty_text_parts_are_dropped() -> None:
    request = translate(chat(user([text(""), text("kept")])))

    assert request["messages"][0]["content"] == [text("kept")]


@pytest.mark.parametrize("content", ["", [], [text("")]])
def test_user_message_left_without_content_is_rejected(content: Any) -> None:
    error = rejection(chat(user("Hi"), assistant("Yes?"), user(content)))

    assert error.param == "messages[2].content"
    assert "messages[2]" in str(error)


def test_image_data_url_becomes_base64_source_and_detail_is_dropped() -> None:
    image = {"type": "image_url", "image_url": {"url": PNG_DATA_URL, "detail": "high"}}
    request = translate(chat(user([text("What is it?"), image])))

    assert request["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }


@pytest.mark.parametrize(
    ("declared", "sent"),
    [
        ("image/jpeg", "image/jpeg"),
        ("image/jpg", "image/jpeg"),
        ("image/gif", "image/gif"),
        ("IMAGE/WEBP", "image/webp"),
    ],
)
def test_supported_image_media_types_are_accepted(declared: str, sent: str) -> None:
    url = f"data:{declared};base64,AAAA"
    image = {"type": "image_url", "image_url": {"url": url}}
    request = translate(chat(user([image])))

    assert request["messages"][0]["content"][0]["source"]["media_type"] == sent


def test_unsupported_image_media_type_is_rejected() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}
    error = rejection(chat(user([text("Look"), image])))

    assert error.param == "messages[0].content[1].image_url.url"
    assert "image/bmp" in str(error)


@pytest.mark.parametrize(
    "url",
    ["data:image/png,rawbytes", "data:image/png;base64", "ftp://example.com/a.png"],
)
def test_image_url_that_is_neither_web_nor_base64_is_rejected(url: str) -> None:
    image = {"type": "image_url", "image_url": {"url": url}}
    error = rejection(chat(user([image])))

    assert error.param == "messages[0].content[0].image_url.url"


@pytest.mark.parametrize(
    "url", ["https://example.com/cat.png", "http://example.com/cat.png"]
)
def test_image_web_url_becomes_url_source(url: str) -> None:
    image = {"type": "image_url", "image_url": {"url": url, "detail": "low"}}
    request = translate(chat(user([image])))

    assert request["messages"][0]["content"][0] == {
        "type": "image",
        "source": {"type": "url", "url": url},
    }


def test_inline_pdf_file_becomes_document_block() -> None:
    part = {"type": "file", "file": {"filename": "a.pdf", "file_data": PDF_DATA_URL}}
    request = translate(chat(user([part])))

    assert request["messages"][0]["content"][0] == {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": "JVBERi0xLjQ=",
        },
    }


def test_uploaded_file_id_is_rejected() -> None:
    part = {"type": "file", "file": {"file_id": "file-abc"}}
    error = rejection(chat(user([part])))

    assert error.param == "messages[0].content[0].file.file_data"


def test_non_pdf_file_is_rejected() -> None:
    part = {"type": "file", "file": {"file_data": "data:text/csv;base64,YSxi"}}
    error = rejection(chat(user([part])))

    assert error.param == "messages[0].content[0].file.file_data"


def test_audio_input_is_rejected() -> None:
    part = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    error = rejection(chat(user([part])))

    assert error.param == "messages[0].content[0]"


def test_has_images_finds_images_in_messages_and_tool_results() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://a/b.png"}}
    with_image = translate(
        chat(user([{"type": "image_url", "image_url": {"url": "https://a/b.png"}}]))
    )
    nested = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": [image]}
                ],
            }
        ]
    }

    assert has_images(with_image)
    assert has_images(nested)
    assert not has_images(translate(chat(user("plain"))))
    assert not has_images({"messages": [{"role": "user", "content": "text"}]})


# Sampling, limits and stop sequences.


def test_max_completion_tokens_becomes_max_tokens() -> None:
    request = translate(chat(user("Hi"), max_completion_tokens=100, max_tokens=50))

    assert request["max_tokens"] == 100


def test_deprecated_max_tokens_becomes_max_tokens() -> None:
    assert translate(chat(user("Hi"), max_tokens=50))["max_tokens"] == 50


def test_absent_token_limit_uses_the_configured_default() -> None:
    request = translate(chat(user("Hi")), default_max_tokens=1234)

    assert request["max_tokens"] == 1234


@pytest.mark.parametrize(
    ("given", "sent"), [(0, 0), (0.7, 0.7), (1, 1), (1.5, 1.0), (2, 1.0)]
)
def test_temperature_above_one_is_capped_at_one(given: float, sent: float) -> None:
    assert translate(chat(user("Hi"), temperature=given))["temperature"] == sent


def test_top_p_is_sent_when_temperature_is_absent() -> None:
    request = translate(chat(user("Hi"), top_p=0.9))

    assert request["top_p"] == 0.9
    assert "temperature" not in request


def test_temperature_wins_when_both_temperature_and_top_p_are_given() -> None:
    request = translate(chat(user("Hi"), temperature=0.2, top_p=0.9))

    assert request["temperature"] == 0.2
    assert "top_p" not in request


def test_stop_string_becomes_a_one_item_stop_sequences_list() -> None:
    request = translate(chat(user("Hi"), stop="END"))

    assert request["stop_sequences"] == ["END"]


def test_stop_list_becomes_stop_sequences() -> None:
    request = translate(chat(user("Hi"), stop=["a", "b"]))

    assert request["stop_sequences"] == ["a", "b"]


def test_empty_stop_list_sends_no_stop_sequences() -> None:
    assert "stop_sequences" not in translate(chat(user("Hi"), stop=[]))


# Tools and tool choice.


WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


def test_function_tools_become_name_description_and_input_schema() -> None:
    tool = function_tool(
        "weather", description="Get weather", parameters=WEATHER_SCHEMA, strict=True
    )
    request = translate(chat(user("Hi"), tools=[tool]))

    assert request["tools"] == [
        {
            "name": "weather",
            "description": "Get weather",
            "input_schema": WEATHER_SCHEMA,
        }
    ]


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    request = translate(chat(user("Hi"), tools=[function_tool("now")]))

    assert request["tools"] == [
        {"name": "now", "input_schema": {"type": "object", "properties": {}}}
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        (
            {"type": "function", "function": {"name": "now"}},
            {"type": "tool", "name": "now"},
        ),
    ],
)
def test_tool_choice_forms_are_translated(choice: Any, expected: Any) -> None:
    request = translate(
        chat(user("Hi"), tools=[function_tool("now")], tool_choice=choice)
    )

    assert request["tool_choice"] == expected


def test_allowed_tools_choice_sends_only_the_allowed_tools() -> None:
    allowed = {"mode": "required", "tools": [function_tool("b")]}
    request = translate(
        chat(
            user("Hi"),
            tools=[function_tool("a"), function_tool("b")],
            tool_choice={"type": "allowed_tools", "allowed_tools": allowed},
        )
    )

    assert [tool["name"] for tool in request["tools"]] == ["b"]
    assert request["tool_choice"] == {"type": "any"}


def test_parallel_tool_calls_false_disables_parallel_use_on_the_choice() -> None:
    request = translate(
        chat(
            user("Hi"),
            tools=[function_tool("now")],
            tool_choice="required",
            parallel_tool_calls=False,
        )
    )

    assert request["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_parallel_tool_calls_false_without_choice_creates_an_auto_choice() -> None:
    request = translate(
        chat(user("Hi"), tools=[function_tool("now")], parallel_tool_calls=False)
    )

    assert request["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_parallel_tool_calls_false_leaves_a_none_choice_alone() -> None:
    request = translate(
        chat(
            user("Hi"),
            tools=[function_tool("now")],
            tool_choice="none",
            parallel_tool_calls=False,
        )
    )

    assert request["tool_choice"] == {"type": "none"}


def test_parallel_tool_calls_true_adds_nothing() -> None:
    request = translate(
        chat(user("Hi"), tools=[function_tool("now")], parallel_tool_calls=True)
    )

    assert "tool_choice" not in request


def test_tool_choice_without_tools_is_dropped_when_harmless() -> None:
    request = translate(chat(user("Hi"), tool_choice="none", parallel_tool_calls=False))

    assert "tool_choice" not in request
    assert "tools" not in request


# Metadata and output format.


def test_user_becomes_metadata_user_id() -> None:
    request = translate(chat(user("Hi"), user="user-42"))

    assert request["metadata"] == {"user_id": "user-42"}


def test_safety_identifier_becomes_metadata_user_id() -> None:
    request = translate(chat(user("Hi"), safety_identifier="hash-1"))

    assert request["metadata"] == {"user_id": "hash-1"}


def test_json_schema_response_format_becomes_output_config_format() -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "weather", "schema": WEATHER_SCHEMA, "strict": True},
    }
    request = translate(chat(user("Hi"), response_format=response_format))

    assert request["output_config"] == {
        "format": {"type": "json_schema", "schema": WEATHER_SCHEMA}
    }


@pytest.mark.parametrize("kind", ["json_object", "text"])
def test_response_formats_without_equivalent_add_nothing(kind: str) -> None:
    request = translate(chat(user("Hi"), response_format={"type": kind}))

    assert "output_config" not in request


# Parameters with no equivalent.


@pytest.mark.parametrize("name", sorted(IGNORED_PARAMETERS))
def test_parameters_without_equivalent_are_not_sent_upstream(name: str) -> None:
    request = translate(chat(user("Hi"), **{name: {"any": "value"}}))

    assert set(request) == {"model", "max_tokens", "messages"}


def test_unknown_parameters_are_not_sent_upstream() -> None:
    request = translate(chat(user("Hi"), frobnicate=True))

    assert "frobnicate" not in request


def test_n_of_one_is_accepted() -> None:
    assert translate(chat(user("Hi"), n=1))["max_tokens"] == 4096


def test_translation_does_not_modify_the_client_body() -> None:
    body = chat(
        {"role": "system", "content": "S"},
        user("Hi"),
        tools=[function_tool("now")],
        stop="x",
    )
    snapshot = repr(body)
    translate(body)

    assert repr(body) == snapshot


# Validation errors name the field.


def message_with(**fields: Any) -> dict[str, Any]:
    return chat(user("ok"), {"role": "user", **fields})


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [user("Hi")], "model": 3}, "model"),
        ({"messages": [user("Hi")], "model": ""}, "model"),
        ({"model": "m"}, "messages"),
        (chat(), "messages"),
        ({"model": "m", "messages": "Hi"}, "messages"),
        ({"model": "m", "messages": ["Hi"]}, "messages[0]"),
        (chat({"content": "Hi"}), "messages[0].role"),
        (chat({"role": "robot", "content": "Hi"}), "messages[0].role"),
        (chat({"role": "function", "name": "f", "content": "x"}), "messages[0].role"),
        (message_with(), "messages[1].content"),
        (message_with(content=None), "messages[1].content"),
        (message_with(content=7), "messages[1].content"),
        (message_with(content=["Hi"]), "messages[1].content[0]"),
        (message_with(content=[{"type": "video"}]), "messages[1].content[0].type"),
        (message_with(content=[{"type": "text"}]), "messages[1].content[0].text"),
        (
            message_with(content=[{"type": "image_url", "image_url": "x"}]),
            "messages[1].content[0].image_url",
        ),
        (
            message_with(content=[{"type": "image_url", "image_url": {}}]),
            "messages[1].content[0].image_url.url",
        ),
        (chat({"role": "system"}), "messages[0].content"),
        (
            chat({"role": "system", "content": [{"type": "image_url"}]}),
            "messages[0].content[0].type",
        ),
        (chat(user("Hi"), assistant(5)), "messages[1].content"),
        (
            chat(user("Hi"), assistant([{"type": "audio"}])),
            "messages[1].content[0].type",
        ),
        (chat(user("Hi"), assistant("a", refusal=1)), "messages[1].refusal"),
        (chat(user("Hi"), assistant("a", tool_calls={})), "messages[1].tool_calls"),
        (
            chat(user("Hi"), assistant(None, tool_calls=[{"type": "custom"}])),
            "messages[1].tool_calls[0].type",
        ),
        (
            chat(user("Hi"), assistant(None, tool_calls=[call("", "f", "{}")])),
            "messages[1].tool_calls[0].id",
        ),
        (
            chat(user("Hi"), assistant(None, tool_calls=[call("c", "", "{}")])),
            "messages[1].tool_calls[0].function.name",
        ),
        (
            chat(
                user("Hi"),
                assistant(None, tool_calls=[{"id": "c", "type": "function"}]),
            ),
            "messages[1].tool_calls[0].function",
        ),
        (
            chat(user("Hi"), assistant(None, tool_calls=[call("c", "f", {})])),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            chat(user("Hi"), {"role": "tool", "content": "x"}),
            "messages[1].tool_call_id",
        ),
        (chat(user("Hi"), tool_message("c", None)), "messages[1].content"),
        (chat(user("Hi"), n=2), "n"),
        (chat(user("Hi"), n=0), "n"),
        (chat(user("Hi"), n="1"), "n"),
        (chat(user("Hi"), temperature=2.5), "temperature"),
        (chat(user("Hi"), temperature=-0.1), "temperature"),
        (chat(user("Hi"), temperature="hot"), "temperature"),
        (chat(user("Hi"), temperature=True), "temperature"),
        (chat(user("Hi"), top_p=1.5), "top_p"),
        (chat(user("Hi"), max_tokens=0), "max_tokens"),
        (chat(user("Hi"), max_tokens=10.5), "max_tokens"),
        (chat(user("Hi"), max_completion_tokens=-1), "max_completion_tokens"),
        (chat(user("Hi"), stop=5), "stop"),
        (chat(user("Hi"), stop=["a", "b", "c", "d", "e"]), "stop"),
        (chat(user("Hi"), stop=["a", 1]), "stop[1]"),
        (chat(user("Hi"), tools={}), "tools"),
        (chat(user("Hi"), tools=["weather"]), "tools[0]"),
        (chat(user("Hi"), tools=[{"type": "custom", "custom": {}}]), "tools[0].type"),
        (chat(user("Hi"), tools=[{"type": "function"}]), "tools[0].function"),
        (chat(user("Hi"), tools=[function_tool("")]), "tools[0].function.name"),
        (
            chat(user("Hi"), tools=[function_tool("f", description=1)]),
            "tools[0].function.description",
        ),
        (
            chat(user("Hi"), tools=[function_tool("f", parameters=[])]),
            "tools[0].function.parameters",
        ),
        (chat(user("Hi"), tool_choice="required"), "tool_choice"),
        (
            chat(user("Hi"), tools=[function_tool("f")], tool_choice="any"),
            "tool_choice",
        ),
        (chat(user("Hi"), tools=[function_tool("f")], tool_choice=3), "tool_choice"),
        (
            chat(
                user("Hi"),
                tools=[function_tool("f")],
                tool_choice={"type": "custom", "custom": {"name": "f"}},
            ),
            "tool_choice.type",
        ),
        (
            chat(
                user("Hi"),
                tools=[function_tool("f")],
                tool_choice={"type": "function", "function": {"name": "g"}},
            ),
            "tool_choice.function.name",
        ),
        (
            chat(
                user("Hi"),
                tools=[function_tool("f")],
                tool_choice={
                    "type": "allowed_tools",
                    "allowed_tools": {"mode": "sometimes", "tools": []},
                },
            ),
            "tool_choice.allowed_tools.mode",
        ),
        (
            chat(
                user("Hi"),
                tools=[function_tool("f")],
                tool_choice={
                    "type": "allowed_tools",
                    "allowed_tools": {"mode": "auto", "tools": [function_tool("g")]},
                },
            ),
            "tool_choice.allowed_tools.tools[0].function.name",
        ),
        (chat(user("Hi"), parallel_tool_calls="no"), "parallel_tool_calls"),
        (chat(user("Hi"), stream="yes"), "stream"),
        (chat(user("Hi"), stream_options=True), "stream_options"),
        (
            chat(user("Hi"), stream_options={"include_usage": 1}),
            "stream_options.include_usage",
        ),
        (chat(user("Hi"), user=42), "user"),
        (chat(user("Hi"), response_format="json"), "response_format"),
        (chat(user("Hi"), response_format={"type": "yaml"}), "response_format.type"),
        (
            chat(user("Hi"), response_format={"type": "json_schema"}),
            "response_format.json_schema",
        ),
        (
            chat(
                user("Hi"),
                response_format={"type": "json_schema", "json_schema": {"schema": 1}},
            ),
            "response_format.json_schema.schema",
        ),
        (chat(user("Hi"), functions=[{"name": "f"}]), "functions"),
        (chat(user("Hi"), function_call="auto"), "function_call"),
    ],
)
def test_invalid_fields_are_rejected_with_their_path(
    body: dict[str, Any], param: str
) -> None:
    error = rejection(body)

    assert error.param == param
    assert error.status == 400
    assert param in str(error)


@pytest.mark.parametrize("body", [None, [], "text", 3])
def test_body_that_is_not_an_object_is_rejected(body: object) -> None:
    with pytest.raises(InvalidRequest, match="JSON object"):
        validate_chat_request(body)


def test_n_error_explains_the_single_choice() -> None:
    error = rejection(chat(user("Hi"), n=3))

    assert "n must be 1" in str(error)


def test_wrong_type_errors_say_what_was_received() -> None:
    error = rejection(chat(user("Hi"), user("Hi"), user(7)))

    assert str(error) == (
        "messages[2].content must be a string or an array of content parts, "
        "got a number."
    )
