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
