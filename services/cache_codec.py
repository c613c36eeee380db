"""The reply cache's bytes and keys: JSON of the domain's dataclasses (never pickle), and sha256 keys."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import math
import sys
from array import array
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring_ascii as _ascii
from typing import Any

from ..domain import messages, models, replies, responses_items, tools

__all__ = ["decode", "encode", "input_keys", "key_of", "scope_json"]

_MODULES = (messages, models, replies, responses_items, tools)
_CLASSES: dict[str, type[Any]] = {}
_FIELDS: dict[type[Any], tuple[str, ...]] = {}  # a class's stored fields, looked up once
_NOT_STORED = ("cache_hit", "cache_hits")
_PLAIN = (str, bool, int, float, type(None))
_EXACT = frozenset(_PLAIN)
_VECTOR = b"\x00d"  # the mark of a stored vector
_BIG_ENDIAN = sys.byteorder == "big"  # vectors are stored little-endian, whatever the host


def _classes() -> dict[str, type[Any]]:
    # The domain's dataclasses by name: the only classes a decoded value can be.
    if not _CLASSES:
        for module in _MODULES:
            for name, value in vars(module).items():
                if isinstance(value, type) and dataclasses.is_dataclass(value):
                    _CLASSES.setdefault(name, value)
    return _CLASSES


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    # compare=False fields are transport details (raw bodies, rate hints, parse callables).
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name for f in dataclasses.fields(cls) if f.init and f.compare and f.name not in _NOT_STORED
        )
        _FIELDS[cls] = names
    return names


def _stored_fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in _field_names(type(value))}


def _packed(vector: array[float]) -> bytes:
    # A vector as its doubles (little-endian) after a mark no JSON text starts with: exact, and far
    # cheaper to write and read than JSON numbers.
    if vector.typecode != "d" or not all(map(math.isfinite, vector)):
        raise ValueError("a stored vector holds finite doubles only")
    if _BIG_ENDIAN:
        vector = array("d", vector)
        vector.byteswap()
    return _VECTOR + vector.tobytes()


def _unpacked(data: bytes) -> array[float]:
    vector = array("d")
    vector.frombytes(memoryview(data)[len(_VECTOR) :])  # not whole doubles: ValueError, garbage
    if _BIG_ENDIAN:
        vector.byteswap()
    return vector


def _plain(value: Any) -> Any:
    """``value`` as JSON-able data, tagged so that ``_typed`` restores it exactly."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _classes().get(name) is not type(value):
            raise TypeError(f"not a domain class: {name}")
        return {"$d": name, "f": {k: _plain(v) for k, v in _stored_fields(value).items()}}
    if isinstance(value, tuple):
        return {"$t": [_plain(item) for item in value]}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {"$m": {str(k): _plain(v) for k, v in value.items()}}
    raise TypeError(f"cannot store a {type(value).__name__}")


def _typed(data: Any) -> Any:
    if isinstance(data, list):
        return [_typed(item) for item in data]
    if not isinstance(data, dict):
        return data
    if "$d" in data:
        cls = _classes()[data["$d"]]
        return cls(**{k: _typed(v) for k, v in data["f"].items()})
    ((tag, tagged),) = data.items()  # any other value is tagged by its one key (else: garbage)
    return _UNTAG[tag](tagged)


_UNTAG: dict[str, Callable[[Any], Any]] = {
    "$t": lambda items: tuple(_typed(item) for item in items),
    "$b": base64.b64decode,
    "$m": lambda mapping: {k: _typed(v) for k, v in mapping.items()},
}


def encode(value: Any) -> bytes | None:
    """``value`` (a domain dataclass or a list or tuple of them, as JSON; or a vector, an
    ``array("d")`` of finite doubles, as its bytes) as bytes; None when it cannot be stored (it
    holds something that is not plain data, e.g. a parsed pydantic object)."""
    try:
        if isinstance(value, array):
            return _packed(value)
        return json.dumps(_plain(value), separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError):
        return None


