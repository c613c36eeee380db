"""The frame of a value in a shared cache: a mark and a checksum, so that what another program wrote
there, or a value cut short, reads as a miss instead of as someone's reply."""

from __future__ import annotations

import zlib

__all__ = ["frame", "unframe"]

_MARK = b"LPC1"  # llmport cache, frame version 1
_HEAD = len(_MARK) + 4  # the mark, then the CRC-32 of the value


def frame(value: bytes) -> bytes:
    """``value`` with its mark and checksum in front."""
    return _MARK + zlib.crc32(value).to_bytes(4, "big") + value


def unframe(framed: object) -> bytes | None:
    """The value ``frame`` wrapped, or ``None`` when ``framed`` is not one (garbage)."""
    if not isinstance(framed, bytes) or len(framed) < _HEAD or not framed.startswith(_MARK):
        return None
    value = framed[_HEAD:]
    if zlib.crc32(value).to_bytes(4, "big") != framed[len(_MARK) : _HEAD]:
        return None
    return value
