"""Structured outputs from a class: a strict JSON schema for it, and a parser back into it.

A pydantic model (recognised by its ``model_json_schema``, never imported), a dataclass or a
TypedDict becomes a ``ResponseFormat`` whose parser fills ``ChatResponse.parsed``.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import functools
import json
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from ..domain.errors import ProviderError, ValidationError
from ..domain.models import ResponseFormat

__all__ = ["response_format_for", "strict_schema"]

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
}


def response_format_for(output_type: type[Any]) -> ResponseFormat:
    """The strict ``json_schema`` ResponseFormat for a pydantic model, a dataclass or a TypedDict.

    Built once per class. The parser it carries turns the reply's JSON into an instance (a dict
    for a TypedDict).

    Raises:
        ValidationError: the class is none of these, or has a field with no strict JSON schema
            (``dict[str, X]``, ``Any``, sets...).
    """
    key: Any = output_type  # classes are hashable; typeshed's lru_cache asks for Hashable
    return _cached(key)


@functools.lru_cache(maxsize=256)
def _cached(output_type: Any) -> ResponseFormat:
    name = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in output_type.__name__)[:64]
    if callable(getattr(output_type, "model_json_schema", None)):
        schema = strict_schema(output_type.model_json_schema())
        parse: Callable[[str], Any] = output_type.model_validate_json
    elif dataclasses.is_dataclass(output_type) or _is_typeddict(output_type):
        defs: dict[str, Any] = {}
        schema = _object(output_type, defs)
        if defs:
            schema["$defs"] = defs
        parse = functools.partial(_from_json, output_type)
    else:
        raise ValidationError(
            f"response_format takes a ResponseFormat, a pydantic model class, a dataclass or a "
            f"TypedDict, got {output_type!r:.60}"
        )
    return ResponseFormat.json_schema(name, schema, strict=True, parser=_reported(parse, name))


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` as OpenAI's strict mode wants it (as the SDK's ``.parse()`` makes it).

    Every object gets ``additionalProperties: false`` and all its properties required; a lone
    ``allOf`` is inlined, ``default: null`` dropped, and a ``$ref`` with siblings resolved.
    """
    root = copy.deepcopy(dict(schema))
    _make_strict(root, root)
    return root


def _make_strict(node: Any, root: dict[str, Any]) -> None:
    if isinstance(node, list):
        for item in node:
            _make_strict(item, root)
        return
    if not isinstance(node, dict):
        return
    _strict_children(node, root)
    if node.get("type") == "object" or "properties" in node:
        node.setdefault("additionalProperties", False)
        node["required"] = list(node.get("properties") or {})
    _inline_all_of(node, root)
    if "default" in node and node["default"] is None:
        del node["default"]
    _resolve_ref(node, root)


def _strict_children(node: dict[str, Any], root: dict[str, Any]) -> None:
    # The schemas a node holds: by name (definitions, properties) and in place (items, anyOf...).
    for key in ("$defs", "definitions", "properties"):
        for child in (node.get(key) or {}).values():
            _make_strict(child, root)
    for key in ("items", "anyOf", "prefixItems"):
        _make_strict(node.get(key), root)


def _inline_all_of(node: dict[str, Any], root: dict[str, Any]) -> None:
    # A lone allOf (pydantic's wrapper of a $ref with a description) is merged into the node.
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        del node["allOf"]
        _make_strict(all_of[0], root)
        node.update(all_of[0])
    elif all_of:
        _make_strict(all_of, root)


def _resolve_ref(node: dict[str, Any], root: dict[str, Any]) -> None:
    # Strict mode refuses a $ref with siblings: the target's keys are copied in, the node's own win.
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1 and ref.startswith("#/"):
        del node["$ref"]
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node.update({key: value for key, value in target.items() if key not in node})


def _object(cls: type[Any], defs: dict[str, Any]) -> dict[str, Any]:
    hints = get_type_hints(cls, include_extras=True)
    if dataclasses.is_dataclass(cls):
        hints = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return {
        "type": "object",
        "properties": {name: _schema(hint, defs, f"{cls.__name__}.{name}") for name, hint in hints.items()},
        "required": list(hints),
        "additionalProperties": False,
    }


