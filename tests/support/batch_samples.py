"""What the real Batch APIs check in an input file, and the result bodies they write, for batch_server.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AZURE_LIMITS",
    "OPENAI_LIMITS",
    "STEPS",
    "TERMINAL",
    "Batch",
    "ItemError",
    "error",
    "jsonl",
    "key",
    "parse_lines",
    "problems",
    "reply",
    "tokens",
]

MB = 1024 * 1024
OPENAI_LIMITS = (50_000, 200 * MB)
AZURE_LIMITS = (100_000, 200 * MB)
TERMINAL = ("completed", "failed", "expired", "cancelled")
STEPS = {"validating": "in_progress", "in_progress": "finalizing", "finalizing": "completed"}

#: Decides a line's failure: (HTTP status, error body) for that request, or None for a reply.
ItemError = Callable[[str, Mapping[str, Any]], "tuple[int, dict[str, Any]] | None"]


@dataclass
class Batch:
    """A batch as the server holds it, and its wire shape."""

    id: str
    endpoint: str
    input_file_id: str
    metadata: dict[str, str]
    created_at: int
    shape: str
    status: str = "validating"
    lines: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    done: int = 0  # lines processed (for expire/cancel: the first ``done`` finish)
    failed: int = 0
    tokens: int = 0

    def wire(self) -> dict[str, Any]:
        total = len(self.lines)
        completed = self.done - self.failed if self.status in ("finalizing", *TERMINAL) else 0
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "metadata": self.metadata or None,
            "request_counts": {"total": total, "completed": completed, "failed": self.failed},
        }


def error(code: str, message: str, line: int | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "line": line, "param": None}


def parse_lines(data: bytes) -> list[dict[str, Any]]:
    out = []
    for text in data.splitlines():
        if text.strip():
            try:
                out.append(json.loads(text))
            except ValueError:
                out.append({})
    return out


def problems(
    data: bytes, lines: list[dict[str, Any]], endpoint: str, limits: tuple[int, int]
) -> list[dict[str, Any]]:
    """What the real APIs find wrong in a batch's input file, one error per line at fault."""
    max_requests, max_bytes = limits
    if len(data) > max_bytes:
        return [error("file_too_large", f"The input file is {len(data)} bytes; the limit is {max_bytes}.")]
    if len(lines) > max_requests:
        return [
            error(
                "too_many_requests",
                f"The input file has {len(lines)} requests; the limit is {max_requests}.",
            )
        ]
    if not lines:
        return [error("empty_file", "The input file has no requests.")]
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[str] = set()
    for number, line in enumerate(lines, start=1):
        body = line.get("body")
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            problems.append(error("missing_required_parameter", "custom_id is required", number))
        elif custom_id in seen:
            problems.append(
                error("duplicate_custom_id", f"The custom_id {custom_id!r} is used more than once.", number)
            )
        seen.add(str(custom_id))
        if line.get("method") != "POST":
            problems.append(error("invalid_value", "method must be POST", number))
        if line.get("url") != endpoint:
            problems.append(
                error(
                    "mismatched_url",
                    f"The url {line.get('url')!r} differs from the batch's endpoint {endpoint!r}.",
                    number,
                )
            )
        if not isinstance(body, dict) or not body.get("model"):
            problems.append(error("missing_required_parameter", "body.model is required", number))
        else:
            models.add(body["model"])
    if len(models) > 1:
        problems.append(
            error("mismatched_model", f"A batch's requests must all use one model; found {sorted(models)}.")
        )
    return problems


def tokens(line: Mapping[str, Any]) -> int:
    """A rough count of a line's tokens (4 characters each), as the enqueued limit counts them."""
    body = line.get("body") or {}
    return max(1, len(json.dumps(body.get("messages") or body.get("input") or "")) // 4)


def key(line: Mapping[str, Any]) -> str:
    body = dict(line.get("body") or {})
    return f"{line.get('custom_id')}|{json.dumps(body, sort_keys=True)}"


def reply(
    endpoint: str, body: Mapping[str, Any], number: int, text: Callable[[int], str] | None
) -> dict[str, Any]:
    if endpoint.endswith("/embeddings"):
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), float(number)]}
            for i, t in enumerate(texts)
        ]
        tokens = sum(max(1, len(t) // 4) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    if endpoint.endswith("/responses"):
        said = body["input"][-1]["content"] if isinstance(body.get("input"), list) else body.get("input")
        return {
            "id": f"resp_{number}",
            "object": "response",
            "status": "completed",
            "model": "gpt-4o-mini-2024-07-18",
            "output": [
                {
                    "type": "message",
                    "id": f"msg_{number}",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": f"echo: {said}", "annotations": []}],
                }
            ],
            "usage": {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8},
        }
    last = body["messages"][-1]["content"] if body.get("messages") else ""
    prompt = max(1, len(json.dumps(body.get("messages"))) // 4)
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text(number) if text else f"echo: {last}"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": 3, "total_tokens": prompt + 3},
    }


def jsonl(row: Mapping[str, Any]) -> bytes:
    return json.dumps(row).encode() + b"\n"
