"""Responses API output items, annotations and stream events, from their JSON into domain values."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ....domain.responses_items import (
    Annotation,
    AnnotationEvent,
    FileCitation,
    FunctionCallItem,
    McpApprovalRequest,
    McpCall,
    McpCallError,
    McpListTools,
    McpToolInfo,
    OtherAnnotation,
    OtherEvent,
    OtherItem,
    OutputItem,
    OutputItemEvent,
    OutputMessage,
    OutputRefusal,
    OutputText,
    ReasoningItem,
    ResponseStatusEvent,
    StreamEvent,
    UrlCitation,
)

__all__ = ["annotation_of", "item_of", "items_of", "stream_event"]

_STATUS_EVENTS = frozenset(
    f"response.{status}"
    for status in ("created", "queued", "in_progress", "completed", "incomplete", "failed")
)


def annotation_of(data: Mapping[str, Any]) -> Annotation:
    """A citation on output text: url_citation and file_citation typed, the rest as JSON."""
    kind = data.get("type")
    if kind == "url_citation":
        return UrlCitation(
            data.get("url") or "",
            data.get("title") or "",
            data.get("start_index") or 0,
            data.get("end_index") or 0,
        )
    if kind == "file_citation":
        return FileCitation(data.get("file_id") or "", data.get("filename") or "", data.get("index") or 0)
    return OtherAnnotation(str(kind), data)


def item_of(data: Mapping[str, Any]) -> OutputItem:
    """One output item: messages, function calls, MCP items and reasoning typed, the rest as JSON."""
    kind = str(data.get("type"))
    read = _ITEMS.get(kind)
    return read(data) if read is not None else OtherItem(kind, data.get("id"), data)


def _message(data: Mapping[str, Any]) -> OutputItem:
    return OutputMessage(
        data.get("id") or "", tuple(map(_part, data.get("content") or ())), data.get("status")
    )


def _function_call(data: Mapping[str, Any]) -> OutputItem:
    return FunctionCallItem(
        data.get("id") or "", data["call_id"], data["name"], data.get("arguments") or "{}", data.get("status")
    )


def _mcp_call(data: Mapping[str, Any]) -> OutputItem:
    return McpCall(
        data.get("id") or "",
        data.get("server_label") or "",
        data.get("name") or "",
        data.get("arguments") or "{}",
        _text(data.get("output")),
        _mcp_error(data.get("error")),
        data.get("approval_request_id"),
        data.get("status"),
    )


def _mcp_list_tools(data: Mapping[str, Any]) -> OutputItem:
    tools = tuple(
        McpToolInfo(tool.get("name") or "", tool.get("description"), tool.get("input_schema") or {})
        for tool in data.get("tools") or ()
    )
    return McpListTools(data.get("id") or "", data.get("server_label") or "", tools, _text(data.get("error")))


def _mcp_approval_request(data: Mapping[str, Any]) -> OutputItem:
    return McpApprovalRequest(
        data.get("id") or "",
        data.get("server_label") or "",
        data.get("name") or "",
        data.get("arguments") or "{}",
    )


def _reasoning(data: Mapping[str, Any]) -> OutputItem:
    summary = tuple(part.get("text") or "" for part in data.get("summary") or ())
    return ReasoningItem(data.get("id") or "", summary, data.get("encrypted_content"))


_ITEMS: dict[str, Callable[[Mapping[str, Any]], OutputItem]] = {
    "message": _message,
    "function_call": _function_call,
    "mcp_call": _mcp_call,
    "mcp_list_tools": _mcp_list_tools,
    "mcp_approval_request": _mcp_approval_request,
    "reasoning": _reasoning,
}


def items_of(output: Sequence[Mapping[str, Any]]) -> tuple[OutputItem, ...]:
    """Every output item of a response, in order."""
    return tuple(map(item_of, output))


def stream_event(data: Mapping[str, Any]) -> StreamEvent:
    """A stream event that made no text: status, item and annotation events typed, others as JSON."""
    kind = str(data.get("type"))
    if kind in _STATUS_EVENTS:
        response = data.get("response") or {}
        return ResponseStatusEvent(kind, response.get("id") or "", response.get("status"))
    if kind in ("response.output_item.added", "response.output_item.done"):
        return OutputItemEvent(kind, data.get("output_index") or 0, item_of(data["item"]))
    if kind == "response.output_text.annotation.added":
        return AnnotationEvent(kind, data.get("output_index") or 0, annotation_of(data["annotation"]))
    return OtherEvent(kind, data)


def _part(part: Mapping[str, Any]) -> OutputText | OutputRefusal:
    if part.get("type") == "refusal":
        return OutputRefusal(part.get("refusal") or "")
    annotations = tuple(map(annotation_of, part.get("annotations") or ()))
    return OutputText(part.get("text") or "", annotations)


def _mcp_error(error: Any) -> McpCallError | None:
    if error is None:
        return None
    if not isinstance(error, Mapping):
        return McpCallError("error", str(error))
    message, code = error.get("message"), error.get("code")
    return McpCallError(
        str(error.get("type") or "error"),
        None if message is None else str(message),
        code if isinstance(code, int) else None,
        error.get("content"),
    )


def _text(value: Any) -> str | None:
    # MCP errors come as a string or as an object ({"type", "code", "message"}), outputs as text.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("message"), str):
        return str(value["message"])
    return json.dumps(value)
