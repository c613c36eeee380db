"""Bodies and SSE events shaped like what OpenAI and Azure OpenAI really send, for the loopback."""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopback import RecordedRequest, Reply

SAFE = {"filtered": False, "severity": "safe"}
AZURE_PROMPT_FILTERS = [
    {
        "prompt_index": 0,
        "content_filter_results": {
            "hate": SAFE,
            "jailbreak": {"filtered": False, "detected": False},
            "self_harm": SAFE,
            "sexual": SAFE,
            "violence": SAFE,
        },
    }
]
AZURE_COMPLETION_FILTERS = {"hate": SAFE, "self_harm": SAFE, "sexual": SAFE, "violence": SAFE}
USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 5,
    "total_tokens": 17,
    "prompt_tokens_details": {"cached_tokens": 4},
    "completion_tokens_details": {"reasoning_tokens": 2},
}


def openai_error(
    message: str, *, code: str | None, type: str = "invalid_request_error", param: str | None = None
) -> dict[str, Any]:
    """OpenAI's error body."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def azure_error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """Azure OpenAI's error body."""
    return {"error": {"code": code, "message": message, **extra}}


def azure_content_filter_error(category: str = "violence") -> dict[str, Any]:
    """The 400 Azure sends when the prompt trips the content filter."""
    results = {name: dict(SAFE) for name in ("hate", "self_harm", "sexual", "violence")}
    results[category] = {"filtered": True, "severity": "high"}
    results["jailbreak"] = {"filtered": False, "detected": False}
    return {
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
            "management policy. Please modify your prompt and retry.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": results},
        }
    }


def chat_completion(
    content: str | None = "pong",
    *,
    model: str = "gpt-4o-mini",
    tool_calls: Sequence[tuple[str, str, str]] = (),
    finish_reason: str = "stop",
    azure: bool = False,
    completion_filters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A chat.completion body; ``azure`` adds the filter results Azure sends."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in tool_calls
        ]
    choice: dict[str, Any] = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": finish_reason,
    }
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [choice],
        "usage": USAGE,
        "system_fingerprint": "fp_1",
    }
    if azure:
        choice["content_filter_results"] = completion_filters or AZURE_COMPLETION_FILTERS
        body["prompt_filter_results"] = AZURE_PROMPT_FILTERS
    return body


def chat_chunks(
    pieces: Sequence[str] = ("po", "ng"),
    *,
    model: str = "gpt-4o-mini",
    tool_calls: Sequence[tuple[str, str, Sequence[str]]] = (),
    finish_reason: str | None = None,
    azure: bool = False,
    usage: bool = True,
) -> list[dict[str, Any]]:
    """chat.completion.chunk events: a role delta, text pieces, tool-call fragments, finish, usage.

    ``azure`` adds Azure's opening chunk (no choices, prompt_filter_results) and per-choice
    content_filter_results.
    """

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        if azure and (delta.get("content") or finish):
            choice["content_filter_results"] = AZURE_COMPLETION_FILTERS if delta.get("content") else {}
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "choices": [choice],
            **extra,
        }

    events: list[dict[str, Any]] = []
    if azure:
        events.append(
            {
                "id": "",
                "object": "",
                "created": 0,
                "model": "",
                "choices": [],
                "prompt_filter_results": AZURE_PROMPT_FILTERS,
            }
        )
    events.append(chunk({"role": "assistant", "content": "", "refusal": None}))
    events.extend(chunk({"content": piece}) for piece in pieces)
    for index, (call_id, name, fragments) in enumerate(tool_calls):
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        events.extend(
            chunk({"tool_calls": [{"index": index, "function": {"arguments": f}}]}) for f in fragments
        )
    events.append(chunk({}, finish_reason or ("tool_calls" if tool_calls else "stop")))
    if usage:
        events.append(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": model,
                "choices": [],
                "usage": USAGE,
            }
        )
    return events


def embedding_list(
    vectors: Sequence[Sequence[float]], *, as_base64: bool = True, reverse: bool = True
) -> dict[str, Any]:
    """An embeddings body; ``reverse`` sends the items out of order, as the API may."""
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if as_base64 else list(v),
        }
        for i, v in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data[::-1] if reverse else data,
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 3 * len(vectors), "total_tokens": 3 * len(vectors)},
    }


def vector_for(index: int, dimensions: int) -> list[float]:
    """The default reply's vector for input ``index``: exactly representable in float32."""
    return [index + (d + 1) / 4 for d in range(dimensions)]


