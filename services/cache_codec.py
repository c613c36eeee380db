"""The reply cache's bytes and keys: JSON of the domain's dataclasses (never pickle), and sha256 keys."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..domain import messages, models, replies, responses_items, tools

__all__ = ["decode", "encode", "key_of"]

_MODULES = (messages, models, replies, responses_items, tools)
_CLASSES: dict[str, type[Any]] = {}


def _classes() -> dict[str, type[Any]]:
    # The domain's dataclasses by name: the only classes a decoded value can be.
    if not _CLASSES:
        for module in _MODULES:
            for name, value in vars(module).items():
                if isinstance(value, type) and dataclasses.is_dataclass(value):
                    _CLASSES.setdefault(name, value)
    return _CLASSES


def _stored_fields(value: Any) -> dict[str, Any]:
    # compare=False fields are transport details (raw bodies, rate hints, parse callables).
    return {
        f.name: getattr(value, f.name)
        for f in dataclasses.fields(value)
        if f.init and f.compare and f.name not in ("cache_hit", "cache_hits")
    }


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
    if "$t" in data:
        return tuple(_typed(item) for item in data["$t"])
    if "$b" in data:
        return base64.b64decode(data["$b"])
    return {k: _typed(v) for k, v in data["$m"].items()}


def encode(value: Any) -> bytes | None:
    """``value`` (a domain dataclass, or a list or tuple of them) as bytes; None when it cannot be
    stored (it holds something that is not plain data, e.g. a parsed pydantic object)."""
    try:
        return json.dumps(_plain(value), separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError):
        return None


def decode(data: bytes | None) -> Any:
    """What ``encode`` wrote; None for a miss or for bytes it did not write (garbage is a miss)."""
    if data is None:
        return None
    try:
        return _typed(json.loads(data))
    except Exception:  # any garbage from a store is a miss, never a failure
        return None


def _canonical(value: Any) -> Any:
    # Like _plain, but for a key: bytes by their hash, a class (a schema's model) by its name and
    # JSON schema, unset (None) fields left out; anything else cannot be keyed. Plain values
    # first: they are most of a request.
    if value is None or isinstance(value, (str, bool, int, float)):
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
        fields = {k: _canonical(v) for k, v in _stored_fields(value).items() if v is not None}
        return {"$d": type(value).__name__, "f": fields}
    raise TypeError(f"cannot key a {type(value).__name__}")


def key_of(kind: str, scope: Mapping[str, Any], request: Any) -> str | None:
    """The sha256 (hex) of everything that shapes the reply; None when the request cannot be keyed.

    Args:
        kind: what is cached (``chat``, ``stream``, ``embedding``).
        scope: where the call goes (provider, base URL or endpoint, deployment, API) and the namespace.
        request: the request (every field counts) or, for embeddings, one input with the model.
    """
    try:
        text = json.dumps(
            [kind, _canonical(scope), _canonical(request)],
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
        )
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()
