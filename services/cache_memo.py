"""DecodedMemo: the hits decoded lately, handed out again while the store returns the same bytes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .cache_codec import decode

__all__ = ["MEMO_ENTRIES", "MEMO_ENTRY_BYTES", "DecodedMemo", "Shape", "deeply_frozen"]

#: At most this many decoded hits are kept (per client and kind of call); when full, it starts over.
MEMO_ENTRIES = 256
#: A hit stored in more bytes than this is decoded on every hit, never kept.
MEMO_ENTRY_BYTES = 16 * 1024

#: Makes the hit handed out of a decoded value (``cache_hit=True``), or None when it is not one.
Shape = Callable[[Any], Any]

_ATOMS = (str, bytes, int, float, bool, type(None))


def deeply_frozen(value: Any) -> bool:
    """Whether nothing in ``value`` can be changed: strings, bytes, numbers, tuples and frozen
    dataclasses of them (a dict, a list, an array or any other object makes it False)."""
    if isinstance(value, _ATOMS):
        return True
    if isinstance(value, tuple):
        return all(deeply_frozen(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        params = getattr(type(value), "__dataclass_params__", None)
        if params is None or not params.frozen:
            return False
        return all(deeply_frozen(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


class DecodedMemo:
    """Decoded hits by key, each kept with the stored bytes it was decoded from: when the store
    returns equal bytes again, the hit is the value already made, not decoded again.

    Sharing one value between callers is safe because only values nothing can change are kept
    (``deeply_frozen``); a reply holding a dict or a list (a content filter's results, a parsed
    JSON object) is decoded afresh on every hit, as before. It is never stale: it answers only for
    the exact bytes the store has just returned, so an entry the store dropped, replaced or let
    expire is never answered from here. Bounded: ``MEMO_ENTRIES`` values of at most
    ``MEMO_ENTRY_BYTES`` stored bytes each. No lock: each step is one dict operation (atomic), and
    two threads decoding the same bytes at once make equal values.
    """

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, tuple[bytes, Shape, Any]] = {}

    def hit(self, key: str, data: bytes | None, shape: Shape) -> Any:
        """The hit ``shape`` makes of ``data`` decoded; None for a miss, garbage or another shape."""
        if data is None:
            return None
        kept = self._entries.get(key)
        if kept is not None and kept[1] is shape and kept[0] == data:
            return kept[2]
        value = shape(decode(data))
        if value is not None and len(data) <= MEMO_ENTRY_BYTES and deeply_frozen(value):
            if len(self._entries) >= MEMO_ENTRIES:
                self._entries.clear()
            self._entries[key] = (data, shape, value)
        return value