def response_object(
    text: str = "pong",
    *,
    tool_calls: Sequence[tuple[str, str, str]] = (),
    status: str = "completed",
    incomplete_reason: str | None = None,
    model: str = "gpt-4o-mini",
) -> dict[str, Any]:
    """A Responses API ``response`` object."""
    output: list[dict[str, Any]] = []
    if text:
        output.append(
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    output.extend(
        {
            "type": "function_call",
            "id": f"fc_{i}",
            "call_id": c,
            "name": n,
            "arguments": a,
            "status": "completed",
        }
        for i, (c, n, a) in enumerate(tool_calls)
    )
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_700_000_000,
        "model": model,
        "status": status,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "output": output,
        "usage": {
            "input_tokens": 12,
            "input_tokens_details": {"cached_tokens": 4},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 2},
            "total_tokens": 17,
        },
    }


def response_events(
    pieces: Sequence[str] = ("po", "ng"),
    *,
    tool_calls: Sequence[tuple[str, str, Sequence[str]]] = (),
    model: str = "gpt-4o-mini",
) -> list[dict[str, Any]]:
    """Responses API stream events, created to completed."""
    final = response_object(
        "".join(pieces), tool_calls=[(c, n, "".join(f)) for c, n, f in tool_calls], model=model
    )
    created = {**final, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [{"type": "response.created", "sequence_number": 0, "response": created}]
    events.extend(
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": p,
        }
        for p in pieces
    )
    base = 1 if pieces else 0
    for i, (call_id, name, fragments) in enumerate(tool_calls):
        events.append(
            {
                "type": "response.output_item.added",
                "output_index": base + i,
                "item": {
                    "type": "function_call",
                    "id": f"fc_{i}",
                    "call_id": call_id,
                    "name": name,
                    "arguments": "",
                    "status": "in_progress",
                },
            }
        )
        events.extend(
            {
                "type": "response.function_call_arguments.delta",
                "item_id": f"fc_{i}",
                "output_index": base + i,
                "delta": f,
            }
            for f in fragments
        )
    events.append({"type": "response.completed", "response": final})
    return events


def default_reply(req: RecordedRequest) -> Reply:
    """What the loopback answers when nothing is scripted: a valid reply for ``req.op``."""
    from loopback import Reply

    body = req.body if isinstance(req.body, dict) else {}
    azure = req.shape != "openai"
    model = str(body.get("model") or req.deployment or "")
    if req.op == "chat/completions":
        if body.get("stream"):
            return Reply(events=chat_chunks(model=model, azure=azure))
        return Reply(body=chat_completion(model=model, azure=azure))
    if req.op == "responses":
        if body.get("stream"):
            return Reply(events=response_events(model=model), done=False)
        return Reply(body=response_object(model=model))
    if req.op == "embeddings":
        inputs = body.get("input") or []
        dimensions = int(body.get("dimensions") or 3)
        vectors = [vector_for(i, dimensions) for i in range(len(inputs))]
        return Reply(body=embedding_list(vectors, as_base64=body.get("encoding_format") == "base64"))
    return Reply(404, openai_error(f"Invalid URL (POST {req.path})", code=None))


# -- Full-fidelity samples: every field and item llmport must keep (issue 11) ---------------------

#: Token logprobs as chat.completions sends them (``logprobs=True, top_logprobs=2``).
CHAT_LOGPROBS = {
    "content": [
        {
            "token": "Hello",
            "logprob": -0.31725305,
            "bytes": [72, 101, 108, 108, 111],
            "top_logprobs": [
                {"token": "Hello", "logprob": -0.31725305, "bytes": [72, 101, 108, 108, 111]},
                {"token": "Hi", "logprob": -1.3190403, "bytes": [72, 105]},
            ],
        },
        {
            "token": "!",
            "logprob": -0.02380986,
            "bytes": [33],
            "top_logprobs": [
                {"token": "!", "logprob": -0.02380986, "bytes": [33]},
                {"token": " there", "logprob": -3.787621, "bytes": [32, 116, 104, 101, 114, 101]},
            ],
        },
    ],
    "refusal": None,
}


def chat_completion_full(*, azure: bool = False) -> dict[str, Any]:
    """A chat.completion with two choices (``n=2``), logprobs, a service tier and a fingerprint."""
    body = chat_completion("Hello!", azure=azure)
    body.update(id="chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG", created=1_741_570_283)
    body.update(system_fingerprint="fp_44709d6fcb", service_tier="default")
    body["choices"][0]["logprobs"] = CHAT_LOGPROBS
    second = {
        "index": 1,
        "message": {"role": "assistant", "content": "Hi there!", "refusal": None, "annotations": []},
        "logprobs": None,
        "finish_reason": "length",
    }
    body["choices"].append(second)
    return body


def chat_refusal(*, azure: bool = False) -> dict[str, Any]:
    """A structured-output refusal: content null, the reason in ``refusal``, finish_reason stop."""
    body = chat_completion(None, azure=azure)
    body["choices"][0]["message"]["refusal"] = "I'm sorry, I cannot assist with that request."
    return body


