"""Shared by the web integrations: settings from a framework's config, and clients closed at exit."""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Mapping

from ..domain.errors import ConfigurationError
from ..domain.redaction import entry
from ..services.client import Client
from ..settings.model import Settings

__all__ = ["close_at_exit", "close_registered_clients", "settings_from"]

_log = logging.getLogger("llmport.entrypoints")


@entry
def settings_from(value: object, *, source: str) -> Settings:
    """Read settings from a framework's config value, or from the environment when it is absent.

    Args:
        value: None (use the environment), a Settings, or a mapping of setting names to values.
        source: where the value came from (e.g. ``settings.LLMPORT``), named in the error.

    Raises:
        ConfigurationError: the value is neither, or the settings it describes are invalid.
    """
    if value is None:
        return Settings.from_env()
    if isinstance(value, Settings):
        return value
    if isinstance(value, Mapping):
        return Settings.from_dict(value, source=source)
    raise ConfigurationError(
        f"{source} must be a dict of llmport settings (e.g. {{'provider': 'azure_v1', 'endpoint': ...}}), "
        f"got {type(value).__name__}"
    )


class _ExitCloser:
    """Closes every registered client once, at interpreter exit, newest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: list[Client] = []
        self._hooked = False

    def register(self, client: Client) -> None:
        with self._lock:
            if any(known is client for known in self._clients):
                return
            self._clients.append(client)
            if not self._hooked:
                # One hook for all clients, so that repeated app factories do not pile up hooks.
                atexit.register(self.close_all)
                self._hooked = True

    def close_all(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in reversed(clients):
            try:
                client.close()
            except Exception:  # one failing close must not keep the others open
                _log.exception("closing %r at exit failed", client)


_closer = _ExitCloser()


def close_at_exit(client: Client) -> None:
    """Close ``client`` when the interpreter exits; registering the same client again does nothing.

    Closing it earlier is fine: ``Client.close`` is idempotent, so the exit hook does nothing then.

    Args:
        client: the process-wide client a web integration built.
    """
    _closer.register(client)


def close_registered_clients() -> None:
    """Close every client registered with :func:`close_at_exit` now (what the exit hook runs)."""
    _closer.close_all()
