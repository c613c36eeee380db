"""The system check behind `manage.py check`: bad llmport configuration as llmport.E001."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error

from ...domain.errors import ConfigurationError
from ..inbound import settings_from

__all__ = ["SOURCE", "check_configuration"]

#: Where Django users configure llmport; named in errors and hints.
SOURCE = "settings.LLMPORT"

_HINT_FROM_SETTINGS = (
    "Fix settings.LLMPORT: a dict whose keys are llmport setting names, e.g. "
    "{'provider': 'azure_v1', 'endpoint': 'https://RESOURCE.openai.azure.com/openai/v1', "
    "'chat_model': 'my-deployment'}; or remove it to configure llmport from the environment."
)
_HINT_FROM_ENV = (
    "settings.LLMPORT is not set, so llmport reads the environment (OPENAI_API_KEY, "
    "AZURE_OPENAI_ENDPOINT, LLMPORT_*); set those, or define settings.LLMPORT as a dict of settings."
)


def check_configuration(
    *, app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report the configuration error ready() recorded, or one in the current settings.

    Settings are validated again (cheaply, nothing is built), so that the check also sees
    settings changed since start-up, e.g. by ``override_settings`` in a test.

    Args:
        app_configs: the apps to check; None means all.
        databases: unused (llmport has no models).
        kwargs: further arguments Django may pass.
    """
    config = apps.get_app_config("llmport")
    if app_configs is not None and config not in app_configs:
        return []
    configured = getattr(settings, "LLMPORT", None)
    problem: ConfigurationError | None = getattr(config, "error", None)
    if problem is None:
        try:
            settings_from(configured, source=SOURCE)
        except ConfigurationError as exc:
            problem = exc
    if problem is None:
        return []
    return [
        Error(
            problem.message,
            hint=_HINT_FROM_ENV if configured is None else _HINT_FROM_SETTINGS,
            obj=SOURCE if configured is not None else "environment",
            id="llmport.E001",
        )
    ]