def chat_reasoning(*, azure: bool = False) -> dict[str, Any]:
    """A DeepSeek-R1-style reply (Azure's v1 API, Azure AI Foundry): ``reasoning_content`` beside content."""
    body = chat_completion("The answer is 4.", model="DeepSeek-R1", azure=azure)
    body["choices"][0]["message"]["reasoning_content"] = "The user asks 2+2. Adding gives 4."
    return body


def chat_chunks_full() -> list[dict[str, Any]]:
    """Chunks with reasoning_content, a refusal delta, logprobs, ids and a fingerprint on each."""
    base = {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion.chunk",
        "created": 1_741_570_283,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_44709d6fcb",
        "service_tier": "default",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return {**base, "choices": [choice]}

    return [
        chunk({"role": "assistant", "content": "", "refusal": None}),
        chunk({"reasoning_content": "Thinking"}),
        chunk({"reasoning_content": " hard."}),
        chunk({"content": "Hello"}, logprobs={"content": CHAT_LOGPROBS["content"][:1]}),
        chunk({"content": "!"}, logprobs={"content": CHAT_LOGPROBS["content"][1:]}),
        chunk({"refusal": "But no more."}),
        chunk({}, "stop"),
        {**base, "choices": [], "usage": USAGE},
    ]


def simulator_chunks() -> list[dict[str, Any]]:
    """What Microsoft's Azure OpenAI API simulator streams: ``finish_reason`` inside ``delta``."""
    base = {"id": "chatcmpl-sim", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    return [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "po"}}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "ng"}}]},
        {**base, "choices": [{"index": 0, "delta": {"finish_reason": "stop"}}]},
    ]


DEEPWIKI_SCHEMA = {
    "type": "object",
    "properties": {"repoName": {"type": "string", "description": "GitHub repository: owner/repo"}},
    "required": ["repoName"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}
MCP_LIST_TOOLS = {
    "id": "mcpl_682d4379df088191886b70f4ec39f90403937d5f622d7a90",
    "type": "mcp_list_tools",
    "server_label": "deepwiki",
    "tools": [
        {
            "name": "read_wiki_structure",
            "input_schema": DEEPWIKI_SCHEMA,
            "description": "Get a list of documentation topics for a GitHub repository",
            "annotations": None,
        },
        {"name": "ask_question", "input_schema": DEEPWIKI_SCHEMA, "description": None, "annotations": None},
    ],
}
MCP_CALL = {
    "id": "mcp_682d437d90a88191bf88cd03aae0c3e503937d5f622d7a90",
    "type": "mcp_call",
    "approval_request_id": None,
    "arguments": '{"repoName":"modelcontextprotocol/modelcontextprotocol"}',
    "error": None,
    "name": "ask_question",
    "output": "The 2025-03-26 version of the MCP spec supports stdio and Streamable HTTP.",
    "server_label": "deepwiki",
}
MCP_CALL_FAILED = {
    **MCP_CALL,
    "id": "mcp_682d437d90a88191bf88cd03aae0c3e503937d5f622d7a91",
    "output": None,
    "error": {
        "type": "mcp_protocol_error",
        "code": -32602,
        "message": "Invalid params: repository not found",
    },
}
MCP_APPROVAL = {
    "id": "mcpr_682d498e3bd4819196a0ce1664f8e77b04ad1e533afccbfa",
    "type": "mcp_approval_request",
    "arguments": '{"repoName":"modelcontextprotocol/modelcontextprotocol"}',
    "name": "ask_question",
    "server_label": "deepwiki",
}
REASONING_ITEM = {
    "id": "rs_6820f383d7c08191846711c5df8233bc0ac5ba57aafcbac7",
    "type": "reasoning",
    "summary": [
        {"type": "summary_text", "text": "**Looking up the spec**\n\nThe user asks about transports."},
        {"type": "summary_text", "text": "**Answering**\n\nTwo transports."},
    ],
    "status": None,
}
WEB_SEARCH_CALL = {
    "type": "web_search_call",
    "id": "ws_67c9fa0502748190b7dd390736892e100be649c1a5ff9609",
    "status": "completed",
    "action": {"type": "search", "query": "MCP transports"},
}
URL_CITATION = {
    "type": "url_citation",
    "start_index": 4,
    "end_index": 30,
    "url": "https://modelcontextprotocol.io/specification/2025-03-26/basic/transports",
    "title": "Transports - Model Context Protocol",
}
CITED_MESSAGE = {
    "type": "message",
    "id": "msg_67c9fa077e288190af5a3a4e4f2bbf5e0be649c1a5ff9609",
    "status": "completed",
    "role": "assistant",
    "content": [
        {"type": "output_text", "text": "MCP has two transports: stdio and ", "annotations": [URL_CITATION]},
        {"type": "output_text", "text": "Streamable HTTP.", "annotations": []},
    ],
}


def response_full(**changes: Any) -> dict[str, Any]:
    """A Responses API reply with every kind of output item the MCP and reasoning examples show."""
    body = response_object("")
    body.update(
        id="resp_682d437b6f1881918d4e3d0a6da0b8e703937d5f622d7a90",
        created_at=1_747_796_859,
        service_tier="default",
        previous_response_id="resp_prev",
        store=True,
        parallel_tool_calls=True,
        tool_choice="auto",
        tools=[{"type": "mcp", "server_label": "deepwiki", "server_url": "https://mcp.deepwiki.com/mcp"}],
        output=[
            REASONING_ITEM,
            MCP_LIST_TOOLS,
            MCP_CALL,
            MCP_CALL_FAILED,
            MCP_APPROVAL,
            WEB_SEARCH_CALL,
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city":"Rome"}',
                "status": "completed",
            },
            CITED_MESSAGE,
        ],
    )
    body["usage"] = {
        **body["usage"],
        "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
    }
    body.update(changes)
    return body


