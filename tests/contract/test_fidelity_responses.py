"""Fidelity: the Responses API through llmport loses nothing the raw SDK gives (issue 11).

State (the response id, previous_response_id, store, instructions), reasoning options, built-in
tools beside function tools, every output item typed, every stream event reachable, and the API
chosen per call; through the real SDK over real HTTP to the loopback, on every adapter case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from adapter_cases import MODEL
from loopback import LoopbackServer, Reply
from openai.types.responses import Response
from wire_samples import (
    MCP_CALL,
    URL_CITATION,
    chat_completion,
    response_events_full,
    response_full,
    response_refusal,
)

from llmport.domain.conversations import fold_stream
from llmport.domain.errors import ValidationError
from llmport.domain.models import (
    ChatRequest,
    CodeInterpreterTool,
    FileSearchTool,
    McpTool,
    Message,
    Reasoning,
    ToolSpec,
    WebSearchTool,
)
from llmport.domain.responses_items import (
    AnnotationEvent,
    FunctionCallItem,
    McpApprovalRequest,
    McpCall,
    McpCallError,
    McpListTools,
    OtherEvent,
    OtherItem,
    OutputItemEvent,
    OutputMessage,
    ReasoningItem,
    ResponseStatusEvent,
    UrlCitation,
)

DEEPWIKI = McpTool(
    "deepwiki",
    "https://mcp.deepwiki.com/mcp",
    require_approval="never",
    allowed_tools=("ask_question",),
)


@pytest.fixture
def adapter(make_adapter: Callable[..., Any]) -> Any:
    return make_adapter(api="responses")


def ask(*messages: Message, **options: Any) -> ChatRequest:
    return ChatRequest(messages or (Message.user("ping"),), model=MODEL, **options)


def test_the_response_id_comes_back_and_chains_with_previous_response_id(
    adapter: Any, server: LoopbackServer
) -> None:
    server.script(Reply(body=response_full()))

    first = adapter.complete(ask(store=True))
    adapter.complete(ask(previous_response_id=first.id))

    assert first.id == "resp_682d437b6f1881918d4e3d0a6da0b8e703937d5f622d7a90"
    assert (first.created, first.service_tier) == (1_747_796_859, "default")
    assert server.requests[0].body["store"] is True
    assert server.last.body["previous_response_id"] == first.id


def test_instructions_and_reasoning_are_typed_options(adapter: Any, server: LoopbackServer) -> None:
    adapter.complete(
        ask(
            Message.system("a system turn"),
            Message.developer("a developer turn"),
            Message.user("hi"),
            instructions="be brief",
            reasoning=Reasoning(effort="high", summary="auto"),
            parallel_tool_calls=False,
        )
    )

    body = server.last.body
    assert body["instructions"] == "be brief"
    assert body["input"][:2] == [
        {"role": "system", "content": "a system turn"},
        {"role": "developer", "content": "a developer turn"},
    ]
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["parallel_tool_calls"] is False


def test_built_in_tools_go_beside_function_tools(adapter: Any, server: LoopbackServer) -> None:
    weather = ToolSpec("get_weather", "weather", {"type": "object", "properties": {}})
    tools = (
        weather,
        DEEPWIKI,
        {
            "type": "mcp",
            "server_label": "stripe",
            "server_url": "https://mcp.stripe.com",
            "require_approval": {"never": {"tool_names": ["create_payment_link"]}},
            "headers": {"Authorization": "Bearer sk-test"},
        },
        WebSearchTool(search_context_size="low"),
        FileSearchTool(("vs_1",), max_num_results=5),
        CodeInterpreterTool(),
        {"type": "image_generation", "quality": "low"},
    )

    adapter.complete(ask(tools=tools, tool_choice="auto"))

    sent = server.last.body["tools"]
    assert [tool["type"] for tool in sent] == [
        "function",
        "mcp",
        "mcp",
        "web_search",
        "file_search",
        "code_interpreter",
        "image_generation",
    ]
    assert sent[1] == {
        "type": "mcp",
        "server_label": "deepwiki",
        "server_url": "https://mcp.deepwiki.com/mcp",
        "require_approval": "never",
        "allowed_tools": ["ask_question"],
    }
    assert sent[2]["require_approval"] == {"never": {"tool_names": ["create_payment_link"]}}
    assert sent[3] == {"type": "web_search", "search_context_size": "low"}
    assert sent[4] == {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 5}
    assert sent[5] == {"type": "code_interpreter", "container": {"type": "auto"}}


def test_extra_tools_cannot_silently_replace_the_tools() -> None:
    with pytest.raises(ValidationError, match="tools="):
        ask(tools=(DEEPWIKI,), extra={"tools": [{"type": "web_search"}]})


def test_built_in_tools_on_chat_completions_are_refused_before_sending(
    make_adapter: Callable[..., Any], server: LoopbackServer
) -> None:
    with pytest.raises(ValidationError, match="Responses API"):
        make_adapter(api="chat").complete(ask(tools=(DEEPWIKI,)))
    assert server.requests == []


def test_every_output_item_is_kept_typed_and_text_is_the_sdks_output_text(
    adapter: Any, server: LoopbackServer
) -> None:
    body = response_full()
    server.script(Reply(body=body))

    reply = adapter.complete(ask())

    assert reply.text == Response.model_validate(body).output_text
    reasoning, tools, call, failed, approval, search, function, message = reply.output
    assert isinstance(reasoning, ReasoningItem) and reasoning.summary[1].startswith("**Answering**")
    assert reply.reasoning_content is not None and "Looking up the spec" in reply.reasoning_content
    assert isinstance(tools, McpListTools) and [t.name for t in tools.tools] == [
        "read_wiki_structure",
        "ask_question",
    ]
    assert tools.tools[0].input_schema["required"] == ["repoName"]
    assert isinstance(call, McpCall) and (call.name, call.output, call.error) == (
        "ask_question",
        MCP_CALL["output"],
        None,
    )
    assert isinstance(failed, McpCall) and failed.output is None
    assert failed.error == McpCallError("mcp_protocol_error", "Invalid params: repository not found", -32602)
    assert isinstance(approval, McpApprovalRequest) and approval.server_label == "deepwiki"
    assert isinstance(search, OtherItem) and search.type == "web_search_call"
    assert search.data["action"]["query"] == "MCP transports"
    assert isinstance(function, FunctionCallItem) and function.call_id == "call_1"
    assert reply.tool_calls[0].id == "call_1" and reply.finish_reason == "tool_calls"
    assert isinstance(message, OutputMessage) and message.text == reply.text
    citation = message.content[0].annotations[0]  # type: ignore[union-attr]
    assert citation == UrlCitation(URL_CITATION["url"], URL_CITATION["title"], 4, 30)
    assert reply.raw is body or reply.raw == body


def test_a_refusal_is_kept_apart_from_the_text(adapter: Any, server: LoopbackServer) -> None:
    server.script(Reply(body=response_refusal()))

    reply = adapter.complete(ask())

    assert (reply.text, reply.refusal) == ("", "I can't help with that.")
    assert reply.text == Response.model_validate(response_refusal()).output_text


def test_every_stream_event_is_reachable_and_the_fold_matches_complete(
    adapter: Any, server: LoopbackServer
) -> None:
    events = response_events_full()
    server.script(Reply(events=events, done=False))

    chunks = list(adapter.stream(ask()))

    # Each event is a chunk's raw JSON (the deltas) or a typed event riding on a chunk.
    seen = [c.raw["type"] for c in chunks if c.raw is not None and "delta" in c.raw["type"]]
    seen += [e.type for c in chunks for e in c.events]
    assert sorted(seen) == sorted(e["type"] for e in events)
    typed = [e for c in chunks for e in c.events]
    assert isinstance(typed[0], ResponseStatusEvent) and typed[0].response_id.startswith("resp_")
    done_items = [e.item for e in typed if isinstance(e, OutputItemEvent) and e.type.endswith("done")]
    assert [type(item).__name__ for item in done_items] == [
        "ReasoningItem",
        "McpListTools",
        "McpCall",
        "OutputMessage",
    ]
    assert any(isinstance(e, AnnotationEvent) and e.annotation.url == URL_CITATION["url"] for e in typed)  # type: ignore[union-attr]
    assert any(isinstance(e, OtherEvent) and e.type == "response.mcp_call.in_progress" for e in typed)
    assert [c.reasoning for c in chunks if c.reasoning] == ["Looking up", " the spec."]

    folded = fold_stream(chunks)
    assert folded.text == "MCP has two transports: stdio and Streamable HTTP."
    assert folded.id == "resp_682d437b6f1881918d4e3d0a6da0b8e703937d5f622d7a90"
    assert [type(item).__name__ for item in folded.output] == [type(item).__name__ for item in done_items]
    assert folded.reasoning_content == "Looking up the spec."
    assert folded.finish_reason == "stop" and folded.usage.total_tokens == 17


def test_the_api_is_chosen_per_call_on_one_adapter(
    make_adapter: Callable[..., Any], server: LoopbackServer
) -> None:
    chat_first = make_adapter(api="chat")
    server.script(Reply(body=response_full()), Reply(body=chat_completion("from chat")))

    via_responses = chat_first.complete(ask(api="responses"))
    via_chat = chat_first.complete(ask(api="chat"))
    streamed = fold_stream(chat_first.stream(ask(api="responses")))

    assert [r.op for r in server.requests] == ["responses", "chat/completions", "responses"]
    assert via_responses.id is not None and via_responses.id.startswith("resp_")
    assert via_chat.text == "from chat"
    assert streamed.text == "pong"


@pytest.mark.parametrize("option", [{"n": 2}, {"stop": ("x",)}])
def test_chat_only_options_are_refused_on_responses(
    adapter: Any, server: LoopbackServer, option: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError, match="Responses API"):
        adapter.complete(ask(**option))
    assert server.requests == []
