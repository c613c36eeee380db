"""Tools the model may use: your functions (ToolSpec) and the provider's built-in tools (Responses API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._checks import check_json, check_optional_text, check_sequence, check_text, freeze, is_name, short
from .errors import ValidationError

__all__ = [
    "BuiltinTool",
    "CodeInterpreterTool",
    "FileSearchTool",
    "HostedTool",
    "McpTool",
    "Tool",
    "ToolSpec",
    "WebSearchTool",
    "tool_from_dict",
]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is its JSON schema."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool = False

    def __post_init__(self) -> None:
        if not is_name(self.name):
            raise ValidationError(
                f"ToolSpec.name {short(self.name)} must be 1-64 characters of a-z, A-Z, 0-9, _ or -"
            )
        check_text("ToolSpec.description", self.description)
        check_json("ToolSpec.parameters", self.parameters)
        if not isinstance(self.strict, bool):
            raise ValidationError(f"ToolSpec.strict must be True or False, got {short(self.strict)}")


@dataclass(frozen=True, slots=True)
class McpTool:
    """A remote MCP server the model may call (Responses API).

    Args:
        server_label: how the server is named in the output items.
        server_url: the server's URL.
        require_approval: ``always``, ``never``, or the API's object form
            (``{"never": {"tool_names": [...]}}``); None leaves the provider's default.
        allowed_tools: the server's tools the model may use; None for all of them.
        headers: HTTP headers sent to the server (an Authorization header, for instance).
        server_description: what the server is for, shown to the model.
    """

    server_label: str
    server_url: str
    require_approval: Literal["always", "never"] | Mapping[str, Any] | None = None
    allowed_tools: tuple[str, ...] | None = None
    headers: Mapping[str, str] | None = field(default=None, repr=False)
    server_description: str | None = None

    def __post_init__(self) -> None:
        check_text("McpTool.server_label", self.server_label, blank="name the server")
        check_text("McpTool.server_url", self.server_url, blank="pass the MCP server's URL")
        approval = self.require_approval
        if isinstance(approval, Mapping):
            check_json("McpTool.require_approval", approval)
        elif approval is not None and approval not in ("always", "never"):
            raise ValidationError(
                f"McpTool.require_approval must be always, never or a dict, got {short(approval)}"
            )
        if self.allowed_tools is not None:
            names = check_sequence("McpTool.allowed_tools", self.allowed_tools, "str")
            for name in names:
                check_text("McpTool.allowed_tools[]", name, blank="name a tool of the server")
            freeze(self, "allowed_tools", names)
        if self.headers is not None:
            check_json("McpTool.headers", self.headers)
        check_optional_text("McpTool.server_description", self.server_description)

    def to_wire(self) -> dict[str, Any]:
        """The tool as the Responses API takes it."""
        wire: dict[str, Any] = {
            "type": "mcp",
            "server_label": self.server_label,
            "server_url": self.server_url,
        }
        if self.require_approval is not None:
            wire["require_approval"] = (
                self.require_approval
                if isinstance(self.require_approval, str)
                else dict(self.require_approval)
            )
        if self.allowed_tools is not None:
            wire["allowed_tools"] = list(self.allowed_tools)
        if self.headers is not None:
            wire["headers"] = dict(self.headers)
        if self.server_description is not None:
            wire["server_description"] = self.server_description
        return wire


@dataclass(frozen=True, slots=True)
class WebSearchTool:
    """The provider's web search (Responses API); ``options`` holds e.g. ``user_location``."""

    search_context_size: Literal["low", "medium", "high"] | None = None
    type: str = "web_search"
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.search_context_size not in (None, "low", "medium", "high"):
            raise ValidationError(
                f"WebSearchTool.search_context_size must be low, medium or high, got "
                f"{short(self.search_context_size)}"
            )
        check_text("WebSearchTool.type", self.type, blank="web_search or web_search_preview")
        check_json("WebSearchTool.options", self.options)

    def to_wire(self) -> dict[str, Any]:
        """The tool as the Responses API takes it."""
        wire: dict[str, Any] = {**self.options, "type": self.type}
        if self.search_context_size is not None:
            wire["search_context_size"] = self.search_context_size
        return wire