def _schema(hint: Any, defs: dict[str, Any], where: str) -> dict[str, Any]:
    origin, args = get_origin(hint), get_args(hint)
    if hint in _SCALARS:
        return dict(_SCALARS[hint])
    if origin is Annotated:
        return _schema(args[0], defs, where)
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema(arg, defs, where) for arg in args]}
    if origin is Literal:
        return _enum(list(args))
    if _is_array(origin, args):
        return {"type": "array", "items": _schema(args[0], defs, where)}
    if _is_named(hint):
        return {"$ref": _define(hint, defs)}
    raise ValidationError(
        f"response_format: {where} is {hint!r:.60}, which has no strict JSON schema; use str, int, "
        f"float, bool, list[...], Literal, an Enum, X | None, or nested dataclasses / TypedDicts"
    )


def _is_array(origin: Any, args: tuple[Any, ...]) -> bool:
    # list[X], Sequence[X] and tuple[X, ...] (a tuple of fixed length has no strict schema).
    fixed_tuple = origin is tuple and args[1:] not in ((), (...,))
    return origin in (list, tuple, Sequence) and bool(args) and not fixed_tuple


def _is_named(hint: Any) -> bool:
    # The classes that become a $defs entry: an Enum, a dataclass, a TypedDict.
    return isinstance(hint, type) and (
        issubclass(hint, enum.Enum) or dataclasses.is_dataclass(hint) or _is_typeddict(hint)
    )


def _define(cls: type[Any], defs: dict[str, Any]) -> str:
    # Puts the class's schema in defs once (by its name) and returns the $ref to it.
    if cls.__name__ not in defs:
        if issubclass(cls, enum.Enum):
            defs[cls.__name__] = _enum([member.value for member in cls])
        else:
            defs[cls.__name__] = {}  # a placeholder first: a class may refer to itself
            defs[cls.__name__] = _object(cls, defs)
    return f"#/$defs/{cls.__name__}"


def _is_typeddict(hint: Any) -> bool:
    # typing's and typing_extensions' TypedDicts have different metaclasses: look at what they hold.
    return isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__required_keys__")


def _enum(values: list[Any]) -> dict[str, Any]:
    # As pydantic writes it: the values' JSON type beside them when they share one.
    schema: dict[str, Any] = {"enum": values}
    kinds = {type(value) for value in values}
    if len(kinds) == 1 and next(iter(kinds)) in (str, int, float, bool):
        schema["type"] = _SCALARS[next(iter(kinds))]["type"]
    return schema


def _from_json(cls: type[Any], text: str) -> Any:
    return _build(cls, json.loads(text))


def _build(hint: Any, value: Any) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Annotated:
        return _build(args[0], value)
    if origin in (Union, types.UnionType):
        return _build_union(args, value)
    if origin in (list, Sequence, tuple) and args and isinstance(value, list):
        items = [_build(args[0], item) for item in value]
        return tuple(items) if origin is tuple else items
    if isinstance(hint, type):
        return _build_class(hint, value)
    return value


def _build_union(args: tuple[Any, ...], value: Any) -> Any:
    # X | None is built as X; a union of several classes is left as the JSON gave it.
    if value is None:
        return None
    options = [arg for arg in args if arg is not type(None)]
    return _build(options[0], value) if len(options) == 1 else value


def _build_class(cls: type[Any], value: Any) -> Any:
    if issubclass(cls, enum.Enum):
        return cls(value)
    if not isinstance(value, dict):
        return value
    if dataclasses.is_dataclass(cls):
        hints = get_type_hints(cls)
        return cls(**{key: _build(hints[key], item) for key, item in value.items() if key in hints})
    if _is_typeddict(cls):
        hints = get_type_hints(cls)
        return {key: _build(hints.get(key), item) for key, item in value.items()}
    return value


def _reported(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    def parsed(text: str) -> Any:
        try:
            return parse(text)
        except (ValueError, TypeError, KeyError) as exc:  # pydantic's ValidationError is a ValueError
            raise ProviderError(
                f"the reply does not match the {name} schema: {type(exc).__name__}: {str(exc)[:300]}"
            ) from None

    return parsed
