"""Django app: INSTALLED_APPS entry ``"llmport.entrypoints.django"``, one client per process."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...services.client import Client

__all__ = ["get_client"]

# Nothing Django is imported here, so that importing this package needs no configured settings;
# Django imports llmport.entrypoints.django.apps itself when it loads INSTALLED_APPS.


def get_client() -> Client:
    """Return the process-wide client built when Django started (``AppConfig.ready``).

    Raises:
        RuntimeError: ``"llmport.entrypoints.django"`` is not in INSTALLED_APPS.
        ConfigurationError: settings.LLMPORT (or the environment) is invalid; ``manage.py check``
            reports the same problem with a hint.
        AppRegistryNotReady: Django has not finished loading its apps.
    """
    from django.apps import apps

    from .apps import LLMPortConfig

    try:
        config = apps.get_app_config(LLMPortConfig.label)
    except LookupError:
        raise RuntimeError(
            'llmport is not a Django app here: add "llmport.entrypoints.django" to INSTALLED_APPS'
        ) from None
    assert isinstance(config, LLMPortConfig)  # the label is ours; another app claiming it is a bug
    return config.get_client()
