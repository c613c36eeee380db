"""autogen's declarative model-client configuration (``load_component`` dicts) read as llmport settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.errors import ConfigurationError

__all__ = ["from_component", "is_component"]

# autogen's component dicts name a class; the short names are the ones autogen itself accepts.
_CLIENTS = ("OpenAIChatCompletionClient", "AzureOpenAIChatCompletionClient")
# Per client kind: autogen's config key -> llmport's setting.
_OPENAI = {"model": "chat_model", "api_key": "api_key", "base_url": "base_url"}
_AZURE = {
    "azure_endpoint": "endpoint",
    "azure_deployment": "chat_model",
    "api_version": "api_version",
    "api_key": "api_key",
}
_SHARED = {"timeout": "timeout", "max_retries": "max_retries", "default_headers": "default_headers"}
# Descriptions of the model for autogen's own use; nothing to send.
_IGNORED = {"model_info", "model_capabilities", "add_name_prefixes", "include_name_in_message"}
# azure-identity class -> llmport's credential kind.
_CREDENTIALS = {
    "DefaultAzureCredential": "default",
    "ManagedIdentityCredential": "managed_identity",
    "WorkloadIdentityCredential": "workload_identity",
    "AzureCliCredential": "azure_cli",
}


def is_component(values: Mapping[str, Any]) -> bool:
    """Whether ``values`` is an autogen component dict of a model client llmport can read."""
    provider = values.get("provider")
    return (
        isinstance(provider, str)
        and isinstance(values.get("config"), Mapping)
        and provider.rpartition(".")[2] in _CLIENTS
    )


def from_component(component: Mapping[str, Any]) -> dict[str, Any]:
    """The llmport settings an autogen model-client component dict describes.

    ``AzureOpenAIChatCompletionClient``: ``azure_endpoint``, ``azure_deployment`` (else ``model``),
    ``api_version``, ``api_key`` or ``azure_ad_token_provider`` (autogen's ``AzureTokenProvider``
    component: its ``provider_kind`` becomes the credential kind, its one scope the scope; a token
    provider object is used as it is). ``OpenAIChatCompletionClient``: ``model``, ``api_key``,
    ``base_url``. Both: ``timeout``, ``max_retries``. ``model_info`` and the like describe the model
    to autogen and are skipped.

    Raises:
        ConfigurationError: a key llmport has no setting for (sampling options such as temperature
            are per-call arguments of ``client.chat``), or a token provider it cannot read.
    """
    azure = str(component["provider"]).endswith("AzureOpenAIChatCompletionClient")
    config: Mapping[str, Any] = component["config"]
    names = {**(_AZURE if azure else _OPENAI), **_SHARED}
    settings: dict[str, Any] = {"provider": "azure" if azure else "openai"}
    unknown: list[str] = []
    for key, value in config.items():
        if key in names:
            settings[names[key]] = value
        elif key == "model":
            settings.setdefault("chat_model", value)  # the deployment, when given, wins
        elif key == "azure_ad_token_provider" and azure:
            settings.update(_token_provider(value))
        elif key not in _IGNORED:
            unknown.append(key)
    if unknown:
        raise ConfigurationError(
            f"autogen config: {', '.join(sorted(unknown))} has no llmport setting; sampling options "
            f"(temperature, max_tokens...) are arguments of client.chat(...) (from dict)"
        )
    if azure and str(settings.get("endpoint", "")).rstrip("/").endswith("/openai/v1"):
        settings["provider"] = "azure_v1"  # the v1 API takes no api-version
        settings.pop("api_version", None)
    return settings


def _token_provider(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {"credential": value}  # a token provider object (autogen's AzureTokenProvider is callable)
    config = value.get("config")
    if not isinstance(config, Mapping) or (kind := _CREDENTIALS.get(config.get("provider_kind", ""))) is None:
        raise ConfigurationError(
            f"autogen config: azure_ad_token_provider needs config.provider_kind, one of "
            f"{', '.join(_CREDENTIALS)} (from dict)"
        )
    scopes = config.get("scopes") or []
    if len(scopes) > 1:
        raise ConfigurationError("autogen config: azure_ad_token_provider has several scopes; give one")
    return {"credential": kind, **({"scope": scopes[0]} if scopes else {})}
