"""Function tools as the model reads them: a TypeScript-like namespace, rendered from their schemas.

The service does not count the JSON of ``tools``: it renders each function into the system
prompt as a TypeScript type, and counts that. The layout below is the one inferred from
reported ``usage.prompt_tokens`` by hmarr/openai-chat-tokens (MIT; its tests hold counts the
API reported for gpt-3.5-turbo), and it reproduces the counts of the OpenAI cookbook's "How to
count tokens with tiktoken" (105 on gpt-3.5-turbo and gpt-4, 101 on gpt-4o and gpt-4o-mini).
Schemas beyond what that layout was checked on (``anyOf``, ``$ref``, formats, defaults...) are
rendered on a best guess, and the count is then not exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ...domain.tools import ToolSpec

__all__ = ["render_functions"]

# The schema keywords whose rendering was checked against reported counts.
_CHECKED: Final = frozenset(("type", "description", "enum", "items", "properties", "required"))


class _Render:
    """Renders schemas, noting whether anything went beyond the checked layout."""

    def __init__(self) -> None:
        self.exact = True

    def function(self, tool: ToolSpec) -> list[str]:
        lines = [f"// {tool.description}"] if tool.description else []
        parameters = tool.parameters
        if parameters.get("properties"):
            lines.append(f"type {tool.name} = (_: {{")
            lines.append(self.properties(parameters, 0))
            lines.append("}) => any;")
        else:
            lines.append(f"type {tool.name} = () => any;")
        self._note(parameters, extra=("additionalProperties", "strict"))
        return lines

    def properties(self, schema: Mapping[str, Any], indent: int) -> str:
        required = schema.get("required") or ()
        lines: list[str] = []
        for name, prop in (schema.get("properties") or {}).items():
            if not isinstance(prop, Mapping):
                self.exact = False
                continue
            if prop.get("description"):
                lines.append(f"// {prop['description']}")
            mark = "" if name in required else "?"
            lines.append(f"{name}{mark}: {self.type(prop, indent)},")
        return "\n".join(" " * indent + line for line in lines)

    def type(self, prop: Mapping[str, Any], indent: int) -> str:
        self._note(prop)
        kind = prop.get("type")
        enum = prop.get("enum")
        if isinstance(enum, Sequence) and not isinstance(enum, str):
            return " | ".join(f'"{v}"' if isinstance(v, str) else _literal(v) for v in enum)
        if kind == "object":
            return "\n".join(("{", self.properties(prop, indent + 2), "}"))
        if kind == "array":
            items = prop.get("items")
            return f"{self.type(items, indent)}[]" if isinstance(items, Mapping) else "any[]"
        if isinstance(kind, str) and kind in _SCALARS:
            return _SCALARS[kind]
        return self.guess(prop, indent)

    def guess(self, prop: Mapping[str, Any], indent: int) -> str:
        """anyOf, a list of types, $ref...: rendered on a guess, and the count is not exact."""
        self.exact = False
        kind = prop.get("type")
        options = prop.get("anyOf") or prop.get("oneOf")
        if isinstance(options, Sequence) and options:
            return " | ".join(self.type(o, indent) if isinstance(o, Mapping) else "any" for o in options)
        if isinstance(kind, Sequence) and not isinstance(kind, str):
            return " | ".join(_SCALARS.get(str(k), "any") for k in kind)
        return "any"

    def _note(self, schema: Mapping[str, Any], extra: tuple[str, ...] = ("additionalProperties",)) -> None:
        if any(key not in _CHECKED and key not in extra for key in schema):
            self.exact = False


_SCALARS: Final = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "null": "null",
}


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def render_functions(tools: Sequence[ToolSpec]) -> tuple[str, bool]:
    """The ``namespace functions {...}`` text of ``tools``, and whether its layout is a checked one."""
    render = _Render()
    lines = ["namespace functions {", ""]
    for tool in tools:
        lines.extend(render.function(tool))
        lines.append("")
    lines.append("} // namespace functions")
    return "\n".join(lines), render.exact
