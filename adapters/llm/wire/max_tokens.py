"""Which chat.completions field carries ``max_tokens`` per deployment: the SDK's, switched once if refused.

``auto`` sends ``max_tokens``, as the raw openai SDK does for ``max_tokens=``: every
OpenAI-compatible server knows it (llama.cpp, vLLM, Microsoft's Azure OpenAI API simulator, which
ignores ``max_completion_tokens``: a dropped limit costs money). OpenAI's and Azure's reasoning
models refuse it with a 400 that names ``max_completion_tokens``; then the request goes again once
with that field, and the deployment keeps it for the life of the adapter (logged once). A field
set by the user is sent as set, and a refusal of it is the caller's error.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal

from ....domain.errors import BadRequestError, LLMPortError

__all__ = ["MaxTokensChoice"]

LOGGER = logging.getLogger("llmport.adapters")

Field = Literal["max_tokens", "max_completion_tokens"]
_OTHER: dict[str, Field] = {"max_tokens": "max_completion_tokens", "max_completion_tokens": "max_tokens"}


class MaxTokensChoice:
    """The field each model (the deployment on Azure) of one adapter gets ``max_tokens`` in. Thread-safe.

    Args:
        setting: ``auto``, ``max_tokens`` or ``max_completion_tokens`` (already checked).
        provider: named in the log line.
    """

    __slots__ = ("_fixed", "_lock", "_provider", "_switched")

    def __init__(self, setting: str, provider: str) -> None:
        self._fixed: Field | None = None if setting == "auto" else _field(setting)
        self._provider = provider
        self._lock = threading.Lock()
        self._switched: set[str] = set()

    def field(self, model: str) -> Field:
        """The field to send ``max_tokens`` in for ``model``."""
        if self._fixed is not None:
            return self._fixed
        return "max_completion_tokens" if model in self._switched else "max_tokens"

    def switched(
        self, body: dict[str, Any], error: LLMPortError, deployment: str | None
    ) -> dict[str, Any] | None:
        """The body to send once more after ``error``, or None when the error is not a refusal of the field.

        A refusal is a 400 whose message names the field sent and the other one ("Unsupported
        parameter: 'max_tokens' ... Use 'max_completion_tokens' instead"); it is remembered for
        the body's model, and logged the first time.
        """
        model = str(body.get("model"))
        sent = next((name for name in _OTHER if name in body), None)
        if (
            self._fixed is not None
            or sent != "max_tokens"
            or type(error) is not BadRequestError
            or error.status_code != 400
            or not all(name in error.message for name in _OTHER)
        ):
            return None
        with self._lock:
            first = model not in self._switched
            self._switched.add(model)
        if first:
            LOGGER.info(
                "%s deployment %s refused max_tokens; sending max_completion_tokens to it from now on "
                "(set max_tokens_field = max_completion_tokens to skip the first refusal)",
                self._provider,
                deployment or model,
            )
        resent = {key: value for key, value in body.items() if key != sent}
        resent["max_completion_tokens"] = body[sent]
        return resent

    def __repr__(self) -> str:
        return f"MaxTokensChoice({self._fixed or 'auto'}, {len(self._switched)} switched)"


def _field(setting: str) -> Field:
    return "max_tokens" if setting == "max_tokens" else "max_completion_tokens"
