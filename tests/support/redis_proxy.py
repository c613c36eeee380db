"""A TCP proxy on 127.0.0.1 in front of a redis-server that delays or swallows its replies.

``delay`` holds every reply back that many seconds (a slow Redis, or a busy host); ``stalled``
accepts connections and never answers (a Redis hung on a long command, a dead network path).
Both can change while clients are connected. ``close()`` ends every connection.

``round_trips`` counts the round trips clients made through it: on each connection, what a client
sends after Redis last answered it is one round trip, however many commands it pipelines and
however many pieces the network cuts it into (a client waits for a reply before its next one).
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time

__all__ = ["RedisProxy"]


class RedisProxy:
    """``with RedisProxy(upstream_port, delay=0.4) as proxy:`` then point clients at ``proxy.url``."""

    def __init__(self, upstream_port: int | None, *, delay: float = 0.0, stalled: bool = False) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self.stalled = stalled
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # accept() wakes to see close()
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        self._round_trips = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def round_trips(self) -> int:
        """The round trips every client made through the proxy so far (see the module)."""
        with self._lock:
            return self._round_trips

    def _asked(self, turn: list[bool]) -> None:
        # A client's bytes: a new round trip when Redis answered since it last sent.
        with self._lock:
            if turn[0]:
                turn[0] = False
                self._round_trips += 1

    def start(self) -> RedisProxy:
        self._thread.start()
        return self

    def __enter__(self) -> RedisProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                self._sockets.append(client)
            if self.upstream_port is None:
                continue  # no server behind: the connection is accepted and never answered
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.append(upstream)
            turn = [True]  # whether the client's next bytes start a round trip
            threading.Thread(target=self._pump, args=(client, upstream, False, turn), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True, turn), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, replies: bool, turn: list[bool]) -> None:
        """Forward ``source`` to ``target``; replies each ``delay`` after they came (not one after
        another: a reply Redis wrote in two pieces is late once), or never while ``stalled``."""
        late: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
        if replies:
            threading.Thread(target=self._deliver, args=(late, target), daemon=True).start()
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if not replies:
                    self._asked(turn)
                    target.sendall(data)
                    continue
                turn[0] = True  # Redis answered: the client's next bytes are a new round trip
                if not self.stalled:  # stalled: read and dropped, the client waits for ever
                    late.put((time.monotonic() + self.delay, data))
        except OSError:
            pass
        finally:
            late.put(None)
            if not replies:
                _shut(source, target)

    def _deliver(self, late: queue.Queue[tuple[float, bytes] | None], target: socket.socket) -> None:
        try:
            while (item := late.get()) is not None:
                due, data = item
                time.sleep(max(0.0, due - time.monotonic()))
                target.sendall(data)
        except OSError:
            pass
        _shut(target)


def _shut(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
