"""What a Responses API reply holds beside its text: output items, annotations and stream events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AnnotationEvent",
    "FileCitation",
    "FunctionCallItem",
    "McpApprovalRequest",
    "McpCall",
    "McpCallError",
    "McpListTools",
    "McpToolInfo",
    "OtherAnnotation",
    "OtherEvent",
    "OtherItem",
    "OutputItem",
    "OutputItemEvent",
    "OutputMessage",
    "OutputRefusal",
    "OutputText",
    "ReasoningItem",
    "ResponseStatusEvent",
    "StreamEvent",
    "UrlCitation",
]

# Replies only carry what our parsers read from the provider: no checks beyond the types given.


@dataclass(frozen=True, slots=True)
class UrlCitation:
    """A web source the text cites, over ``text[start_index:end_index]``."""

    url: str
    title: str = ""
    start_index: int = 0
    end_index: int = 0


@dataclass(frozen=True, slots=True)
class FileCitation:
    """A file (from file search) the text cites."""

    file_id: str
    filename: str = ""
    index: int = 0


@dataclass(frozen=True, slots=True)
class OtherAnnotation:
    """An annotation llmport does not model (``container_file_citation``...), as its JSON."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)


Annotation = UrlCitation | FileCitation | OtherAnnotation


@dataclass(frozen=True, slots=True)
class OutputText:
    """A text part of an output message, with its citations."""

    text: str
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class OutputRefusal:
    """The model's refusal, in place of text."""

    refusal: str


@dataclass(frozen=True, slots=True)
class OutputMessage:
    """An assistant message item; ``text`` joins its text parts as the SDK's ``output_text`` does."""

    id: str
    content: tuple[OutputText | OutputRefusal, ...] = ()
    status: str | None = None

    @property
    def text(self) -> str:
        """The message's text parts, joined (refusals are not text)."""
        return "".join(part.text for part in self.content if isinstance(part, OutputText))


@dataclass(frozen=True, slots=True)
class FunctionCallItem:
    """A call of one of your functions; answer it with ``Message.tool(call_id, result)``."""

    id: str
    call_id: str
    name: str
    arguments: str = "{}"
    status: str | None = None


@dataclass(frozen=True, slots=True)
class McpToolInfo:
    """A tool an MCP server offers."""

    name: str
    description: str | None = None
    input_schema: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class McpListTools:
    """The tools an MCP server listed (or the error it gave instead)."""

    id: str
    server_label: str
    tools: tuple[McpToolInfo, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class McpCallError:
    """Why an MCP call failed: ``mcp_protocol_error`` and ``http_error`` carry a code and a message,
    ``mcp_tool_execution_error`` the tool's ``content``."""

    type: str
    message: str | None = None
    code: int | None = None
    content: Any = None


@dataclass(frozen=True, slots=True)
class McpCall:
    """A call the model made on an MCP server: its output, or the error it got."""

    id: str
    server_label: str
    name: str
    arguments: str = "{}"
    output: str | None = None
    error: McpCallError | None = None
    approval_request_id: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class McpApprovalRequest:
    """The model asks to call an MCP tool and waits for your approval (``require_approval``)."""

    id: str
    server_label: str
    name: str
    arguments: str = "{}"


@dataclass(frozen=True, slots=True)
class ReasoningItem:
    """The model's reasoning: its summary texts (asked for with ``Reasoning(summary=...)``)."""

    id: str
    summary: tuple[str, ...] = ()
    encrypted_content: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class OtherItem:
    """An output item llmport does not model (web_search_call, file_search_call...), as its JSON."""

    type: str
    id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)


OutputItem = (
    OutputMessage | FunctionCallItem | McpListTools | McpCall | McpApprovalRequest | ReasoningItem | OtherItem
)


@dataclass(frozen=True, slots=True)
class ResponseStatusEvent:
    """``response.created`` / ``queued`` / ``in_progress``: the response's id and status."""

    type: str
    response_id: str
    status: str | None = None


@dataclass(frozen=True, slots=True)
class OutputItemEvent:
    """``response.output_item.added`` / ``done``: an item begins or is finished."""

    type: str
    output_index: int
    item: OutputItem


@dataclass(frozen=True, slots=True)
class AnnotationEvent:
    """``response.output_text.annotation.added``: a citation for text already streamed."""

    type: str
    output_index: int
    annotation: Annotation


@dataclass(frozen=True, slots=True)
class OtherEvent:
    """Any other stream event, as its JSON (``response.mcp_call.in_progress``...)."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)


StreamEvent = ResponseStatusEvent | OutputItemEvent | AnnotationEvent | OtherEvent
