"""A scriptable OpenAI / Azure OpenAI HTTP server on 127.0.0.1 that records what it receives.

It speaks the three URL shapes llmport's adapters use and checks what each expects:

* OpenAI ``/v1/{op}``: ``Authorization: Bearer <api_key>``.
* Azure classic ``/openai/deployments/{deployment}/{op}?api-version=...`` (and
  ``/openai/responses?api-version=...``): ``api-key: <api_key>`` or ``Authorization: Bearer
  <token>``; no api-version gives Azure's 404.
* Azure v1 ``/openai/v1/{op}``: ``api-key`` or ``Authorization: Bearer`` with the key or the
  token; an api-version gives Azure's 400.

A wrong credential gets a 401 in that provider's real error shape. Replies come from a FIFO
queue of :class:`Reply` (``server.script(...)``); when it is empty a deterministic default is
sent (see ``wire_samples.default_reply``). Streams are real chunked SSE and can be cut
mid-body; replies can be delayed; a connection can be reset before any answer. A responder
(``server.respond_with(fn)``) can script replies per request number, e.g. a seeded fault mix
for load tests. Fault-injection and benchmark tests reuse this module; :class:`Listener` is the
HTTP side alone, for servers that decide replies their own way (``quota_server.py``).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from wire_samples import azure_error, default_reply, openai_error

__all__ = ["Listener", "LoopbackServer", "RecordedRequest", "Reply", "Respond"]

_DEPLOYMENT_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<op>.+)$")


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    Args:
        status: the HTTP status.
        body: a JSON-serialisable body (ignored when ``raw`` or ``events`` is set).
        raw: bytes sent verbatim as the body (malformed JSON, HTML error pages...).
        headers: extra response headers (``x-request-id``, ``retry-after-ms``...).
        events: an SSE stream: dicts are sent as ``data: <json>``, strings verbatim after ``data: ``.
        done: end the stream with ``data: [DONE]`` (chat.completions does; Responses does not).
        cut_after: drop the connection after this many events, mid chunked body.
        delay: seconds to wait before answering (client timeouts).
        event_delay: seconds to wait between events.
        reset: send nothing and reset the TCP connection (RST), as a crashed proxy would.
        bare_done: end the stream with a bare ``[DONE]`` line (no ``data: ``), as Microsoft's
            Azure OpenAI API simulator does.
    """

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    events: Sequence[Mapping[str, Any] | str] | None = None
    done: bool = True
    cut_after: int | None = None
    delay: float = 0.0
    event_delay: float = 0.0
    reset: bool = False
    bare_done: bool = False


#: Decides the reply to request number ``index`` (0-based, in arrival order); None defers to the queue.
Responder = Callable[[int, "RecordedRequest"], "Reply | None"]

#: A Listener's whole policy: the reply to one request (called on a server thread).
Respond = Callable[["RecordedRequest"], "Reply"]


