"""The Django AppConfig: builds the client once per process in ready(), closes it at exit."""

from __future__ import annotations

import logging
import threading

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from ...container.root import build_client
from ...domain.errors import ConfigurationError
from ...services.client import Client
from ..inbound import close_at_exit, settings_from
from .checks import SOURCE, check_configuration

__all__ = ["LLMPortConfig"]

_log = logging.getLogger("llmport.entrypoints.django")


class LLMPortConfig(AppConfig):
    """Reads ``settings.LLMPORT`` (a dict of setting names) or, without it, the environment.

    Bad configuration must not crash every management command, so ``ready()`` records the
    ConfigurationError instead of raising it: ``manage.py check`` (and runserver's checks) report
    it as llmport.E001 with a hint, and ``get_client()`` raises it.
    """

    name = "llmport.entrypoints.django"
    label = "llmport"  # the default, "django", would read as Django's own
    verbose_name = "llmport"

    # Class-level defaults; ready() sets them on the instance, once.
    client: Client | None = None
    error: ConfigurationError | None = None
    _build_lock = threading.Lock()

    def ready(self) -> None:
        """Register the system check and build the client; a second call does nothing."""
        checks.register(check_configuration)  # a set inside Django: registering twice is harmless
        with self._build_lock:
            # Django may call ready() again (e.g. some test runners); one client per process.
            if self.client is not None or self.error is not None:
                return
            try:
                client = build_client(settings_from(getattr(settings, "LLMPORT", None), source=SOURCE))
            except ConfigurationError as exc:
                self.error = exc
                _log.warning("llmport is not configured (see `manage.py check`): %s", exc)
                return
            self.client = client
        close_at_exit(client)

    def get_client(self) -> Client:
        """Return the client built in ready().

        Raises:
            ConfigurationError: the configuration was invalid when ready() ran.
            RuntimeError: ready() has not run yet.
        """
        if self.client is not None:
            return self.client
        if self.error is not None:
            raise ConfigurationError(f"llmport is not configured: {self.error.message}") from self.error
        raise RuntimeError("llmport's Django app is not ready yet: call get_client() after django.setup()")
