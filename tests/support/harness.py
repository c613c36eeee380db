"""Clients wired to the loopback by the real container, with time, randomness and credentials injected."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clock import FakeClock
from dependency_injector import providers
from loopback import LoopbackServer

from llmport import Client, Settings, build_client
from llmport.adapters.fakes import FakeCredential
from llmport.domain.models import AccessToken
from llmport.testing import Container

PROVIDERS = ("openai", "azure", "azure_v1")
CHAT_MODEL = "gpt-4o-mini"  # the deployment name on Azure
EMBEDDING_MODEL = "text-embedding-3-small"
API_VERSION = "2024-10-21"
# What a fixed rand of 0.5 makes of full jitter with the default policy: half of 0.5 s, then of 1 s.
JITTER = 0.5
JITTER_WAITS = (0.25, 0.5)


# The names these clocks had before tests/support/clock.py: kept for the tests that import them.
FakeTime = FakeClock


class WallClock(FakeClock):
    """Seconds since the epoch for the token cache and the credential: a FakeClock from 2023-11-14."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        super().__init__(start)


@dataclass
class Wiring:
    """A client and the fakes injected into it."""

    client: Client
    time: FakeClock
    wall: WallClock
    credential: FakeCredential | TokenLedger | None
    settings: Settings


def shaped(url: str, provider: str, **values: Any) -> Settings:
    """Settings for a server at ``url`` in ``provider``'s URL shape, with the test models and ``values``."""
    where: dict[str, Any] = {
        "provider": provider,
        "chat_model": CHAT_MODEL,
        "embedding_model": EMBEDDING_MODEL,
    }
    if provider == "openai":
        where["base_url"] = f"{url}/v1"
    else:
        where["endpoint"] = url if provider == "azure" else f"{url}/openai/v1"
    if provider == "azure":
        where["api_version"] = API_VERSION
    return Settings(**where, **values)


@contextmanager
def debug_log_lines(loggers: Iterable[str]) -> Iterator[list[str]]:
    """The root logger and ``loggers`` at DEBUG while the block runs; every record kept as text."""
    handler = _Lines()
    saved = {name: logging.getLogger(name).level for name in loggers}
    logging.getLogger().addHandler(handler)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        logging.getLogger().removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


class _Lines(logging.Handler):
    """Every record as its final text (message, and traceback when there is one)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def settings_for(server: LoopbackServer, provider: str, *, auth: str = "key", **options: Any) -> Settings:
    """Settings reaching ``server`` with ``provider``'s URL shape; ``auth`` is key or entra."""
    values: dict[str, Any] = {}
    if auth == "key":
        values["api_key"] = server.api_key
    else:
        values["auth"] = "entra"
    values.update(options)
    return shaped(server.url, provider, **values)


def raw_settings(url: str, provider: str, **options: Any) -> Settings:
    """Settings for a raw server at ``url`` (any path answers): real time, a 2 s deadline, a 1 s timeout."""
    values: dict[str, Any] = {"api_key": "k" * 32, "timeout": 1.0, "deadline": 2.0, "max_retries": 2}
    return shaped(url, provider, **{**values, **options})


def wire(
    server: LoopbackServer,
    provider: str,
    *,
    auth: str = "key",
    credential: FakeCredential | TokenLedger | None = None,
    sleep: Callable[[float], None] | None = None,
    rand: float = JITTER,
    wall: WallClock | None = None,
    **options: Any,
) -> Wiring:
    """Build a real client (real adapters, real SDK, real HTTP) with time and randomness injected.

    With ``auth="entra"`` the credential is a FakeCredential on ``wall`` (or the one given),
    behind the container's real TokenCache.
    """
    settings = settings_for(server, provider, auth=auth, **options)
    time = FakeClock(1_000.0)
    wall = wall or WallClock()
    container = Container(settings=settings)
    container.sleep.override(providers.Object(sleep or time.sleep))
    container.clock.override(providers.Object(time))
    container.wall_clock.override(providers.Object(wall))
    container.rand.override(providers.Object(lambda: rand))
    if auth != "key":
        credential = credential or FakeCredential(clock=wall)
        container.credential.override(providers.Object(credential))
    return Wiring(build_client(settings, container), time, wall, credential, settings)


class TokenLedger:
    """A CredentialPort around a FakeCredential that remembers each token's expiry, and judges
    at the loopback whether a token it sees is one of them and still valid. Thread-safe.

    Args:
        credential: where tokens come from.
        wall: the clock both the token cache and the judge read.
    """

    def __init__(self, credential: FakeCredential, wall: WallClock) -> None:
        self._credential = credential
        self._wall = wall
        self._lock = threading.Lock()
        self.expiry: dict[str, float] = {}
        #: The least lifetime left on a token when the server received it.
        self.least_remaining = float("inf")
        self.rejected = 0

    @property
    def calls(self) -> int:
        return self._credential.calls

    def get_token(self, *scopes: str) -> AccessToken:
        token = self._credential.get_token(*scopes)
        with self._lock:
            self.expiry[token.token] = token.expires_on
        return token

    def accept(self, token: str) -> bool:
        now = self._wall()
        with self._lock:
            expires_on = self.expiry.get(token)
            if expires_on is None or expires_on <= now:
                self.rejected += 1
                return False
            self.least_remaining = min(self.least_remaining, expires_on - now)
            return True


def client_sockets(port: int) -> int:
    """Open TCP sockets of this process whose peer is 127.0.0.1:``port`` (the client side only)."""
    inodes = set()
    fd_dir = Path("/proc/self/fd")
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(fd_dir / fd)
        except OSError:  # closed between listdir and readlink
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            state = fields[3]
            # 0A is LISTEN; everything else to our server's port is a client connection or its remains.
            if remote_port == port and state != "0A" and fields[9] in inodes:
                count += 1
    return count
