"""A real redis-server on 127.0.0.1 for the tests: a free port, no persistence, stopped afterwards.

``bash .ci/servers`` (run by ``.ci/run``) installs Debian's ``redis-server``; where it is missing,
tests that need it skip with :data:`SKIP_REASON`. ``stop()`` and ``start()`` again on the same port
play an outage.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

from ports import free_port

__all__ = ["BINARY", "SKIP_REASON", "RedisServer", "free_port"]  # free_port: ports.py's, as before

BINARY = shutil.which("redis-server")
SKIP_REASON = "needs redis-server: run `bash .ci/servers` (Debian's redis-server), or put one on PATH"


class RedisServer:
    """``with RedisServer() as server:`` runs ``redis-server`` until the block ends."""

    def __init__(self, port: int | None = None, *, options: tuple[str, ...] = ()) -> None:
        if BINARY is None:
            raise RuntimeError(SKIP_REASON)
        self.port = port or free_port()
        self.options = options  # more of redis-server's flags, e.g. ("--requirepass", "s3cret")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        assert BINARY is not None
        port, bind = ["--port", str(self.port)], ["--bind", "127.0.0.1"]
        command = [BINARY, *port, *bind, "--save", "", "--appendonly", "no", *self.options]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.ping():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.02)
        return self

    def ping(self) -> bool:
        """Whether the server answers PING (a raw RESP exchange: no client library needed)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"*1\r\n$4\r\nPING\r\n")
                return conn.recv(16).startswith((b"+PONG", b"-NOAUTH"))  # up, with a password or not
        except OSError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
