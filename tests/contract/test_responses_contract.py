"""Contract: api="responses" maps the same domain onto the Responses API, on every adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from adapter_cases import MODEL, AdapterCase
from loopback import LoopbackServer, Reply
from wire_samples import response_events, response_object

from llmport.domain.conversations import fold_stream
from llmport.domain.errors import ContentFilteredError, StreamInterruptedError, ValidationError
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

TOOL = ToolSpec("get_weather", "weather", {"type": "object", "properties": {}})


@pytest.fixture
def adapter(make_adapter: Callable[..., Any]) -> Any:
    return make_adapter(api="responses")


def ask(*messages: Message, **options: Any) -> ChatRequest:
    return ChatRequest(messages or (Message.user("ping"),), model=MODEL, **options)


def test_complete_posts_to_responses_and_reads_text_and_usage(
    adapter: Any, server: LoopbackServer, case: AdapterCase
) -> None:
    reply = adapter.complete(ask())

    assert (reply.text, reply.finish_reason, reply.model) == ("pong", "stop", MODEL)
    assert reply.usage == Usage(12, 5, 17, cached_tokens=4, reasoning_tokens=2)
    sent = server.last
    assert (sent.shape, sent.op) == (case.shape, "responses")
    assert ("api-version" in sent.query) == (case.shape == "azure")


def test_conversation_becomes_instructions_and_input_items(adapter: Any, server: LoopbackServer) -> None:
    call = ToolCall("call_1", "get_weather", "{}")

    adapter.complete(
        ask(
            Message.system("be brief"),
            Message.user([TextPart("see"), ImagePart(url="https://example.test/a.png", detail="high")]),
            Message.assistant(tool_calls=[call]),
            Message.tool("call_1", "sunny"),
            max_tokens=50,
            temperature=0.5,
        )
    )

    body = server.last.body
    assert body["instructions"] == "be brief"
    assert body["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "see"},
                {"type": "input_image", "image_url": "https://example.test/a.png", "detail": "high"},
            ],
        },
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
    ]
    assert (body["max_output_tokens"], body["temperature"]) == (50, 0.5)


def test_tools_json_schema_and_tool_calls_use_the_responses_shapes(
    adapter: Any, server: LoopbackServer
) -> None:
    server.script(Reply(body=response_object("", tool_calls=[("call_9", "get_weather", '{"city":"Rome"}')])))
    schema = {"type": "object", "properties": {}}

    reply = adapter.complete(
        ask(
            tools=(TOOL,),
            tool_choice="get_weather",
            response_format=ResponseFormat.json_schema("out", schema),
        )
    )

    assert reply.tool_calls == (ToolCall("call_9", "get_weather", '{"city":"Rome"}'),)
    assert reply.finish_reason == "tool_calls"
    body = server.last.body
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "weather",
            "parameters": schema,
            "strict": False,
        }
    ]
    assert body["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}
    }


def test_stream_folds_text_tool_calls_and_usage(adapter: Any, server: LoopbackServer) -> None:
    server.script(
        Reply(
            events=response_events(("he", "llo"), tool_calls=[("c1", "get_weather", ['{"a"', ":1}"])]),
            done=False,
        )
    )

    chunks = list(adapter.stream(ask(tools=(TOOL,))))

    folded = fold_stream(chunks)
    assert folded.text == "hello"
    assert folded.tool_calls == (ToolCall("c1", "get_weather", '{"a":1}'),)
    assert folded.usage.total_tokens == 17 and chunks[-1].usage is not None
    assert folded.model == MODEL
    assert server.last.body["stream"] is True


def test_a_stream_cut_before_response_completed_raises_stream_interrupted(
    adapter: Any, server: LoopbackServer
) -> None:
    server.script(Reply(events=response_events(("a", "b", "c"))[:-1], done=False))

    with pytest.raises(StreamInterruptedError):
        list(adapter.stream(ask()))


def test_a_failed_event_raises_stream_interrupted_with_its_code(adapter: Any, server: LoopbackServer) -> None:
    failed = {
        "type": "response.failed",
        "response": {
            **response_object(),
            "status": "failed",
            "error": {"code": "server_error", "message": "boom"},
        },
    }
    server.script(Reply(events=[response_events()[0], failed], done=False))

    with pytest.raises(StreamInterruptedError) as caught:
        list(adapter.stream(ask()))

    assert caught.value.code == "server_error"


def test_an_incomplete_reply_maps_to_length_or_content_filter(adapter: Any, server: LoopbackServer) -> None:
    server.script(
        Reply(body=response_object("cut", status="incomplete", incomplete_reason="max_output_tokens")),
        Reply(body=response_object("", status="incomplete", incomplete_reason="content_filter")),
    )

    assert adapter.complete(ask()).finish_reason == "length"
    with pytest.raises(ContentFilteredError):
        adapter.complete(ask())


@pytest.mark.parametrize("option", [{"stop": ("x",)}, {"seed": 1}])
def test_options_the_responses_api_lacks_are_refused_before_sending(
    adapter: Any, server: LoopbackServer, option: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError, match="Responses API"):
        adapter.complete(ask(**option))

    assert server.requests == []
