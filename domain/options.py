"""Options of a chat request with a shape of their own: the reply's format and the reasoning effort."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._checks import check_json, is_name, short
from .errors import ValidationError

__all__ = ["Reasoning", "ResponseFormat"]


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """What shape the reply must take: free text, any JSON object, or a JSON schema."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    schema: Mapping[str, Any] | None = None
    strict: bool = True
    #: Turns the reply's JSON text into the caller's type (set by Client.chat for a class);
    #: the result lands in ``ChatResponse.parsed``.
    parser: Callable[[str], Any] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or self.type not in ("text", "json_object", "json_schema"):
            raise ValidationError(
                f"ResponseFormat.type {short(self.type)} must be text, json_object or json_schema"
            )
        if not isinstance(self.strict, bool):
            raise ValidationError(f"ResponseFormat.strict must be True or False, got {short(self.strict)}")
        if self.type != "json_schema":
            if self.name is not None or self.schema is not None:
                raise ValidationError(
                    f"ResponseFormat.name and .schema are for json_schema only, not {self.type}; "
                    f"use ResponseFormat.json_schema(name, schema)"
                )
            return
        if self.name is None or self.schema is None:
            raise ValidationError("ResponseFormat json_schema needs a name and a schema")
        if not is_name(self.name):
            raise ValidationError(
                f"ResponseFormat.name {short(self.name)} must be 1-64 characters of a-z, A-Z, 0-9, _ or -"
            )
        check_json("ResponseFormat.schema", self.schema)
        if self.parser is not None and not callable(self.parser):
            raise ValidationError(f"ResponseFormat.parser must be callable, got {short(self.parser)}")

    @classmethod
    def json(cls) -> ResponseFormat:
        """Any JSON object (JSON mode)."""
        return cls("json_object")

    @classmethod
    def json_schema(
        cls,
        name: str,
        schema: Mapping[str, Any],
        strict: bool = True,
        parser: Callable[[str], Any] | None = None,
    ) -> ResponseFormat:
        """Structured output matching ``schema``; ``parser`` fills ``ChatResponse.parsed``."""
        return cls("json_schema", name=name, schema=schema, strict=strict, parser=parser)


_EFFORTS = ("none", "minimal", "low", "medium", "high")
_SUMMARIES = ("auto", "concise", "detailed")


@dataclass(frozen=True, slots=True)
class Reasoning:
    """How hard a reasoning model thinks (``effort``), and a summary of how (Responses API only)."""

    effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None

    def __post_init__(self) -> None:
        if self.effort is not None and self.effort not in _EFFORTS:
            raise ValidationError(
                f"Reasoning.effort must be one of {', '.join(_EFFORTS)}, got {short(self.effort)}"
            )
        if self.summary is not None and self.summary not in _SUMMARIES:
            raise ValidationError(
                f"Reasoning.summary must be one of {', '.join(_SUMMARIES)}, got {short(self.summary)}"
            )
