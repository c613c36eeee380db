"""Contract: chat.completions through every adapter, checked on what crossed the wire."""

from __future__ import annotations

from typing import Any

import pytest
from adapter_cases import MODEL, AdapterCase
from loopback import LoopbackServer, Reply
from wire_samples import chat_completion

from llmport.domain.errors import ConfigurationError, ContentFilteredError
from llmport.domain.models import (
    ChatRequest,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolSpec,
    Usage,
)

WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    strict=True,
)


def ask(*messages: Message, **options: Any) -> ChatRequest:
    return ChatRequest(messages or (Message.user("ping"),), model=MODEL, **options)


def test_complete_returns_the_reply_text_usage_model_and_request_id(adapter: Any) -> None:
    reply = adapter.complete(ask())

    assert reply.text == "pong"
    assert reply.finish_reason == "stop"
    assert reply.model == MODEL
    assert reply.request_id == "req-loopback"
    assert reply.usage == Usage(12, 5, 17, cached_tokens=4, reasoning_tokens=2)


def test_request_uses_the_providers_url_shape_auth_header_and_api_version(
    adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    adapter.complete(ask())

    sent = server.last
    assert (sent.shape, sent.op) == (case.shape, "chat/completions")
    header, value = case.expected_auth(server)
    assert sent.headers[header] == value
    assert ("api-version" in sent.query) == (case.shape == "azure")
    if case.shape == "azure":
        assert sent.deployment == MODEL
    # llmport owns retries: the SDK must not have retried behind its back.
    assert sent.headers["x-stainless-retry-count"] == "0"


def test_messages_and_sampling_options_are_sent_as_the_api_names_them(
    adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    adapter.complete(
        ask(
            Message.system("be brief"),
            Message.user("hi"),
            Message.assistant("hello"),
            Message.user("again"),
            temperature=0.2,
            top_p=0.9,
            max_tokens=64,
            stop=("END",),
            seed=7,
            user="user-42",
            extra={"logprobs": True},
        )
    )

    body = server.last.body
    assert body["model"] == MODEL
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]
    assert body["top_p"] == 0.9
    # As the SDK sends it, on every shape (max_completion_tokens only after a deployment refuses it).
    assert body["max_tokens"] == 64
    assert "max_completion_tokens" not in body
    assert body["stop"] == ["END"]
    assert (body["seed"], body["user"]) == (7, "user-42")
    # extra adds options llmport does not model; it may not override a modelled field (a ValidationError).
    assert (body["logprobs"], body["temperature"]) == (True, 0.2)
    assert "stream" not in body


def test_tools_are_sent_and_tool_calls_come_back(adapter: Any, server: LoopbackServer) -> None:
    server.script(
        Reply(
            body=chat_completion(
                None, tool_calls=[("call_1", "get_weather", '{"city":"Oslo"}')], finish_reason="tool_calls"
            )
        )
    )

    reply = adapter.complete(ask(tools=(WEATHER,), tool_choice="auto"))

    assert reply.tool_calls == (ToolCall("call_1", "get_weather", '{"city":"Oslo"}'),)
    assert reply.finish_reason == "tool_calls"
    assert reply.text == ""
    body = server.last.body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": dict(WEATHER.parameters),
                "strict": True,
            },
        }
    ]
    assert body["tool_choice"] == "auto"


def test_tool_choice_naming_a_tool_is_sent_as_a_function_choice(adapter: Any, server: LoopbackServer) -> None:
    adapter.complete(ask(tools=(WEATHER,), tool_choice="get_weather"))

    assert server.last.body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_tool_calls_and_results_go_back_in_the_conversation(adapter: Any, server: LoopbackServer) -> None:
    call = ToolCall("call_1", "get_weather", '{"city":"Oslo"}')

    adapter.complete(
        ask(
            Message.user("weather?"),
            Message.assistant(tool_calls=[call]),
            Message.tool("call_1", '{"temp": 3}'),
            tools=(WEATHER,),
        )
    )

    assert server.last.body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "content": '{"temp": 3}', "tool_call_id": "call_1"},
    ]


def test_image_parts_are_sent_as_image_urls_with_their_detail(adapter: Any, server: LoopbackServer) -> None:
    adapter.complete(
        ask(
            Message.user(
                [
                    TextPart("what is this?"),
                    ImagePart(url="https://example.test/cat.png", detail="low"),
                    ImagePart(data=b"\x89PNG", media_type="image/png"),
                ]
            )
        )
    )

    assert server.last.body["messages"][0]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.test/cat.png", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw==", "detail": "auto"}},
    ]


def test_json_schema_output_is_requested_with_name_schema_and_strict(
    adapter: Any, server: LoopbackServer
) -> None:
    schema = {
        "type": "object",
        "properties": {"year": {"type": "integer"}},
        "required": ["year"],
        "additionalProperties": False,
    }
    server.script(Reply(body=chat_completion('{"year": 1975}')))

    reply = adapter.complete(ask(response_format=ResponseFormat.json_schema("founding", schema)))

    assert reply.text == '{"year": 1975}'
    assert server.last.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "founding", "schema": schema, "strict": True},
    }


def test_json_mode_is_requested_as_json_object(adapter: Any, server: LoopbackServer) -> None:
    adapter.complete(ask(response_format=ResponseFormat.json()))

    assert server.last.body["response_format"] == {"type": "json_object"}


def test_azure_filter_results_are_kept_on_the_response(adapter: Any, case: AdapterCase) -> None:
    reply = adapter.complete(ask())

    if case.shape == "openai":
        assert reply.content_filter is None
    else:
        assert reply.content_filter is not None
        assert reply.content_filter["prompt_filter_results"][0]["content_filter_results"]["hate"] == {
            "filtered": False,
            "severity": "safe",
        }
        assert "violence" in reply.content_filter["content_filter_results"]


def test_a_reply_withheld_by_the_content_filter_raises_with_the_filter_results(
    adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    flagged = {"violence": {"filtered": True, "severity": "medium"}}
    server.script(
        Reply(
            body=chat_completion(None, finish_reason="content_filter", azure=True, completion_filters=flagged)
        )
    )

    with pytest.raises(ContentFilteredError) as caught:
        adapter.complete(ask())

    error = caught.value
    assert error.filter_results == flagged
    assert (error.provider, error.code, error.request_id) == (case.provider, "content_filter", "req-loopback")
    assert not error.retryable


def test_a_request_without_a_model_raises_configuration_error_before_sending(
    adapter: Any, server: LoopbackServer
) -> None:
    with pytest.raises(ConfigurationError, match="chat_model"):
        adapter.complete(ChatRequest((Message.user("hi"),)))

    assert server.requests == []


@pytest.mark.parametrize("api_version", ["2024-06-01", "2024-10-21"])
def test_azure_classic_sends_max_tokens_as_the_sdk_does_at_any_api_version(
    server: LoopbackServer, api_version: str
) -> None:
    from llmport.adapters.llm.azure import AzureClassicAdapter

    adapter = AzureClassicAdapter(endpoint=server.url, api_version=api_version, api_key=server.api_key)
    try:
        adapter.complete(ask(max_tokens=10))
    finally:
        adapter.close()

    body = server.last.body
    assert body["max_tokens"] == 10
    assert "max_completion_tokens" not in body
