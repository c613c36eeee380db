"""Every private name of httpx2 and httpcore2 that llmport relies on, and nowhere else.

httpx gives no public way to hand its connection pools a network backend, nor to reach the
transports a client built for itself (the default one and one per proxy); llmport needs both to
bound every socket wait by the call's deadline (``transport.py``). So it reads and writes these:

* ``httpx2.Client._init_transport`` and ``._init_proxy_transport``: overridden, so that every
  transport a client builds (its proxies' from the environment included) is one of ours;
* ``httpx2.Client._transport`` and ``._mounts``: a user's client's transports;
* ``httpx2.HTTPTransport._pool``: the transport's httpcore pool (or proxy pool);
* ``httpcore2.ConnectionPool._network_backend`` (and its proxy subclasses'): the backend it
  connects with.

httpx2 and httpcore2 are released together (httpx2 pins httpcore2 exactly), so their names are
kept here together. Each use goes through this module, which raises a ConfigurationError naming
the attribute and the installed version when one is gone (a release outside the pins);
``check()`` looks at all of them, and ``tests/unit/test_httpx_private.py`` runs it.
``pyproject.toml`` pins both to the releases it ran on (``TESTED``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import httpcore2
import httpx2
import openai

from ....domain.errors import ConfigurationError

__all__ = [
    "TESTED",
    "TransportBuildingClient",
    "check",
    "client_transports",
    "network_backend",
    "set_network_backend",
]

#: The releases whose private names this module was tested against (pyproject.toml says the same).
TESTED = ">=2.14,<2.18"


def _changed(library: str, owner: str, name: str) -> ConfigurationError:
    """What a renamed private name is reported as: the library, its version, the name, the fix."""
    version = getattr(httpx2 if library == "httpx2" else httpcore2, "__version__", "?")
    return ConfigurationError(
        f"{library} {version} has no {owner}.{name}, which llmport uses to bound each request by the "
        f"call's deadline and max_response_bytes (adapters/llm/wire/_httpx_private.py); llmport is "
        f"tested with {library}{TESTED}: install a release in that range"
    )


def _get(obj: object, library: str, owner: str, name: str) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError:
        raise _changed(library, owner, name) from None


def _pool(transport: httpx2.HTTPTransport) -> Any:
    return _get(transport, "httpx2", "HTTPTransport", "_pool")


def network_backend(transport: httpx2.HTTPTransport) -> httpcore2.NetworkBackend:
    """The network backend the connection pool of httpx's ``transport`` connects with.

    Raises:
        ConfigurationError: the installed httpx2 or httpcore2 renamed the attribute.
    """
    backend: httpcore2.NetworkBackend = _get(
        _pool(transport), "httpcore2", "ConnectionPool", "_network_backend"
    )
    return backend


def set_network_backend(transport: httpx2.HTTPTransport, backend: httpcore2.NetworkBackend) -> None:
    """Make the connection pool of httpx's ``transport`` connect with ``backend`` from now on.

    Raises:
        ConfigurationError: the installed httpx2 or httpcore2 renamed the attribute.
    """
    pool = _pool(transport)
    network_backend(transport)  # a write alone would add the attribute silently under a renamed one
    pool._network_backend = backend


def client_transports(client: httpx2.Client) -> list[httpx2.BaseTransport]:
    """The transports ``client`` sends through: its default one, then each mount's (proxies).

    Raises:
        ConfigurationError: the installed httpx2 renamed ``Client._transport`` or ``._mounts``.
    """
    default: httpx2.BaseTransport = _get(client, "httpx2", "Client", "_transport")
    mounts: dict[Any, httpx2.BaseTransport | None] = _get(client, "httpx2", "Client", "_mounts")
    return [default, *(transport for transport in mounts.values() if transport is not None)]


class TransportBuildingClient(openai.DefaultHttpxClient):
    """The SDK's default httpx client, whose every transport is built by ``make_transport``.

    httpx builds its transports through two private methods (with keyword arguments), the proxy
    ones from the environment included; overriding them is the only way no transport escapes.
    A subclass sets ``make_transport``; ``check()`` proves the methods still exist.
    """

    #: Called with httpx's transport options (``verify``, ``limits``, ``proxy``...).
    make_transport: ClassVar[Callable[..., httpx2.BaseTransport]]

    def _init_transport(  # type: ignore[override]  # httpx passes these by keyword only
        self, transport: httpx2.BaseTransport | None = None, **options: Any
    ) -> httpx2.BaseTransport:
        return transport or type(self).make_transport(**options)

    def _init_proxy_transport(  # type: ignore[override]  # httpx passes these by keyword only
        self, proxy: httpx2.Proxy, **options: Any
    ) -> httpx2.BaseTransport:
        return type(self).make_transport(proxy=proxy, **options)


def check() -> None:
    """Look at every private name this module uses on the installed httpx2 and httpcore2.

    Builds (and closes) a client with a proxy, as ``TransportBuildingClient``, without any I/O:
    every transport it sends through must be one ``make_transport`` built, each with a backend.

    Raises:
        ConfigurationError: one of them is gone, named with the installed version.
    """
    built: list[httpx2.BaseTransport] = []

    def make_transport(**options: Any) -> httpx2.BaseTransport:
        built.append(httpx2.HTTPTransport(**options))
        return built[-1]

    probe = type("Probe", (TransportBuildingClient,), {"make_transport": staticmethod(make_transport)})
    client = probe(proxy="http://127.0.0.1:9", trust_env=False)
    try:
        default, *proxies = client_transports(client)
        if default not in built:
            raise _changed("httpx2", "Client", "_init_transport")
        if len(proxies) != 1 or proxies[0] not in built:
            raise _changed("httpx2", "Client", "_init_proxy_transport")
        for transport in built:
            assert isinstance(transport, httpx2.HTTPTransport)
            network_backend(transport)
    finally:
        client.close()
