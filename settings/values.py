"""The value types of settings: ``Secret``, and the choices each enumerated setting takes."""

from __future__ import annotations

from typing import Literal

__all__ = ["Auth", "MaxTokensField", "Provider", "Secret", "WireApi"]

Provider = Literal["openai", "azure", "azure_v1", "fake"]
Auth = Literal["api_key", "entra", "token"]
WireApi = Literal["chat", "responses"]
#: Where chat.completions gets max_tokens; auto: max_tokens (as the SDK sends it), switched once per
#: deployment to max_completion_tokens when the deployment refuses max_tokens.
MaxTokensField = Literal["auto", "max_tokens", "max_completion_tokens"]


class Secret:
    """A string that never shows itself in a repr, str, log line or config dump."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
