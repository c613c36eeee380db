"""The checks the request models share: types, bounds, text UTF-8 can carry, JSON a provider can read."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ConfigurationError, ValidationError

__all__ = [
    "INT32_MAX",
    "check_extra",
    "check_int",
    "check_json",
    "check_model",
    "check_number",
    "check_optional_text",
    "check_sequence",
    "check_text",
    "freeze",
    "is_name",
    "short",
]

INT32_MAX = 2**31 - 1
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

# Body keys the adapters' builders set from typed fields: an entry in `extra` would replace what
# was validated (extra={"messages": ...} swapped the conversation), so each says what to use instead.
_RESERVED_EXTRA: dict[str, str] = {
    "model": "model=",
    "messages": "the prompt (and system=)",
    "input": "the prompt (and system=)",
    "instructions": "instructions= (or system=)",
    "stream": "Client.stream()",
    "stream_options": "Client.stream() (usage comes in the last chunk)",
    "temperature": "temperature=",
    "top_p": "top_p=",
    "max_tokens": "max_tokens=",
    "max_completion_tokens": "max_tokens=",
    "max_output_tokens": "max_tokens=",
    "stop": "stop=",
    "seed": "seed=",
    "tools": "tools= (ToolSpec, McpTool, WebSearchTool... or OpenAI tool dicts, together)",
    "tool_choice": "tool_choice=",
    "response_format": "response_format=",
    "user": "user=",
    "dimensions": "Client.embed(dimensions=)",
    "encoding_format": "nothing: llmport picks the encoding and decodes the vectors",
}


def freeze(instance: object, name: str, value: object) -> None:
    """Set a field of a frozen dataclass from its ``__post_init__`` (normalising a list to a tuple)."""
    # Frozen dataclasses refuse attribute assignment; this is the documented way around it.
    object.__setattr__(instance, name, value)


def check_text(where: str, value: object, *, blank: str | None = None) -> None:
    """Require a str that UTF-8 can encode; with ``blank``, also one that is not blank.

    Args:
        where: the field, as the caller wrote it (``messages[2].content``).
        value: the value to check.
        blank: the fix to suggest for a blank value; None allows blank strings.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{where} must be a str, got {type(value).__name__}")
    # Cheap first: almost all text is ASCII, and only non-ASCII text can hold a lone surrogate.
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationError(
                f"{where} holds a lone surrogate at index {exc.start} (a broken UTF-16 pair) that "
                f"cannot be sent as UTF-8; fix the text, e.g. decode its source with errors='replace'"
            ) from None
    if blank is not None and not value.strip():
        raise ValidationError(f"{where} is empty or blank; {blank}")


def check_optional_text(where: str, value: object, *, blank: str | None = None) -> None:
    """As :func:`check_text`, with None allowed."""
    if value is not None:
        check_text(where, value, blank=blank)


def check_model(where: str, value: object, setting: str, env: str) -> None:
    """A model is None (the configured one) or a name; a blank name is a configuration mistake."""
    if value is None:
        return
    check_text(where, value)
    assert isinstance(value, str)  # checked just above
    if not value.strip():
        raise ConfigurationError(
            f"{where} is empty or blank; pass the model (on Azure, the deployment name), or leave it "
            f"unset to use {setting} (environment {env})"
        )


def check_int(where: str, value: object, low: int, high: int) -> None:
    """Require an int (not a bool) from ``low`` to ``high``, or None."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{where} must be an int from {low} to {high}, got {short(value)}")


def check_number(where: str, value: object, low: float, high: float) -> None:
    """Require a finite int or float (not a bool) from ``low`` to ``high``, or None."""
    if value is None:
        return
    # NaN fails every comparison, so the range test refuses it along with the infinities.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValidationError(f"{where} must be a number from {low} to {high}, got {short(value)}")


def check_sequence(where: str, value: object, of: str) -> tuple[Any, ...]:
    """Require a list or tuple (not a str, bytes or dict) and return it as a tuple."""
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Sequence):
        raise ValidationError(f"{where} must be a list of {of}, got {type(value).__name__}")
    return tuple(value)


def check_json(where: str, value: object) -> None:
    """Require a mapping with str keys that serialises to strict JSON (no NaN, no lone surrogates)."""
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where} must be a dict (a JSON object), got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(f"{where} has a key of type {type(key).__name__}; JSON keys are str")
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            f"{where} holds a lone surrogate (a broken UTF-16 pair) that cannot be sent as UTF-8"
        ) from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            f"{where} must hold only JSON values (str, finite numbers, bools, None, lists, dicts): {exc}"
        ) from None


def check_extra(value: object, *, response_format_set: bool) -> dict[str, Any]:
    """Check ``ChatRequest.extra`` and return a copy: str keys, none llmport sets itself, strict JSON."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"extra must be a dict of provider options, got {type(value).__name__}")
    if not value:
        return {}
    for key in value:
        if isinstance(key, str) and key in _RESERVED_EXTRA:
            raise ValidationError(
                f"extra[{key!r}] would replace what llmport sends; use {_RESERVED_EXTRA[key]} instead"
            )
    if response_format_set and "text" in value:
        # The Responses API carries response_format in text.format; extra["text"] (verbosity) would drop it.
        raise ValidationError("extra['text'] would replace response_format; set one of them, not both")
    check_json("extra", value)
    return dict(value)


def is_name(value: object) -> bool:
    """Whether ``value`` is a function or schema name: 1-64 of a-z, A-Z, 0-9, _ and -."""
    return isinstance(value, str) and 0 < len(value) <= 64 and _NAME_CHARS.issuperset(value)


def short(value: object) -> str:
    """A repr for an error message: at most 40 characters, and never of a huge int (repr would raise)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an int of {value.bit_length()} bits"
    try:
        text = repr(value)
    except Exception:  # a caller's object with a broken __repr__ must not hide the real error
        text = f"a {type(value).__name__}"
    return text if len(text) <= 40 else f"{text[:37]}..."