@dataclass(frozen=True)
class RecordedRequest:
    """What came over the wire: ``shape`` is openai, azure or azure_v1; ``op`` e.g. chat/completions."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any
    shape: str
    op: str
    deployment: str | None


class LoopbackServer:
    """The server; start it with ``with LoopbackServer() as server:`` or ``start()``/``close()``.

    Args:
        api_key: the key every shape accepts.
        token: the bearer token the Azure shapes accept.
        accept_token: when given, judges bearer tokens instead of comparing them with ``token``
            (e.g. tokens a fake credential numbers, each valid until it expires).
        tls: serve HTTPS with this server-side context (``url`` still says ``http://``).
    """

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        token: str = "test-token",
        accept_token: Callable[[str], bool] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.api_key = api_key
        self.token = token
        self.accept_token = accept_token
        self.requests: list[RecordedRequest] = []
        self._responder: Responder | None = None
        # Set when a client hangs up while a reply is still being written (a stream it dropped).
        self.client_hung_up = threading.Event()
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._listener = Listener(self._respond, on_hang_up=self.client_hung_up.set, tls=tls)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; OpenAI clients want ``url + "/v1"`` (``https://`` with ``tls``)."""
        return f"http://127.0.0.1:{self._listener.port}"

    def start(self) -> LoopbackServer:
        self._listener.start()
        return self

    def close(self) -> None:
        """Stop serving and drop every open connection (clients keep them alive)."""
        self._listener.close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one (default replies once empty)."""
        with self._lock:
            self._replies.extend(replies)

    def respond_with(self, responder: Responder | None) -> None:
        """Let ``responder`` pick the reply to each request before the queue is consulted."""
        with self._lock:
            self._responder = responder

    @property
    def count(self) -> int:
        """How many requests arrived so far."""
        with self._lock:
            return len(self.requests)

    @property
    def last(self) -> RecordedRequest:
        """The most recent request."""
        with self._lock:
            return self.requests[-1]

    # -- request handling (server threads) ------------------------------------------------

    def _respond(self, recorded: RecordedRequest) -> Reply:
        with self._lock:
            index = len(self.requests)
            self.requests.append(recorded)
            responder = self._responder
        reply = self._refusal(recorded)
        if reply is None and responder is not None:
            reply = responder(index, recorded)
        if reply is None:
            with self._lock:
                reply = self._replies.popleft() if self._replies else None
            reply = reply or default_reply(recorded)
        return reply

    def _refusal(self, req: RecordedRequest) -> Reply | None:
        """The provider's own answer to a wrong URL shape, api-version or credential."""
        if req.shape == "unknown":
            return Reply(404, openai_error(f"Invalid URL (POST {req.path})", code=None))
        return _version_refusal(req) or self._auth_refusal(req)

    def _auth_refusal(self, req: RecordedRequest) -> Reply | None:
        auth = req.headers.get("authorization", "")
        bearer = auth[7:] if auth.lower().startswith("bearer ") else None
        if bearer is not None and self.accept_token is not None and self.accept_token(bearer):
            return None
        if req.shape == "openai":
            if bearer == self.api_key:
                return None
            # Like OpenAI, quote a masked fragment of the key: clients must not repeat it.
            shown = f"{bearer[:3]}***{bearer[-2:]}" if bearer else ""
            return Reply(401, openai_error(f"Incorrect API key provided: {shown}.", code="invalid_api_key"))
        bearers = {self.token} if req.shape == "azure" else {self.token, self.api_key}
        if req.headers.get("api-key") == self.api_key or (bearer is not None and bearer in bearers):
            return None
        return Reply(
            401,
            azure_error(
                "401",
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
                "provide a valid key for an active subscription and use a correct regional API "
                "endpoint for your resource.",
            ),
        )


class Listener:
    """Keep-alive HTTP/1.1 on 127.0.0.1: each request read into a :class:`RecordedRequest`, answered
    with the :class:`Reply` that ``respond`` returns, sent as scripted (delay, SSE events, a cut, a reset).

    The port is bound on construction (``port`` and a URL are known before ``start()``); ``close()``
    stops serving and drops every open connection, so that new ones are refused.

    Args:
        respond: the reply to one request; called on a server thread.
        port: where to listen; 0 for a free port.
        on_hang_up: called when a client hangs up while a reply is still being written.
        tls: serve HTTPS with this server-side context (the handshake happens on first read).
    """

    def __init__(
        self,
        respond: Respond,
        *,
        port: int = 0,
        on_hang_up: Callable[[], None] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._respond = respond
        self._on_hang_up = on_hang_up
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.owner = self
        if tls is not None:
            # In the handler's thread, on first read, not in the accept loop.
            self._httpd.socket = tls.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        """The port listened on."""
        return int(self._httpd.server_address[1])

    def start(self) -> Listener:
        """Serve on a daemon thread."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and drop every open connection (clients keep them alive)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            _hard_close(conn)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _serve(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        shape, op, deployment = _route(split.path)
        recorded = RecordedRequest(
            method=handler.command,
            path=split.path,
            query={k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            shape=shape,
            op=op,
            deployment=deployment,
        )
        reply = self._respond(recorded)
        if reply.reset:
            handler.close_connection = True
            _reset(handler.connection)
            return
        try:
            _send(handler, reply)
        except (BrokenPipeError, ConnectionResetError):
            if self._on_hang_up is not None:
                self._on_hang_up()
            handler.close_connection = True


def _version_refusal(req: RecordedRequest) -> Reply | None:
    version = req.query.get("api-version")
    if req.shape == "azure" and not version:
        return Reply(404, azure_error("404", "Resource not found"))
    if req.shape == "azure_v1" and version is not None:
        message = "api-version query parameter is not allowed when using /v1 path"
        return Reply(400, azure_error("BadRequest", message))
    return None


def _route(path: str) -> tuple[str, str, str | None]:
    match = _DEPLOYMENT_PATH.match(path)
    if match:
        return "azure", match["op"], match["deployment"]
    if path.startswith("/openai/v1/"):
        return "azure_v1", path.removeprefix("/openai/v1/"), None
    if path.startswith("/openai/"):
        return "azure", path.removeprefix("/openai/"), None
    if path.startswith("/v1/"):
        return "openai", path.removeprefix("/v1/"), None
    return "unknown", path, None


def _send(handler: _Handler, reply: Reply) -> None:
    if reply.delay:
        time.sleep(reply.delay)
    handler.send_response(reply.status)
    headers = {"x-request-id": "req-loopback", **reply.headers}
    for name, value in headers.items():
        handler.send_header(name, value)
    if reply.events is None:
        payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
        handler.wfile.flush()
        return
    handler.send_header("content-type", "text/event-stream")
    handler.send_header("transfer-encoding", "chunked")
    handler.end_headers()
    events: list[Mapping[str, Any] | str] = list(reply.events)
    if reply.done:
        events.append("[DONE]")
    for index, event in enumerate(events):
        if reply.cut_after is not None and index == reply.cut_after:
            # A body cut mid-stream: the chunked encoding never terminates.
            handler.wfile.flush()
            handler.close_connection = True
            _hard_close(handler.connection)
            return
        data = event if isinstance(event, str) else json.dumps(event)
        frame = f"data: {data}\n\n".encode()
        if reply.bare_done and data == "[DONE]":
            frame = b"[DONE]\n\n"
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
        handler.wfile.flush()
        if reply.event_delay:
            time.sleep(reply.event_delay)
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()


def _hard_close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()


def _reset(conn: socket.socket) -> None:
    # SO_LINGER on with a zero timeout makes close() send RST instead of FIN.
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Listener

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or close early make writes fail; that is the test's point.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as with the real services
    disable_nagle_algorithm = True  # small SSE frames must leave at once
    server: _Server

    def version_string(self) -> str:
        # The same on every Python: a recorded cassette does not change with the interpreter.
        return "loopback"

    def setup(self) -> None:
        super().setup()
        with self.server.owner._lock:
            self.server.owner._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.owner._lock:
                self.server.owner._connections.discard(self.connection)

    def do_POST(self) -> None:
        self.server.owner._serve(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean
