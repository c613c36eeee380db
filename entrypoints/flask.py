"""Flask extension: one llmport Client per app and process, domain errors as JSON responses."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, has_app_context, jsonify

from ..container.root import build_client
from ..domain.errors import LLMPortError
from ..services.client import Client
from .http_errors import error_response
from .inbound import close_at_exit, settings_from

__all__ = ["EXTENSION_KEY", "LLMPort", "get_client", "handle_llmport_error"]

#: Where the client lives: ``app.extensions["llmport"]``.
EXTENSION_KEY = "llmport"

_log = logging.getLogger("llmport.entrypoints.flask")


class LLMPort:
    """The Flask extension; supports the app-factory pattern.

    ``LLMPort(app)`` or ``ext = LLMPort()`` then ``ext.init_app(app)``. Settings come from
    ``app.config["LLMPORT"]`` (a dict of setting names, or a Settings) or, without it, from the
    environment. The client is built once in ``init_app``, stored at ``app.extensions["llmport"]``
    and closed when the process exits.

    Args:
        app: an app to initialise now.
        error_handler: also turn llmport errors into JSON responses (see :func:`handle_llmport_error`);
            the default for every ``init_app`` call of this extension.

    Raises:
        ConfigurationError: the settings are missing or invalid (when ``app`` is given).
    """

    def __init__(self, app: Flask | None = None, *, error_handler: bool = False) -> None:
        self.error_handler = error_handler
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, error_handler: bool | None = None) -> None:
        """Build the app's client and register it (and, optionally, the error handler).

        Args:
            app: the Flask application.
            error_handler: register :func:`handle_llmport_error` for llmport errors; None uses the
                extension's default.

        Raises:
            RuntimeError: llmport is already initialised on this app.
            ConfigurationError: the settings are missing or invalid; the message says what to fix.
        """
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(f"llmport is already initialised on the Flask app {app.name!r}")
        settings = settings_from(app.config.get("LLMPORT"), source='app.config["LLMPORT"]')
        client = build_client(settings)
        app.extensions[EXTENSION_KEY] = client
        close_at_exit(client)
        if self.error_handler if error_handler is None else error_handler:
            app.register_error_handler(LLMPortError, handle_llmport_error)

    @property
    def client(self) -> Client:
        """The current app's client (see :func:`get_client`)."""
        return get_client()


def get_client() -> Client:
    """Return the client of the current Flask app.

    Raises:
        RuntimeError: there is no application context, or llmport was not initialised on the app.
    """
    if not has_app_context():
        raise RuntimeError(
            "llmport.entrypoints.flask.get_client() needs a Flask application context: call it while "
            "handling a request or inside `with app.app_context():`"
        )
    client = current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(client, Client):
        raise RuntimeError(
            f"llmport is not initialised on the Flask app {current_app.name!r}: call LLMPort(app) or "
            "ext.init_app(app) in the app factory"
        )
    return client


def handle_llmport_error(error: LLMPortError) -> tuple[Response, int, dict[str, str]]:
    """A Flask error handler: the domain error as JSON with its HTTP status (see ``error_response``).

    Args:
        error: the llmport error a view let through.
    """
    status, body, headers = error_response(error)
    # Handled errors never reach Flask's own logging; one line keeps upstream failures visible.
    _log.warning(
        "llmport error answered with HTTP %d: %s (request_id=%s)",
        status,
        type(error).__name__,
        error.request_id,
    )
    return jsonify(body), status, headers
