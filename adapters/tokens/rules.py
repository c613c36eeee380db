"""How the service counts a chat request's prompt tokens, given a way to count a text's tokens.

Every message costs 3 tokens (``<|start|>``, the role's end, ``<|end|>``) plus its role and
content, plus its name and 1 more when it has one; the reply is primed with 3 more. These are the
OpenAI cookbook's rules ("How to count tokens with tiktoken", whose API calls reported 129
prompt tokens on gpt-3.5-turbo and gpt-4 and 124 on gpt-4o and gpt-4o-mini for its example).
Function tools follow ``tool_text``'s layout: the rendered namespace and 9 tokens, 4 fewer when
the prompt has a system message, whose text then gains a newline; ``tool_choice="none"`` costs 1,
a named function its name and 4 (hmarr/openai-chat-tokens, from reported counts).

Not exact (``exact=False``), on a best guess: tool calls in assistant turns (their name and
arguments and 3, as the legacy ``function_call`` was counted), tool results (a plain message
with role ``tool``), ``tool_choice="required"``, JSON-schema and JSON response formats, built-in
tools, and the Responses API (counted as chat.completions would count the same turns).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from ...domain.messages import ImagePart, Message
from ...domain.models import ChatRequest
from ...domain.tools import ToolSpec
from .images import image_cost
from .tool_text import render_functions

__all__ = ["Tally", "TextCount", "chat_tokens"]

#: Counts the tokens of one text.
TextCount = Callable[[str], int]

_PER_MESSAGE = 3
_PER_NAME = 1
_REPLY_PRIMING = 3
_FUNCTIONS = 9
_FUNCTIONS_WITH_SYSTEM = -4
_PER_TOOL_CALL = 3


@dataclass(slots=True)
class Tally:
    """A running count, and whether every part of it followed a checked rule."""

    tokens: int = 0
    exact: bool = True

    def add(self, tokens: int, exact: bool = True) -> None:
        """Add ``tokens``; ``exact=False`` marks the whole count as an estimate."""
        self.tokens += tokens
        self.exact = self.exact and exact


def chat_tokens(request: ChatRequest, model: str | None, count: TextCount) -> Tally:
    """The prompt tokens of ``request`` on ``model``, each text counted by ``count``.

    Args:
        request: the request, as it would be sent (``instructions`` go first, as a system message).
        model: the model (for images); None when unknown.
        count: the tokens of one text in the model's encoding.
    """
    tally = Tally(_REPLY_PRIMING, exact=request.api != "responses")
    messages = list(request.messages)
    if request.instructions is not None:
        messages.insert(0, Message("system", request.instructions))
    functions = [tool for tool in request.tools if isinstance(tool, ToolSpec)]
    padded = not functions  # with functions, the first system message gains a newline
    for message in messages:
        pad = not padded and message.role == "system"
        padded = padded or pad
        _message(tally, message, model, count, pad)
    if functions:
        text, checked = render_functions(functions)
        system = any(message.role == "system" for message in messages)
        tally.add(count(text) + _FUNCTIONS + (_FUNCTIONS_WITH_SYSTEM if system else 0), checked)
    _tool_choice(tally, request.tool_choice, count)
    for tool in request.tools:
        if not isinstance(tool, ToolSpec):
            wire = {key: value for key, value in tool.to_wire().items() if key != "headers"}  # secrets
            tally.add(count(json.dumps(wire, separators=(",", ":"))), exact=False)
    _response_format(tally, request, count)
    return tally


def _message(tally: Tally, message: Message, model: str | None, count: TextCount, pad: bool) -> None:
    tally.add(_PER_MESSAGE + count(message.role))
    content = message.content
    if isinstance(content, str):
        tally.add(count(content + "\n" if pad else content))
    elif content is not None:
        texts = 0
        for part in content:
            if isinstance(part, ImagePart):
                cost = image_cost(model, part)
                tally.add(cost.tokens, cost.exact)
            else:
                texts += 1
                tally.add(count(part.text), exact=texts == 1)  # parts' boundaries: a guess
        if pad:
            tally.add(1, exact=False)
    if message.name is not None:
        tally.add(count(message.name) + _PER_NAME)
    for call in message.tool_calls:
        tally.add(count(call.name) + count(call.arguments) + _PER_TOOL_CALL, exact=False)
    if message.role == "tool":
        tally.exact = False


def _tool_choice(tally: Tally, choice: str | None, count: TextCount) -> None:
    if choice is None or choice == "auto":
        return
    if choice == "none":
        tally.add(1)
    elif choice == "required":
        tally.add(0, exact=False)
    else:
        tally.add(count(choice) + 4)


def _response_format(tally: Tally, request: ChatRequest, count: TextCount) -> None:
    form = request.response_format
    if form is None or form.type == "text":
        return
    if form.type == "json_object" or form.schema is None:
        tally.add(0, exact=False)
        return
    # A guess: the schema as compact JSON in a system message of its own, under a heading.
    schema = json.dumps(form.schema, separators=(",", ":"), ensure_ascii=False)
    text = f"# Response Formats\n\n## {form.name}\n\n{schema}"
    tally.add(_PER_MESSAGE + count("system") + count(text), exact=False)