def response_refusal() -> dict[str, Any]:
    """A Responses API refusal: a message whose content is a refusal part."""
    refusal = {"type": "refusal", "refusal": "I can't help with that."}
    message = {
        "type": "message",
        "id": "msg_r",
        "status": "completed",
        "role": "assistant",
        "content": [refusal],
    }
    return response_full(output=[message])


def response_events_full() -> list[dict[str, Any]]:
    """A Responses stream with reasoning summary, MCP list/call, a citation and text: 23 events."""
    final = response_full(output=[REASONING_ITEM, MCP_LIST_TOOLS, MCP_CALL, CITED_MESSAGE])
    created = {**final, "status": "in_progress", "output": [], "usage": None}
    rid, mid, mcp = REASONING_ITEM["id"], CITED_MESSAGE["id"], MCP_CALL["id"]
    in_progress_call = {**MCP_CALL, "output": None, "arguments": ""}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": created},
        {"type": "response.in_progress", "response": created},
        {"type": "response.output_item.added", "output_index": 0, "item": {**REASONING_ITEM, "summary": []}},
        {
            "type": "response.reasoning_summary_part.added",
            "item_id": rid,
            "output_index": 0,
            "summary_index": 0,
            "part": {"type": "summary_text", "text": ""},
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": rid,
            "output_index": 0,
            "summary_index": 0,
            "delta": "Looking up",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": rid,
            "output_index": 0,
            "summary_index": 0,
            "delta": " the spec.",
        },
        {
            "type": "response.reasoning_summary_text.done",
            "item_id": rid,
            "output_index": 0,
            "summary_index": 0,
            "text": "Looking up the spec.",
        },
        {"type": "response.output_item.done", "output_index": 0, "item": REASONING_ITEM},
        {"type": "response.mcp_list_tools.in_progress", "item_id": MCP_LIST_TOOLS["id"], "output_index": 1},
        {"type": "response.mcp_list_tools.completed", "item_id": MCP_LIST_TOOLS["id"], "output_index": 1},
        {"type": "response.output_item.done", "output_index": 1, "item": MCP_LIST_TOOLS},
        {"type": "response.output_item.added", "output_index": 2, "item": in_progress_call},
        {"type": "response.mcp_call.in_progress", "item_id": mcp, "output_index": 2},
        {
            "type": "response.mcp_call_arguments.delta",
            "item_id": mcp,
            "output_index": 2,
            "delta": MCP_CALL["arguments"],
        },
        {
            "type": "response.mcp_call_arguments.done",
            "item_id": mcp,
            "output_index": 2,
            "arguments": MCP_CALL["arguments"],
        },
        {"type": "response.mcp_call.completed", "item_id": mcp, "output_index": 2},
        {"type": "response.output_item.done", "output_index": 2, "item": MCP_CALL},
        {
            "type": "response.output_text.delta",
            "item_id": mid,
            "output_index": 3,
            "content_index": 0,
            "delta": "MCP has two transports: stdio and ",
            "logprobs": [],
        },
        {
            "type": "response.output_text.annotation.added",
            "item_id": mid,
            "output_index": 3,
            "content_index": 0,
            "annotation_index": 0,
            "annotation": URL_CITATION,
        },
        {
            "type": "response.output_text.delta",
            "item_id": mid,
            "output_index": 3,
            "content_index": 1,
            "delta": "Streamable HTTP.",
            "logprobs": [],
        },
        {
            "type": "response.output_text.done",
            "item_id": mid,
            "output_index": 3,
            "content_index": 1,
            "text": "Streamable HTTP.",
            "logprobs": [],
        },
        {"type": "response.output_item.done", "output_index": 3, "item": CITED_MESSAGE},
        {"type": "response.completed", "response": final},
    ]
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events
