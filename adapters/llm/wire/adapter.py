"""What the three adapters share: chat, streaming and embeddings over an openai SDK client."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import httpx2
import openai

from ....domain.call_options import CallOptions, current_call_options
from ....domain.errors import (
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    LLMPortError,
    ProviderError,
    ValidationError,
)
from ....domain.models import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
)
from .chat import chat_body, parse_chat
from .chat_stream import ChatStreamReader
from .embeddings import embedding_body, iter_sse, parse_embeddings
from .errors import Redactor, error_from_body, request_id_of, translated, unchained
from .max_tokens import MaxTokensChoice
from .rate_limits import rate_hint_of_reply
from .responses import parse_response, responses_body
from .responses_stream import ResponsesStreamReader
from .sdk_setup import Api, MakeClient, MaxTokensField
from .stream_steps import drain, next_chunk
from .transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    HttpClientSource,
    RequestLimits,
    guard_user_client,
    guarded_http_client,
    limits_scope,
)

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "HttpClientSource", "WireAdapter"]

T = TypeVar("T")

# What a body that is not the JSON we expect raises while we read it.
_MALFORMED = (LookupError, TypeError, ValueError, AttributeError)


class WireAdapter:
    """Chat and embeddings on any OpenAI-shaped endpoint, through one long-lived SDK client.

    Requests are posted as JSON built by llmport (``client.post(..., cast_to=httpx2.Response)``)
    and the replies are read as JSON into the domain models: the SDK still owns auth, URLs,
    api-version, timeouts and HTTP status errors, but neither its per-call request transform nor
    its pydantic models sit on the hot path.

    Every request runs under :class:`RequestLimits`: the current call's deadline bounds each
    socket wait (so a call ends by its deadline however slowly the server drips), and at most
    ``max_response_bytes`` are read. After ``os.fork()`` (``after_fork``) the child builds its own
    SDK client on first use and never touches the parent's pooled connections.

    A call's own options (``llmport.domain.call_options``: a timeout, headers) go with its
    requests as the SDK's per-request ``options``. An ``http_client`` given by the user (proxy,
    custom CA, mTLS) is put under the same limits (``guard_user_client``) and never closed here:
    its owner closes it. Since its pooled sockets are the parent's after a fork, a forked child
    cannot use it: there a call raises ConfigurationError, unless ``http_client`` is a callable
    that makes the client, which the child then calls for its own.
    """

    provider: str

    def __init__(
        self,
        make_client: MakeClient,
        *,
        provider: str,
        api: Api,
        timeout: float,
        redactor: Redactor,
        max_tokens_field: MaxTokensField = "auto",
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        http_client: HttpClientSource | None = None,
    ) -> None:
        if api not in ("chat", "responses"):
            raise ConfigurationError(f"api must be 'chat' or 'responses', got {api!r}")
        if max_tokens_field not in ("auto", "max_tokens", "max_completion_tokens"):
            raise ConfigurationError(
                "max_tokens_field must be auto, max_tokens or max_completion_tokens, "
                f"got {max_tokens_field!r}"
            )
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1024
        ):
            raise ConfigurationError(f"max_response_bytes must be an int >= 1024, got {max_response_bytes!r}")
        self.provider = provider
        self._make_client = make_client
        self._timeout = timeout
        self._redactor = redactor
        self._api = api
        self._max_tokens = MaxTokensChoice(max_tokens_field, provider)
        self._max_response_bytes = max_response_bytes
        self._closed = False
        self._lock = threading.Lock()
        self._pid = os.getpid()
        #: The deployment a router knows this adapter as, named on its replies (None: not routed).
        self.deployment_name: str | None = None
        # A user's client object belongs to the process that made it, and to the user.
        if http_client is not None and (isinstance(http_client, httpx2.Client) or not callable(http_client)):
            http_client = guard_user_client(http_client)
        self._http_client = http_client
        self._http_client_pid = self._pid
        self._client: openai.OpenAI | None = self._new_client()

    def _new_client(self) -> openai.OpenAI:
        source = self._http_client
        if source is None:
            return self._make_client(guarded_http_client(self._timeout))
        if callable(source) and not isinstance(source, httpx2.Client):
            return self._make_client(guard_user_client(source()))
        if self._http_client_pid != os.getpid():
            raise ConfigurationError(
                "this client was given an http_client object before os.fork(); its pooled connections "
                "are the parent's, so the child cannot use it: pass http_client=a callable returning a "
                "new httpx2.Client (each process then makes its own), or build the client after the fork",
                provider=self.provider,
            )
        return self._make_client(source)

    def _sdk(self) -> openai.OpenAI:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._closed:
                raise ClientClosedError("the client is closed; build a new one", provider=self.provider)
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def after_fork(self) -> None:
        """In a forked child: forget the parent's SDK client and its sockets; build anew on first use.

        The parent's client is dropped, not closed: its connections are the parent's, still in use there.
        """
        self._lock = threading.Lock()
        self._client = None
        self._pid = os.getpid()

    def _post(
        self, path: str, body: dict[str, Any], limits: RequestLimits, *, stream: bool = False
    ) -> httpx2.Response:
        resent: dict[str, Any] | None = None
        try:
            return self._post_once(path, body, limits, stream=stream)
        except BadRequestError as error:
            if path == "/chat/completions":
                resent = self._max_tokens.switched(body, error, self.deployment_name)
            if resent is None:
                raise
        # The deployment refused max_tokens and named max_completion_tokens: once more, with that.
        return self._post_once(path, resent, limits, stream=stream)

    def _post_once(
        self, path: str, body: dict[str, Any], limits: RequestLimits, *, stream: bool
    ) -> httpx2.Response:
        client = self._sdk()
        options = current_call_options()

        def send() -> httpx2.Response:
            with limits_scope(limits):
                if options is None:
                    return client.post(path, cast_to=httpx2.Response, body=body, stream=stream)
                return client.post(
                    path,
                    cast_to=httpx2.Response,
                    body=body,
                    stream=stream,
                    options=self._sdk_options(options),
                )

        try:
            return translated(send, self.provider, self._redactor)
        except LLMPortError:
            if not self._closed:
                raise
        # close() ran while this call was under way and took its connection with it.
        raise ClientClosedError(
            "the client was closed during this call; build a new one", provider=self.provider
        )

    def _sdk_options(self, options: CallOptions) -> Any:
        """A call's timeout and headers as the SDK's per-request options."""
        sdk: dict[str, Any] = {}
        if options.timeout is not None:
            sdk["timeout"] = options.timeout
        if options.headers:
            for secret in options.headers.secrets():
                self._redactor.add(secret)
            sdk["headers"] = dict(options.headers)
        return sdk

    def _reply(self, path: str, body: dict[str, Any], parse: Callable[[Any, str | None, str | None], T]) -> T:
        response = self._post(path, body, RequestLimits.for_attempt(self._max_response_bytes))
        request_id, apim_request_id = self._request_ids(response.headers)
        data = self._parsed(partial(json.loads, response.content), request_id)
        if (
            isinstance(data, dict)
            and data.get("error")
            and not (data.get("choices") or data.get("output") or data.get("data"))
        ):
            # Some gateways and OpenAI-compatible servers answer 200 with only an error inside.
            raise error_from_body(data, None, self.provider, self._redactor, request_id)
        reply = self._parsed(partial(parse, data, request_id, apim_request_id), request_id)
        hint = rate_hint_of_reply(response.headers)
        if hint is not None:
            _attach(reply, "rate_limits", hint)
        if self.deployment_name is not None:
            _attach(reply, "deployment", self.deployment_name)
        return reply

    def _request_ids(self, headers: Any) -> tuple[str | None, str | None]:
        """The request id callers quote (x-request-id, else apim-request-id), and APIM's own."""
        apim = headers.get("apim-request-id")
        return (
            self._redactor.request_id(request_id_of(headers)),
            self._redactor.request_id(apim),
        )

    def _parsed(self, parse: Callable[[], T], request_id: str | None) -> T:
        """Return ``parse()``; a body that is not the JSON expected becomes ProviderError, unchained."""
        try:
            return parse()
        except ValidationError:
            pass  # a reply our models refuse is as malformed as one that is not JSON
        except LLMPortError as error:
            # What the reply says went wrong (a content filter, a failed response), from our parsers.
            error.provider = error.provider or self.provider
            error.request_id = error.request_id or request_id
            raise unchained(self._redactor.scrub(error)) from None
        except _MALFORMED:
            pass
        raise ProviderError(
            "the provider's reply is not the JSON expected", provider=self.provider, request_id=request_id
        )

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send a chat request and return the whole reply.

        Raises:
            ConfigurationError: the request has no model (set chat_model).
            ContentFilteredError: the provider's filter refused the prompt or withheld the reply.
            RequestTimeoutError: the call's deadline passed (or a socket timed out).
            ResponseTooLargeError: the reply passed max_response_bytes.
            LLMPortError: the domain error for any other failure.
        """
        api, path, body = self._chat_request(request, stream=False)
        fmt = request.response_format
        parser = None if fmt is None else fmt.parser
        parse = parse_response if api == "responses" else parse_chat
        return self._reply(
            path, body, lambda data, rid, apim: parse(data, rid, apim_request_id=apim, parser=parser)
        )

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Yield the reply as it comes; nothing is sent until the first ``next()``.

        The whole stream runs under the deadline of the call that opened it. The HTTP response
        is released when the stream ends, fails, or the caller stops early.

        Raises:
            StreamInterruptedError: the stream broke, sent a malformed event, ended early, or
                outlived the call's deadline.
            ContentFilteredError: the filter withheld the rest of the reply.
            LLMPortError: the domain error for a failure before the first event.
        """
        api, path, body = self._chat_request(request, stream=True)
        limits = RequestLimits.for_attempt(self._max_response_bytes)
        response = self._post(path, body, limits, stream=True)
        request_id, apim_request_id = self._request_ids(response.headers)
        parser = None if request.response_format is None else request.response_format.parser
        reader: ChatStreamReader | ResponsesStreamReader = (
            ResponsesStreamReader(request_id, apim_request_id, parser)
            if api == "responses"
            else ChatStreamReader(request_id, apim_request_id, parser)
        )
        # Until a chunk is handed out, a broken connection is like one under complete(): the
        # retry policy may try again; after it, a retry would repeat text, so it is final.
        started = False
        hint = rate_hint_of_reply(response.headers)
        deployment = self.deployment_name
        try:
            events = iter_sse(response.iter_lines())
            step = partial(next_chunk, events, reader, request_id, limits)
            while True:
                # Each step is translated on its own so that the yield stays outside: what the
                # consumer does is not a provider failure.
                chunk, finished = translated(
                    step,
                    self.provider,
                    self._redactor,
                    request_id=request_id,
                    streaming=True,
                    chunks_sent=started,
                )
                if chunk is not None:
                    if not started and hint is not None:
                        _attach(chunk, "rate_limits", hint)
                    if deployment is not None:
                        _attach(chunk, "deployment", deployment)
                    started = True
                    yield chunk
                if finished:
                    drain(events, limits)
                    return
        finally:
            response.close()

    def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embed the inputs in one request; vectors come back in input order.

        Raises:
            ConfigurationError: the request has no model (set embedding_model).
            LLMPortError: the domain error for any failure.
        """
        model = _model(request.model, "embedding_model")
        count = len(request.inputs)
        return self._reply(
            "/embeddings",
            embedding_body(request, model),
            lambda data, rid, apim: parse_embeddings(data, count, rid, apim),
        )

    def close(self) -> None:
        """Close the SDK client and its connection pool; calling it twice is harmless.

        Calls started later raise ClientClosedError; calls in flight fail with it.
        """
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        # A user's http_client object is theirs to close; clients made here (or by their factory) are ours.
        if (
            client is not None
            and self._pid == os.getpid()
            and not isinstance(self._http_client, httpx2.Client)
        ):
            client.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r}, api={self._api!r})"

    def _chat_request(self, request: ChatRequest, *, stream: bool) -> tuple[Api, str, dict[str, Any]]:
        model = _model(request.model, "chat_model")
        api = request.api or self._api
        if api == "responses":
            return api, "/responses", responses_body(request, model, stream=stream)
        return (
            api,
            "/chat/completions",
            chat_body(request, model, stream=stream, max_tokens_field=self._max_tokens.field(model)),
        )


def _model(model: str | None, setting: str) -> str:
    if not model:
        raise ConfigurationError(
            f"no model given: set {setting} (the model, or the deployment name on Azure)"
        )
    return model


def _attach(reply: object, name: str, value: object) -> None:
    """Set a field of a reply just parsed, not yet handed out (frozen: a copy would validate it again)."""
    object.__setattr__(reply, name, value)
