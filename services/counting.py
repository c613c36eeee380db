"""What ``Client.count_tokens`` and ``Client.count_embedding_tokens`` do: the request a call would
send, counted by the client's TokenCounter with the client's defaults filled in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..domain.errors import ConfigurationError
from ..domain.models import Api, ChatRequest, EmbeddingRequest
from ..domain.ports import TokenCounter
from ..domain.tokens import TextTokenCounts, TokenCount

__all__ = ["Counting"]


class Counting:
    """Counts a client's requests before they are sent, with its default models and API.

    Args:
        counter: the TokenCounter (the container's ``token_counter``), or None for a client built
            without one (counting then raises ConfigurationError).
        chat_model: the ``chat_model`` setting: the model of a request that names none.
        embedding_model: the ``embedding_model`` setting.
        api: the ``api`` setting: the API of a request that names none.
    """

    def __init__(
        self,
        counter: TokenCounter | None,
        chat_model: str | None = None,
        embedding_model: str | None = None,
        api: Api = "chat",
    ) -> None:
        self.counter = counter
        self._chat_model = chat_model
        self._embedding_model = embedding_model
        self._api = api

    def defaults(self, options: dict[str, Any]) -> dict[str, Any]:
        """``options`` (a chat call's keywords) with the client's model and API where they are unset.

        Raises:
            ConfigurationError: no model: neither ``options`` nor the client names one.
        """
        self._counter()
        if options.get("model") is None:
            if self._chat_model is None:
                raise ConfigurationError(
                    "count_tokens needs a model: pass model= or set chat_model (LLMPORT_CHAT_MODEL)"
                )
            options = {**options, "model": self._chat_model}
        if options.get("api") is None and self._api != "chat":
            options = {**options, "api": self._api}
        return options

    def chat(self, request: ChatRequest) -> TokenCount:
        """The prompt tokens of ``request`` (built from :meth:`defaults`' options)."""
        return self._counter().count_chat(request)

    def texts(self, texts: str | Sequence[str], model: str | None) -> TextTokenCounts:
        """The tokens of each of ``texts`` as embedding inputs (checked as ``Client.embed`` checks them)."""
        counter = self._counter()
        inputs: object = texts
        if isinstance(texts, str):
            inputs = (texts,)
        elif isinstance(texts, Iterable) and not isinstance(texts, (bytes, bytearray, Mapping)):
            inputs = tuple(texts)
        request = EmbeddingRequest(inputs, model=model)  # type: ignore[arg-type]  # it checks the type
        chosen = request.model or self._embedding_model
        if chosen is None:
            raise ConfigurationError(
                "count_embedding_tokens needs a model: pass model= or set embedding_model "
                "(LLMPORT_EMBEDDING_MODEL)"
            )
        return counter.count_texts(request.inputs, chosen)

    def _counter(self) -> TokenCounter:
        if self.counter is None:
            raise ConfigurationError(
                "this client has no token counter: build it with llmport.build_client() (or from_env, "
                "from_dict, from_file), which wires one"
            )
        return self.counter
