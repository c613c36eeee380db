"""What an image in a prompt costs: its size, read from its bytes, and the published formulas.

The formulas are OpenAI's "Images and vision" guide, section "Calculating costs" (read in
December 2026):

- tiles (gpt-4o, gpt-4.1, gpt-4.5, gpt-5, gpt-4o-mini, o1, o3...): ``detail="low"`` costs the base;
  otherwise the image is scaled to fit 2048x2048, then its shortest side down to 768 (images are
  never scaled up), and each 512-px tile costs the tile price, plus the base;
- patches (gpt-4.1-mini, gpt-4.1-nano, gpt-5-mini, gpt-5-nano, o4-mini): 32-px patches to cover
  the image, scaled down to fit 1536 patches, times a multiplier per model (rounded up).

The size comes from the image's own header (PNG, JPEG, GIF, WebP) without an image library; a
remote URL's size is unknown, and then the count is the worst case for its detail (not exact).
``detail="auto"`` is counted as ``high``, as the guide's examples do.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from dataclasses import dataclass
from typing import Final

from ...domain.messages import ImagePart

__all__ = ["ImageCost", "image_cost", "image_size", "image_tokens"]


@dataclass(frozen=True, slots=True)
class _Tiles:
    base: int
    tile: int


@dataclass(frozen=True, slots=True)
class _Patches:
    multiplier: float


_Rule = _Tiles | _Patches

# Longest prefix first: "gpt-4o-mini" before "gpt-4o", "gpt-5-mini" before "gpt-5".
_RULES: Final[tuple[tuple[str, _Rule], ...]] = (
    ("gpt-4.1-mini", _Patches(1.62)),
    ("gpt-4.1-nano", _Patches(2.46)),
    ("gpt-5-mini", _Patches(1.62)),
    ("gpt-5-nano", _Patches(2.46)),
    ("o4-mini", _Patches(1.72)),
    ("gpt-4o-mini", _Tiles(2833, 5667)),
    ("computer-use-preview", _Tiles(65, 129)),
    ("gpt-5", _Tiles(70, 140)),
    ("o1", _Tiles(75, 150)),
    ("o3", _Tiles(75, 150)),
)
_DEFAULT: Final = _Tiles(85, 170)  # gpt-4o, gpt-4.1, gpt-4.5, chatgpt-4o, gpt-4-turbo
_MAX_PATCHES: Final = 1536
_PATCH: Final = 32


@dataclass(frozen=True, slots=True)
class ImageCost:
    """The tokens of one image, and whether they follow from its known size."""

    tokens: int
    exact: bool


def _rule(model: str | None) -> tuple[_Rule, bool]:
    """The image rule of ``model``, and whether it is the model's own (not a stand-in)."""
    if model is None:
        return _DEFAULT, False
    for prefix, rule in _RULES:
        if model.startswith(prefix):
            return rule, True
    known = model.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5", "chatgpt-4o", "gpt-4-turbo", "gpt-4-vision"))
    return _DEFAULT, known


def image_tokens(model: str | None, detail: str, size: tuple[int, int] | None) -> int:
    """The tokens of an image of ``size`` (width, height; None: unknown, the worst case)."""
    rule, _known = _rule(model)
    if isinstance(rule, _Patches):
        return math.ceil(_patches(size) * rule.multiplier)
    if detail == "low":
        return rule.base
    return rule.base + rule.tile * _tiles(size)


def image_cost(model: str | None, part: ImagePart) -> ImageCost:
    """What ``part`` costs on ``model``: exact when the model's rule and the image's size are known."""
    rule, known = _rule(model)
    size = image_size(part)
    fixed = isinstance(rule, _Tiles) and part.detail == "low"
    return ImageCost(image_tokens(model, part.detail, size), known and (size is not None or fixed))


def _tiles(size: tuple[int, int] | None) -> int:
    if size is None:
        return 8  # 768 x 2048 after scaling: 2 x 4 tiles, the most any image takes
    width, height = size
    if max(width, height) > 2048:
        scale = 2048 / max(width, height)
        width, height = int(width * scale), int(height * scale)
    if min(width, height) > 768:
        scale = 768 / min(width, height)
        width, height = int(width * scale), int(height * scale)
    return math.ceil(width / 512) * math.ceil(height / 512)


def _patches(size: tuple[int, int] | None) -> int:
    if size is None:
        return _MAX_PATCHES
    width, height = float(size[0]), float(size[1])
    if math.ceil(width / _PATCH) * math.ceil(height / _PATCH) > _MAX_PATCHES:
        ratio = math.sqrt(_PATCH**2 * _MAX_PATCHES / (width * height))
        ratio *= min(
            math.floor(width * ratio / _PATCH) / (width * ratio / _PATCH),
            math.floor(height * ratio / _PATCH) / (height * ratio / _PATCH),
        )
        width, height = width * ratio, height * ratio
    return min(math.ceil(width / _PATCH) * math.ceil(height / _PATCH), _MAX_PATCHES)


def image_size(part: ImagePart) -> tuple[int, int] | None:
    """The (width, height) of ``part`` from its bytes or ``data:`` URL; None for a remote URL
    or a header this module does not read."""
    data = part.data
    if data is None:
        url = part.url or ""
        if not url.startswith("data:") or ";base64," not in url:
            return None
        encoded = url.split(";base64,", 1)[1]
        head = _decode(encoded[:8192])  # the header is in the first bytes, except for some JPEGs
        size = None if head is None else _size(head)
        if size is not None or len(encoded) <= 8192:
            return size
        data = _decode(encoded)
        if data is None:
            return None
    return _size(data)


def _decode(encoded: str) -> bytes | None:
    cut = len(encoded) - len(encoded) % 4
    try:
        return base64.b64decode(encoded[:cut], validate=False)
    except (binascii.Error, ValueError):
        return None


def _size(data: bytes) -> tuple[int, int] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return _checked(width, height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return _checked(width, height)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _webp(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    return None


def _checked(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if width > 0 and height > 0 else None


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return _checked(width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return _checked((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return _checked(width, height)
    return None


# JPEG start-of-frame markers (baseline, progressive...): not DHT (C4), JPG (C8) or DAC (CC).
_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 <= len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return _checked(width, height)
        if marker == 0xD8 or 0xD0 <= marker <= 0xD7:  # markers without a length
            index += 2
            continue
        (length,) = struct.unpack(">H", data[index + 2 : index + 4])
        index += 2 + length
    return None
