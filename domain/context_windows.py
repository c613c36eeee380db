"""Context windows and embedding input limits of known models: what a request must fit, by model name.

Checked on 2026-12-08 against public sources quoting OpenAI's pages: gpt-4.1 1,047,576
(contextwindows.dev); gpt-5 400,000 of which at most 272,000 input (OpenAI's own error, "Input
tokens exceed the configured limit of 272,000 tokens", quoted on community.openai.com); o3 and
o4-mini 200,000 (Vercel's model page; OpenAI's error for o4-mini, same thread); gpt-3.5-turbo
16,385 (contextwindows.dev; its 0613 snapshot had 4,096); gpt-4 8,192 and gpt-4-32k 32,768;
embeddings: 300,000 tokens summed across a request's inputs (the API reference, quoted in
spiceai/spiceai#6144; the ``max_tokens_per_request`` 400 in langchain-ai/langchain#31227) and
8,191 per input (the embeddings guide; the API reference says 8,192). Sources disagree on o1
(200,000 or 128,000): the table holds 200,000. When sources or versions differ, the table holds the
largest: a window too large only lets the provider answer the 400 itself, one too small would
refuse a good request. A model that is not here has no known window: nothing is checked for it
(set ``context_window``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CHECKED",
    "CONTEXT_WINDOWS",
    "EMBEDDING_INPUT_LIMITS",
    "EMBEDDING_REQUEST_TOKENS",
    "ContextWindow",
    "base_model",
    "embedding_input_limit",
    "known_window",
]

#: When the tables below were last checked against the providers' documentation.
CHECKED = "2026-12-08"


@dataclass(frozen=True, slots=True)
class ContextWindow:
    """A model's context window: prompt plus completion at most ``tokens``, the prompt at most
    ``max_input`` when the model caps it apart (GPT-5: 272,000 of 400,000).

    Args:
        tokens: the whole window, in tokens.
        max_input: the most prompt tokens, when less than ``tokens``; None: ``tokens``.
    """

    tokens: int
    max_input: int | None = None


_GPT5 = ContextWindow(400_000, max_input=272_000)
_GPT41 = ContextWindow(1_047_576)
_O_SERIES = ContextWindow(200_000)

#: Known chat models by name (Azure's names too: ``gpt-35-turbo``); dated versions
#: (``gpt-4o-2024-08-06``, ``gpt-4-0613``) and fine-tunes (``ft:gpt-4o-mini-...:org::id``) share
#: their model's entry.
CONTEXT_WINDOWS: Mapping[str, ContextWindow] = {
    "gpt-4o": ContextWindow(128_000),
    "gpt-4o-mini": ContextWindow(128_000),
    "gpt-4.1": _GPT41,
    "gpt-4.1-mini": _GPT41,
    "gpt-4.1-nano": _GPT41,
    "gpt-5": _GPT5,
    "gpt-5-mini": _GPT5,
    "gpt-5-nano": _GPT5,
    "o1": _O_SERIES,
    "o3": _O_SERIES,
    "o3-mini": _O_SERIES,
    "o4-mini": _O_SERIES,
    "gpt-4": ContextWindow(8_192),
    "gpt-4-32k": ContextWindow(32_768),
    "gpt-3.5-turbo": ContextWindow(16_385),
    "gpt-35-turbo": ContextWindow(16_385),
}

#: The most tokens one input of an embeddings request may have, by model.
EMBEDDING_INPUT_LIMITS: Mapping[str, int] = {
    "text-embedding-3-small": 8_191,
    "text-embedding-3-large": 8_191,
    "text-embedding-ada-002": 8_191,
}

#: The most tokens, summed over its inputs, that one embeddings request may have on OpenAI
#: (the ``max_tokens_per_request`` 400 beyond it): the default ``embedding_token_budget``.
EMBEDDING_REQUEST_TOKENS = 300_000

# A version's date or number after the model's name: -2024-08-06, -0613, -1106-preview is not one.
_VERSION = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4})$")


def base_model(model: str) -> str:
    """The model a name stands for in the tables: without a fine-tune's wrapping or a version's date.

    ``ft:gpt-4o-mini-2024-07-18:org::abc`` and ``gpt-4o-mini-2024-07-18`` are ``gpt-4o-mini``.
    """
    name = model.strip().lower()
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    return _VERSION.sub("", name)


def known_window(model: str | None) -> ContextWindow | None:
    """``model``'s context window from the table, or None when it is not known."""
    if not model:
        return None
    window = CONTEXT_WINDOWS.get(model)
    return window if window is not None else CONTEXT_WINDOWS.get(base_model(model))


def embedding_input_limit(model: str | None) -> int | None:
    """The most tokens one input of ``model`` may have, or None when it is not known."""
    if not model:
        return None
    limit = EMBEDDING_INPUT_LIMITS.get(model)
    return limit if limit is not None else EMBEDDING_INPUT_LIMITS.get(base_model(model))
