"""The facade users hold: chat, stream and embed over the services, built once and shared."""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..domain.call_options import CallOptions
from ..domain.conversations import MessagesLike
from ..domain.errors import ClientClosedError, ConfigurationError
from ..domain.models import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
)
from ..domain.ports import TokenCounter
from ..domain.redaction import bare_failures, entry
from ..domain.tokens import TextTokenCounts, TokenCount
from ..domain.usage import UsageReport
from .batch.calls import BatchCalls
from .batch.service import BatchService
from .caching import ChatCalls, EmbeddingCalls
from .chat_request import chat_call, check_keywords, takes_arguments_of
from .usage import Accounting, Pricing

if TYPE_CHECKING:
    from ..settings.model import Settings

__all__ = ["Client"]


class Client:
    """One configured connection to a provider; thread-safe, meant to live as long as the process.

    Build it with :func:`llmport.from_env`, :func:`llmport.from_dict`, :func:`llmport.from_file`
    or :func:`llmport.build_client`; close it (or use it as a context manager) at shutdown.
    """

    def __init__(
        self,
        chat: ChatCalls,
        embeddings: EmbeddingCalls,
        *,
        settings: Settings | None = None,
        on_close: Callable[[], None] | None = None,
        container: object | None = None,
        counter: TokenCounter | None = None,
        batch: Callable[[], BatchService] | None = None,
    ) -> None:
        self._chat = chat
        # Made on first use of client.batch: a client that never batches builds nothing for it.
        self._batch = batch
        self._embeddings = embeddings
        self.settings = settings
        # The composition root that built this client, or None. Typed opaquely because services
        # must not depend on the container; llmport.testing reaches it through composition_root().
        self._container = container
        self._on_close = on_close
        self._closed = False
        self._lock = threading.Lock()
        # A with_options() view shares everything with the client it came from (its root).
        self._root = self
        self._options: CallOptions | None = None
        # Every reply is recorded here; a price table, when set, puts a cost on it.
        self._accounting = Accounting(_pricing(settings))
        # The deployment a request without a model goes to, for the per-deployment totals.
        self._chat_model = settings.chat_model if settings else None
        self._embedding_model = settings.embedding_model if settings else None
        from .counting import Counting  # here: ``import llmport`` stays as it was (issue 22)

        self._counting = Counting(
            counter, self._chat_model, self._embedding_model, settings.api if settings else "chat"
        )

    @property
    def usage(self) -> UsageReport:
        """What this client's calls have used so far: tokens, calls and estimated cost.

        A snapshot: totals, and the same per model (``by_model``) and per deployment
        (``by_deployment``). Views from :meth:`with_options` add to their client's totals.
        A call counts when its reply arrives; a stream when it ends, or when it stops early or
        fails after its usage arrived. See the README's "Usage and cost".
        """
        return self._root._accounting.ledger.report()

    @property
    def batch(self) -> BatchCalls:
        """The provider's Batch API behind one call: ``client.batch.chat(prompts, ...)``,
        ``client.batch.embed(texts)``, ``client.batch.resume(job_id)``; see the README's "Batch".

        Raises:
            ConfigurationError: the client was built without a composition root.
        """
        root = self._root
        if root._batch is None:
            raise ConfigurationError(
                "this client was built by hand, without batch support; use build_client()"
            )
        self._check_open()

        def record(model: str, reply: Any) -> Any:
            return root._accounting.reply(model or None, reply, batch=True)

        return BatchCalls(root._batch(), record, root._chat_model, root._embedding_model)

    def reset_usage(self) -> UsageReport:
        """Start the totals again from zero, and return them as they were (in one step: no call is lost)."""
        return self._root._accounting.ledger.report(reset=True)

    @entry
    def with_options(
        self,
        *,
        max_retries: int | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
        cache: bool | None = None,
        cache_namespace: str | None = None,
    ) -> Client:
        """A view of this client whose calls use these options; None keeps the client's setting.

        The view is light: it shares this client's connection pool, token cache, services and
        closed state (no second SDK client, no new connection). Views of views merge their options;
        keyword arguments of a call win over the view's. Closing a view does nothing: close the
        client it came from.

        Args:
            max_retries: retries after the first attempt, for each call.
            timeout: seconds for each socket operation (connect, each read and write) of a call.
            deadline: total seconds for a call: every attempt, wait and stream read.
            headers: sent with every request of the view's calls, over the ``default_headers``
                setting (e.g. ``{"x-ms-client-request-id": ...}``).
            cache: False: the reply cache (the ``cache`` setting) is neither read nor written.
            cache_namespace: the reply cache's namespace, over the ``cache_namespace`` setting.

        Raises:
            ValidationError: a value out of range, or a header name or value that cannot be sent.
        """
        view = copy.copy(self)
        view._options = CallOptions(
            max_retries, deadline, timeout, _as_given(headers), cache, cache_namespace
        ).over(self._options)
        return view

    @entry
    @takes_arguments_of(chat_call)
    def chat(self, prompt: MessagesLike, **options: Any) -> ChatResponse:
        """Send a conversation and return the whole reply.

        Args:
            prompt: a string, Message objects, or OpenAI-style dicts (``{"role", "content"}``).
            system: instructions, sent first as a system message.
            model: the model, or the deployment on Azure; defaults to the configured chat_model.
            temperature, top_p, max_tokens, stop, seed, user: as in the OpenAI API.
            tools, tool_choice: what the model may call (ToolSpec, built-in tools such as McpTool
                on the Responses API, or OpenAI tool dicts), and whether/which it must.
            response_format: JSON mode, a JSON schema, or a class (a pydantic model, a dataclass,
                a TypedDict) whose strict schema is sent and whose instance is ``reply.parsed``.
            extra: provider options llmport does not model, merged into the request body.
            api: ``chat`` or ``responses`` for this call; the client's ``api`` setting by default.
            n: how many choices to generate (chat.completions); all are in ``reply.choices``.
            logprobs, top_logprobs: each token's log probability, and the 0-20 likeliest
                alternatives at each position (``reply.logprobs``).
            parallel_tool_calls: whether the model may call several tools in one turn.
            reasoning: ``Reasoning(effort=..., summary=...)`` for reasoning models (a summary
                needs the Responses API).
            instructions: system instructions (the Responses API's ``instructions``; a leading
                system message on chat.completions).
            previous_response_id: continue the Responses API conversation of that reply
                (``reply.id``).
            store: whether the provider keeps the reply (needed by ``previous_response_id``).
            prompt_cache_key: a key for the provider's own prompt cache: requests sharing a long
                prefix and this key land where that prefix is cached (``usage.cached_tokens``).
            max_retries, timeout, deadline, headers, cache, cache_namespace: for this call only,
                see :meth:`with_options`.

        Raises:
            ValidationError: the input (or a per-call option) is malformed; raised before any
                network call.
            ConfigurationError: no model: neither ``model`` nor the chat_model setting names one.
            ClientClosedError: the client was closed.
            LLMPortError: any other failure, as a subclass that says what happened.
        """
        root, request, call = self._chat_call(prompt, options, "chat")
        response = root._chat.complete(request, call)
        return root._accounting.reply(request.model or root._chat_model, response)

    @entry
    @takes_arguments_of(chat_call)
    def stream(self, prompt: MessagesLike, **options: Any) -> Iterator[ChatChunk]:
        """Send a conversation and yield the reply as it is generated (arguments as :meth:`chat`).

        The request is validated now; it is sent on the first ``next()``. The last chunk carries
        ``finish_reason`` and ``usage``; ``llmport.fold_stream`` turns the chunks into a ChatResponse.

        Raises:
            ValidationError: the input is malformed (raised by this call, not by the first ``next()``).
            ClientClosedError: the client was closed.
            StreamInterruptedError: the stream broke after it had started.
            LLMPortError: any other failure.
        """
        root, request, call = self._chat_call(prompt, options, "stream")
        chunks = root._chat.stream(request, call)
        return bare_failures(root._accounting.stream(request.model or root._chat_model, chunks))

    @entry
    def embed(
        self,
        texts: str | Sequence[str],
        *,
        model: str | None = None,
        dimensions: int | None = None,
        user: str | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
        cache: bool | None = None,
        cache_namespace: str | None = None,
        truncate: bool = False,
    ) -> EmbeddingResponse:
        """Embed texts: any number, sent in batches, vectors returned in input order.

        Args:
            texts: one string or a sequence of non-empty strings.
            model: the model, or the deployment on Azure; defaults to the configured embedding_model.
            dimensions: shorter vectors, on models that support it.
            user: an end-user id for the provider's abuse monitoring.
            truncate: cut an input longer than the model's per-input limit (8,191 tokens on
                OpenAI's embedding models) at a token boundary, instead of raising ValidationError.
            max_retries, timeout, deadline, headers, cache, cache_namespace: for this call only,
                see :meth:`with_options` (the cache is per input).

        Raises:
            ValidationError: an input is empty or not a string, or over the model's per-input
                limit (its index named; nothing sent), or dimensions is out of range.
            ClientClosedError: the client was closed.
            LLMPortError: any other failure.
        """
        self._check_open()
        # Shaping only: EmbeddingRequest checks what is left (None, a dict, numbers...).
        inputs: object = texts
        if isinstance(texts, str):
            inputs = (texts,)
        elif isinstance(texts, Iterable) and not isinstance(texts, (bytes, bytearray, Mapping)):
            inputs = tuple(texts)  # lists, generators, dict views: what tuple() always took
        options = _per_call(self._options, (max_retries, timeout, deadline, headers, cache, cache_namespace))
        root = self._root
        request = EmbeddingRequest(
            _as_given(inputs), model=model, dimensions=dimensions, user=user, truncate=_as_given(truncate)
        )
        response = root._embeddings.embed(request, options)
        return root._accounting.reply(request.model or root._embedding_model, response)

    @entry
    @takes_arguments_of(chat_call)
    def count_tokens(self, prompt: MessagesLike, **options: Any) -> TokenCount:
        """Count the prompt tokens a :meth:`chat` call with these arguments would cost, without sending it.

        The count is what the provider's ``usage.prompt_tokens`` reports: the model's encoding
        (on Azure, the model the ``deployment_models`` setting maps the deployment to), the
        per-message and reply-priming tokens, names, tools, images. ``exact`` says whether it is;
        an unknown model gives an estimate, never an error. The call's own options (``max_retries``,
        ``timeout``...) are taken and ignored. Nothing goes over the network.

        Raises:
            ValidationError: the input is malformed, as :meth:`chat` would say.
            ConfigurationError: no model: neither ``model`` nor the chat_model setting names one.
        """
        self._check_open()
        counting = self._root._counting
        try:
            request, _call = chat_call(prompt, **counting.defaults(options))
        except TypeError:
            check_keywords("Client.count_tokens", options)
            raise
        return counting.chat(request)

    @entry
    def count_embedding_tokens(
        self, texts: str | Sequence[str], *, model: str | None = None
    ) -> TextTokenCounts:
        """Count the tokens of each text as an input of :meth:`embed`, in order, without sending them.

        Args:
            texts: one string or a sequence of non-empty strings.
            model: the model, or the deployment on Azure; defaults to the configured embedding_model.

        Raises:
            ValidationError: an input is empty or not a string.
            ConfigurationError: no model: neither ``model`` nor the embedding_model setting names one.
        """
        self._check_open()
        return self._root._counting.texts(texts, model)

    def after_fork(self) -> None:
        """In a forked child: new locks (a parent thread may have held one); the totals stay."""
        self._lock = threading.Lock()
        self._accounting.ledger.after_fork()

    def _chat_call(
        self, prompt: MessagesLike, options: dict[str, Any], method: str
    ) -> tuple[Client, ChatRequest, CallOptions | None]:
        """The client that serves a chat or stream call (the root), its request and its options."""
        self._check_open()
        try:
            request, call = chat_call(prompt, **options)
        except TypeError:
            check_keywords(f"Client.{method}", options)  # a misspelt keyword is named as Python would
            raise
        return self._root, request, self._options if call is None else call.over(self._options)

    def _check_open(self) -> None:
        # Read without the lock: a call racing close() is the services' and adapters' business.
        if self._root._closed:
            raise ClientClosedError(
                "this llmport client is closed; build a new one (llmport.from_env(), from_dict() or "
                "build_client()) and close it only at shutdown"
            )

    def close(self) -> None:
        """Close the adapters' connections and the credential; calling it again does nothing.

        On a :meth:`with_options` view it does nothing: the view owns none of them.
        """
        if self._root is not self:
            return
        with self._lock:
            # Under the lock: an exit hook and the application may close the same client at once.
            if self._closed:
                return
            self._closed = True
        self._chat.close()
        self._embeddings.close()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        provider = self.settings.provider if self.settings else "custom"
        view = "" if self._options is None else f" {self._options!r}"
        closed = " closed" if self._root._closed else ""
        return f"<llmport.Client provider={provider} pid={os.getpid()}{view}{closed}>"


def _per_call(base: CallOptions | None, given: tuple[Any, ...]) -> CallOptions | None:
    """A call's options (max_retries, timeout, deadline, headers, cache, cache_namespace) over its
    view's (``base``); ``base`` itself when the call sets none."""
    if given.count(None) == len(given):  # a C loop: this runs on every call
        return base
    max_retries, timeout, deadline, headers, cache, cache_namespace = given
    return CallOptions(max_retries, deadline, timeout, _as_given(headers), cache, cache_namespace).over(base)


def _pricing(settings: Settings | None) -> Pricing | None:
    """The client's price table; None when it has none, so that replies cost no lookup."""
    if settings is None or not (settings.prices or settings.deployment_models):
        return None
    return Pricing(settings.prices, settings.deployment_models)


def _as_given(value: object) -> Any:
    """Pass an argument to a domain model as the caller gave it: the model checks and normalises it."""
    return value
