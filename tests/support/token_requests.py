"""Varied chat requests for the token-count accuracy tests: plain, many turns, names, tools, JSON
schemas, images of several sizes and formats, non-ASCII text; seeded, so every run is the same.

Each request is ``(label, arguments)``: ``client.chat(**arguments)`` sends it and
``client.count_tokens(**arguments)`` counts it.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from typing import Any

from PIL import Image

from llmport import ImagePart, Message, ResponseFormat, TextPart

__all__ = ["MODELS_USED", "image_bytes", "requests"]

MODELS_USED = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-5",
    "o3",
    "gpt-4",
    "gpt-3.5-turbo",
    "gpt-4.1-mini",
    "o4-mini",
)
_VISION = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-5",
    "o3",
    "gpt-4-turbo",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "o4-mini",
)

_WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "budget",
    "quarterly",
    "revenue",
    "deploy",
    "kubernetes",
    "cluster",
    "latency",
    "p99",
    "milliseconds",
    "invoice",
    "customer",
    "refund",
    "policy",
    "Paris",
    "London",
    "Tokyo",
    "2024",
    "3.14159",
    "v1.2.3",
    "HTTP/2",
    "don't",
    "it's",
    "we're",
    "they'll",
    "I'm",
    "you've",
    "naïve",
    "café",
    "résumé",
    "coöperate",
    "façade",
    "Zürich",
]
_NON_ASCII = (
    "お誕生日おめでとう",
    "東京は日本の首都です。",
    "机器学习模型需要大量数据。",
    "Привет, как дела? Всё хорошо.",
    "مرحبا بالعالم",
    "שלום עולם",
    "Γειά σου Κόσμε",  # noqa: RUF001 (Greek on purpose)
    "안녕하세요 세계",
    "🙂🚀✨ emoji 👩‍💻 and 🇫🇷 flags",
    "नमस्ते दुनिया",
    "Ça coûte 12,50 € — très cher !",
    "ß ẞ ﬁ ligature Ǆ ǅ ǆ",
)
_CODE = (
    "def f(x):\n    return x * 2\n",
    "SELECT id, name FROM users WHERE age > 30 ORDER BY name;",
    '{"key": [1, 2, 3], "nested": {"a": null}}',
    "    indented\n\n\n  lines\t\twith tabs   \n",
    "a\r\nb\r\n\r\nc",
)
_NAMES = ("example_user", "example_assistant", "Alice", "bob-42", "Zoë", "agent_007")

_TOOLS: tuple[dict[str, Any], ...] = (
    {
        "name": "get_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "required": ["location"],
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
        },
    },
    {"name": "noop", "parameters": {"type": "object", "properties": {}}},
    {
        "name": "search_docs",
        "description": "Search the knowledge base.",
        "parameters": {
            "type": "object",
            "required": ["query"],
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "limit": {"type": "integer", "description": "How many results"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "exact": {"type": "boolean"},
            },
        },
    },
    {
        "name": "create_order",
        "description": "Crée une commande — 注文を作成",
        "parameters": {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {
                    "type": "array",
                    "description": "Lines of the order",
                    "items": {
                        "type": "object",
                        "required": ["sku", "qty"],
                        "properties": {
                            "sku": {"type": "string"},
                            "qty": {"type": "number"},
                            "size": {"type": "string", "enum": ["S", "M", "L", "XL"]},
                        },
                    },
                },
                "rush": {"type": "boolean", "description": "Ship today"},
            },
        },
    },
    {
        "name": "set_level",
        "description": "Set a level",
        "parameters": {
            "type": "object",
            "properties": {
                "level": {"type": "number", "enum": [1, 2, 3]},
                "meta": {"type": "object", "properties": {"note": {"type": "string"}}},
            },
        },
    },
)
_SCHEMAS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "answer",
        {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
            "additionalProperties": False,
        },
    ),
    (
        "person",
        {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer"},
                "emails": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["name", "age", "emails"],
            "additionalProperties": False,
        },
    ),
    (
        "reponse_fr",
        {
            "type": "object",
            "properties": {"texte": {"type": "string", "description": "En français"}},
            "required": ["texte"],
            "additionalProperties": False,
        },
    ),
)
# (width, height, format): tiny, exactly one tile, just over, wide, tall, huge, panorama.
_SIZES = (
    (64, 64, "PNG"),
    (512, 512, "PNG"),
    (513, 300, "JPEG"),
    (1024, 1024, "JPEG"),
    (1100, 800, "PNG"),
    (2500, 1100, "JPEG"),
    (768, 2000, "PNG"),
    (2048, 4096, "PNG"),
    (4000, 300, "GIF"),
    (1800, 2400, "WEBP"),
    (1000, 700, "WEBP"),
    (3000, 3000, "JPEG"),
)


def image_bytes(width: int, height: int, kind: str, color: int = 0) -> bytes:
    """An image of that size and format, made with Pillow (a real encoder, not llmport's reader)."""
    out = io.BytesIO()
    mode = "RGB" if kind in ("JPEG", "WEBP") else "P" if kind == "GIF" else "RGB"
    Image.new(mode, (width, height), color).save(out, format=kind)
    return out.getvalue()


def _text(rng: random.Random, words: int) -> str:
    pieces = [rng.choice(_WORDS) for _ in range(words)]
    if rng.random() < 0.3:
        pieces.insert(rng.randrange(len(pieces) + 1), rng.choice(_NON_ASCII))
    if rng.random() < 0.15:
        pieces.append(rng.choice(_CODE))
    return " ".join(pieces)


def _plain(rng: random.Random, number: int) -> dict[str, Any]:
    return {"prompt": _text(rng, rng.randint(1, 60)), "model": rng.choice(MODELS_USED)}


def _turns(rng: random.Random, number: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": _text(rng, rng.randint(3, 30))}]
    for turn in range(rng.randint(2, 30)):
        messages.append(
            {"role": "user" if turn % 2 == 0 else "assistant", "content": _text(rng, rng.randint(1, 40))}
        )
    if messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": _text(rng, 5)})
    return {"prompt": messages, "model": rng.choice(MODELS_USED)}


def _names(rng: random.Random, number: int) -> dict[str, Any]:
    messages = [{"role": "system", "content": _text(rng, 10)}]
    for _ in range(rng.randint(1, 6)):
        role = rng.choice(("system", "user", "assistant"))
        messages.append({"role": role, "name": rng.choice(_NAMES), "content": _text(rng, rng.randint(1, 20))})
    messages.append({"role": "user", "name": rng.choice(_NAMES), "content": _text(rng, 8)})
    return {"prompt": messages, "model": rng.choice(MODELS_USED)}


def _tools(rng: random.Random, number: int) -> dict[str, Any]:
    chosen = rng.sample(_TOOLS, rng.randint(1, len(_TOOLS)))
    messages: list[dict[str, Any]] = []
    if rng.random() < 0.6:
        system = _text(rng, rng.randint(1, 20))
        messages.append({"role": "system", "content": system + rng.choice(("", ":", ".", "!"))})
    messages.append({"role": "user", "content": _text(rng, rng.randint(1, 30))})
    tools = [{"type": "function", "function": tool} for tool in chosen]
    return {"prompt": messages, "model": rng.choice(MODELS_USED), "tools": tools}


def _schema(rng: random.Random, number: int) -> dict[str, Any]:
    name, schema = rng.choice(_SCHEMAS)
    form = ResponseFormat.json_schema(name, schema)
    return {
        "prompt": _text(rng, rng.randint(1, 30)),
        "model": rng.choice(MODELS_USED[:5]),
        "response_format": form,
    }


def _images(rng: random.Random, number: int) -> dict[str, Any]:
    """Every size in high, auto and low detail on every vision model, one to three images a request."""
    content: list[Any] = [TextPart(_text(rng, rng.randint(1, 15)))]
    for extra in range(1 + number % 3):
        width, height, kind = _SIZES[(number + extra) % len(_SIZES)]
        detail = ("high", "auto", "low")[(number // len(_SIZES) + extra) % 3]
        data = image_bytes(width, height, kind, rng.randrange(256))
        content.append(ImagePart(data=data, media_type=f"image/{kind.lower()}", detail=detail))
    model = _VISION[number % len(_VISION)]
    return {"prompt": [Message.system(_text(rng, 6)), Message.user(content)], "model": model}


def _non_ascii(rng: random.Random, number: int) -> dict[str, Any]:
    text = " ".join(rng.choice(_NON_ASCII) for _ in range(rng.randint(1, 8)))
    return {
        "prompt": [{"role": "user", "content": text}],
        "system": rng.choice(_NON_ASCII),
        "model": rng.choice(MODELS_USED),
    }


_KINDS: tuple[tuple[str, Callable[[random.Random, int], dict[str, Any]], int], ...] = (
    ("plain", _plain, 40),
    ("turns", _turns, 35),
    ("names", _names, 25),
    ("tools", _tools, 40),
    ("schema", _schema, 15),
    ("images", _images, 45),
    ("non-ascii", _non_ascii, 25),
)


def requests(seed: int = 22) -> Iterator[tuple[str, dict[str, Any]]]:
    """The requests, ``(label, client.chat arguments)``: 225 of them."""
    rng = random.Random(seed)
    for kind, make, how_many in _KINDS:
        for number in range(how_many):
            yield f"{kind}-{number}", make(rng, number)
