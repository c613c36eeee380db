"""Free TCP ports on 127.0.0.1, for servers the tests start and for addresses nothing listens on."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago: the probe socket is closed before returning.

    Nothing listens on it afterwards, so it also serves as a "connection refused" address; a server
    started on it may, rarely, lose a race with another process.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