@dataclass(frozen=True, slots=True)
class FileSearchTool:
    """Search over the given vector stores (Responses API)."""

    vector_store_ids: tuple[str, ...]
    max_num_results: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = check_sequence("FileSearchTool.vector_store_ids", self.vector_store_ids, "str")
        if not ids:
            raise ValidationError("FileSearchTool.vector_store_ids is empty; name at least one vector store")
        for store in ids:
            check_text("FileSearchTool.vector_store_ids[]", store, blank="pass a vector store id")
        freeze(self, "vector_store_ids", ids)
        results = self.max_num_results
        if results is not None and (
            isinstance(results, bool) or not isinstance(results, int) or not 1 <= results <= 50
        ):
            raise ValidationError(
                f"FileSearchTool.max_num_results must be an int from 1 to 50, got {short(results)}"
            )
        check_json("FileSearchTool.options", self.options)

    def to_wire(self) -> dict[str, Any]:
        """The tool as the Responses API takes it."""
        wire: dict[str, Any] = {
            **self.options,
            "type": "file_search",
            "vector_store_ids": list(self.vector_store_ids),
        }
        if self.max_num_results is not None:
            wire["max_num_results"] = self.max_num_results
        return wire


@dataclass(frozen=True, slots=True)
class CodeInterpreterTool:
    """The provider's Python sandbox (Responses API); ``container`` is an id or ``{"type": "auto"}``."""

    container: str | Mapping[str, Any] = field(default_factory=lambda: {"type": "auto"})

    def __post_init__(self) -> None:
        if isinstance(self.container, str):
            check_text("CodeInterpreterTool.container", self.container, blank="pass a container id")
        else:
            check_json("CodeInterpreterTool.container", self.container)

    def to_wire(self) -> dict[str, Any]:
        """The tool as the Responses API takes it."""
        container = self.container if isinstance(self.container, str) else dict(self.container)
        return {"type": "code_interpreter", "container": container}


@dataclass(frozen=True, slots=True)
class HostedTool:
    """Any other built-in tool, sent as written (``{"type": "image_generation", ...}``)."""

    spec: Mapping[str, Any]

    def __post_init__(self) -> None:
        check_json("HostedTool.spec", self.spec)
        check_text("HostedTool.spec['type']", self.spec.get("type"), blank="name the tool type")

    def to_wire(self) -> dict[str, Any]:
        """The tool as the Responses API takes it."""
        return dict(self.spec)


BuiltinTool = McpTool | WebSearchTool | FileSearchTool | CodeInterpreterTool | HostedTool
Tool = ToolSpec | BuiltinTool


def tool_from_dict(spec: Mapping[str, Any]) -> Tool:
    """Read a tool written as OpenAI's JSON, in the chat.completions or the Responses shape.

    ``{"type": "function", "function": {...}}`` and ``{"type": "function", "name": ...}`` become a
    ToolSpec, ``{"type": "mcp", ...}`` an McpTool, and so on; other types a HostedTool.

    Raises:
        ValidationError: the dict is not a tool OpenAI would accept.
    """
    kind = spec.get("type")
    if kind == "function":
        function = spec.get("function", spec)
        if not isinstance(function, Mapping) or "name" not in function:
            raise ValidationError(f"a function tool needs a name, got {short(dict(spec))}")
        return ToolSpec(
            function["name"],
            function.get("description") or "",
            function.get("parameters") or {"type": "object", "properties": {}},
            bool(function.get("strict", False)),
        )
    rest = {key: value for key, value in spec.items() if key != "type"}
    try:
        if kind == "mcp":
            allowed = rest.pop("allowed_tools", None)
            return McpTool(allowed_tools=None if allowed is None else tuple(allowed), **rest)
        if kind in ("web_search", "web_search_preview"):
            size = rest.pop("search_context_size", None)
            return WebSearchTool(size, type=kind, options=rest)
        if kind == "file_search":
            ids = rest.pop("vector_store_ids", ())
            return FileSearchTool(tuple(ids), rest.pop("max_num_results", None), options=rest)
        if kind == "code_interpreter":
            return CodeInterpreterTool(rest.get("container", {"type": "auto"}))
    except TypeError as exc:
        raise ValidationError(f"tool {kind!r}: {exc}") from None
    if not isinstance(kind, str):
        raise ValidationError(
            f"a tool dict needs a 'type' (function, mcp, web_search...), got {short(dict(spec))}"
        )
    return HostedTool(spec)
