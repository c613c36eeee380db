"""The one TLS context that every SDK client llmport builds shares (a user's own http_client keeps its own).

httpx builds a new ``ssl.SSLContext`` for every client, and loading the trust store into it is
most of what building a client costs (about 20 ms and 0.8 MiB each with the system bundle): a
client over 1,000 deployments took 47 s and 880 MiB. The context is built as httpx would build it
(``httpx2.create_ssl_context()``: ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` when set, else the system
store, truststore on Windows and macOS; verification on), on the first build, then shared.

Sharing is safe: an ``SSLContext`` is thread-safe, holds no connection, and survives ``os.fork()``
as plain memory (the connection pools, which must not cross a fork, stay one per SDK client and
are rebuilt in a child). httpcore sets the ALPN list on the context before each handshake; every
client built here speaks HTTP/1.1 only, so they all set the same list.
"""

from __future__ import annotations

import os
import ssl

import httpx2

__all__ = ["shared_ssl_context"]

#: Contexts by the (SSL_CERT_FILE, SSL_CERT_DIR) they were built under; one entry in practice.
_CONTEXTS: dict[tuple[str | None, str | None], ssl.SSLContext] = {}


def shared_ssl_context() -> ssl.SSLContext:
    """The process's TLS context for llmport's own HTTP clients, built on first use.

    httpx reads ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` each time it builds a client; so does this,
    so that a variable set before a build is honoured as it was before the context was shared.
    No lock: two threads building the first clients at once may each load the store, and one
    context wins; nothing can be left held across a fork.
    """
    key = (os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None)
    context = _CONTEXTS.get(key)
    if context is None:
        context = _CONTEXTS.setdefault(key, httpx2.create_ssl_context(verify=True, trust_env=True))
    return context