def decode(data: bytes | None) -> Any:
    """What ``encode`` wrote; None for a miss or for bytes it did not write (garbage is a miss)."""
    if data is None:
        return None
    try:
        return _unpacked(data) if data.startswith(_VECTOR) else _typed(json.loads(data))
    except Exception:  # any garbage from a store is a miss, never a failure
        return None


def _canonical(value: Any) -> Any:
    # Like _plain, but for a key: bytes by their hash, a class (a schema's model) by its name and
    # JSON schema, unset (None) fields left out; anything else cannot be keyed. Plain values
    # first, by their exact type (most of a request), then the same tests for their subclasses.
    kind = type(value)
    if kind in _EXACT or isinstance(value, _PLAIN):
        return value
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return {"$b": hashlib.sha256(value).hexdigest()}
    if isinstance(value, type):
        schema = getattr(value, "model_json_schema", None)
        return {"$c": f"{value.__module__}.{value.__qualname__}", "s": schema() if callable(schema) else None}
    if dataclasses.is_dataclass(value):
        fields = {k: _canonical(v) for k in _field_names(kind) if (v := getattr(value, k)) is not None}
        return {"$d": kind.__name__, "f": fields}
    raise TypeError(f"cannot key a {kind.__name__}")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def scope_json(scope: Mapping[str, Any]) -> str | None:
    """The canonical JSON of a key's ``scope`` (see ``key_of``), to compute once and pass to it;
    None when it cannot be keyed."""
    try:
        return _json(_canonical(scope))
    except (TypeError, ValueError):
        return None


def _hashed(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def key_of(
    kind: str, scope: Mapping[str, Any] | str, request: Any, *, model: str | None = None
) -> str | None:
    """The sha256 (hex) of everything that shapes the reply; None when the request cannot be keyed.

    The hash of the canonical JSON of ``[kind, scope, request]``: sorted keys, unset fields left
    out, bytes by their hash.

    Args:
        kind: what is cached (``chat``, ``stream``, ``embedding``).
        scope: where the call goes (provider, base URL or endpoint, deployment, API) and the
            namespace; or its ``scope_json``, computed once.
        request: the request (every field counts) or, for embeddings, one input with the model.
        model: the model of a dataclass request that names none: the key is then the one of the
            request with ``model`` set, without building that request.
    """
    try:
        canonical = _canonical(request)
        fields = canonical.get("f") if isinstance(canonical, dict) and "$d" in canonical else None
        if model is not None and fields is not None and "model" not in fields:
            fields["model"] = model  # what _canonical gives for the request with this model
        scoped = scope if isinstance(scope, str) else _json(_canonical(scope))
        return _hashed(f"[{_json(kind)},{scoped},{_json(canonical)}]")
    except (TypeError, ValueError):
        return None


def input_keys(kind: str, scope: str, shape: Mapping[str, Any], inputs: Sequence[Any]) -> list[str] | None:
    """``key_of(kind, scope, {**shape, "input": each})`` for each of ``inputs``, with the JSON
    around the input written once; None when one cannot be keyed.

    Args:
        kind: what is cached (``embedding``).
        scope: the ``scope_json`` of where the calls go.
        shape: what else shapes each reply (model, dimensions).
        inputs: one key each.
    """
    try:
        fields = {str(name): _json(_canonical(value)) for name, value in shape.items() if name != "input"}
        names = sorted([*fields, "input"])  # where sort_keys puts each
        at = names.index("input")
        head = "".join(f"{_json(name)}:{fields[name]}," for name in names[:at])
        tail = "".join(f",{_json(name)}:{fields[name]}" for name in names[at + 1 :])
        start = f"[{_json(kind)},{scope},{{{head}" + '"input":'
        # A str is what json.dumps writes with ensure_ascii, without building an encoder each time.
        return [
            _hashed(f"{start}{_ascii(value) if type(value) is str else _json(_canonical(value))}{tail}}}]")
            for value in inputs
        ]
    except (TypeError, ValueError):
        return None
