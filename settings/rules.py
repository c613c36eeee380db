"""The rules over several settings at once: numbers in range, names and secrets, auth, the provider.

Each takes the settings as plain values by name (``values``) with their sources, never ``Settings``
itself: the dataclass runs them while it is being built, so they must not need it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast, get_args
from urllib.parse import urlsplit

from ..domain.call_options import Headers
from ..domain.defaults import MAX_EMBEDDING_BATCH
from ..domain.errors import ConfigurationError, ValidationError
from ..domain.usage import FrozenMap, ModelPrice
from .checks import (
    check_choice,
    check_name,
    check_range,
    check_request_path,
    check_secret,
    check_url,
    check_whole,
    is_loopback,
)
from .credential import KINDS, OwnCredential
from .sources import AZURE_V1_SUFFIX, BOOLS, SECRETS, origin
from .values import Auth, MaxTokensField, Provider, Secret, WireApi

__all__ = [
    "check_choices",
    "check_endpoint",
    "check_kinds",
    "check_numbers",
    "check_prices",
    "check_values",
    "detect_provider",
    "normalised",
    "resolve_auth",
]

# Optional names where "" means unset, as an empty environment variable does.
_OPTIONAL_NAMES = ("api_version", "client_id", "tenant_id", "chat_model", "embedding_model")
_CHOICES = (
    ("provider", Provider, True),
    ("auth", Auth, True),
    ("api", WireApi, False),
    ("max_tokens_field", MaxTokensField, False),
)


def normalised(values: Mapping[str, object], sources: Mapping[str, str]) -> dict[str, Any]:
    """What changes first: secrets given as text become Secret; "" is an unset secret or optional name.

    Args:
        values: the settings by name, as given.
        sources: where each came from, for the messages.

    Returns:
        The settings to change, by name.
    """
    changes: dict[str, Any] = {}
    for key in SECRETS:
        value = values[key]
        if isinstance(value, str):
            changes[key] = Secret(value) if value else None
        elif value is not None and not isinstance(value, Secret):
            raise ConfigurationError(
                f"{key}: must be a string, got {type(value).__name__}{origin(sources, key)}"
            )
    for key in _OPTIONAL_NAMES:
        if values[key] == "":
            changes[key] = None
    headers = values["default_headers"]
    if not isinstance(headers, Headers):
        where = origin(sources, "default_headers")
        changes["default_headers"] = Headers(
            cast("Mapping[str, str]", headers),
            where="default_headers",
            origin=where,
            error=ConfigurationError,
        )
    return changes


def check_choices(values: Mapping[str, object], sources: Mapping[str, str]) -> None:
    """The enumerated settings: each one of its choices (the credential a kind's name or your own)."""
    for key, kind, optional in _CHOICES:
        check_choice(key, values[key], get_args(kind), origin(sources, key), optional=optional)
    credential = values["credential"]
    if not isinstance(credential, OwnCredential):
        where = origin(sources, "credential")
        check_choice("credential", credential, KINDS, where, optional=False, secret_like=True)


def check_endpoint(values: Mapping[str, Any], where: str) -> None:
    """The Azure rules: an endpoint, https unless loopback or allowed, an api-version only for classic.

    Args:
        values: the settings by name (provider, endpoint, api_version, allow_insecure_http read).
        where: where the endpoint came from, appended to a message.
    """
    provider, endpoint, api_version = values["provider"], values["endpoint"], values["api_version"]
    if not endpoint:
        raise ConfigurationError(
            f"endpoint: provider {provider} needs the resource endpoint, "
            f"https://RESOURCE.openai.azure.com (environment: AZURE_OPENAI_ENDPOINT)"
        )
    parts = urlsplit(endpoint)
    if parts.scheme == "http" and not values["allow_insecure_http"] and not is_loopback(parts.hostname or ""):
        raise ConfigurationError(
            f"endpoint: {endpoint!r} is http://, so the key or token would travel unencrypted; "
            f"use https://, or set allow_insecure_http=true (LLMPORT_ALLOW_INSECURE_HTTP) for a trusted "
            f"network or proxy{where}"
        )
    if provider == "azure" and not api_version:
        raise ConfigurationError(
            "api_version: Azure OpenAI (classic) needs an api-version such as 2024-10-21; set "
            "OPENAI_API_VERSION, or use provider azure_v1 (endpoint .../openai/v1) which takes none"
        )
    if provider == "azure_v1" and api_version:
        raise ConfigurationError("api_version: the Azure OpenAI v1 API takes no api-version; remove it")


def detect_provider(values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The provider and endpoint of one endpoint's settings: the provider set, else detected.

    An endpoint ending in ``/openai/v1`` means ``azure_v1`` (the suffix is cut), any other endpoint
    ``azure``, a key or base URL ``openai``.

    Raises:
        ConfigurationError: nothing says which provider.
    """
    provider, endpoint = values["provider"], values["endpoint"]
    if endpoint:
        endpoint = endpoint.rstrip("/")
        is_v1 = endpoint.endswith(AZURE_V1_SUFFIX)
        if is_v1:
            endpoint = endpoint[: -len(AZURE_V1_SUFFIX)]
        if provider is None:
            provider = "azure_v1" if is_v1 else "azure"
    if provider is None and (values["api_key"] or values["base_url"]):
        provider = "openai"
    if provider is None:
        raise ConfigurationError(
            "provider: nothing is configured; set OPENAI_API_KEY (OpenAI), AZURE_OPENAI_ENDPOINT "
            "(Azure OpenAI), or provider='fake' / LLMPORT_PROVIDER=fake for the offline fake"
        )
    return provider, endpoint


def resolve_auth(values: Mapping[str, Any], key_var: str) -> Auth:
    """The auth kind: the one set, else detected from a key or token; refuse what contradicts it.

    Args:
        values: the settings so far, by name (auth, credential, api_key, token, provider and the
            client_secret credential's parameters read).
        key_var: the environment variable of the provider's API key, for the messages.
    """
    auth = cast("Auth | None", values["auth"])
    # Your own token provider or TokenCredential object (an OwnCredential), not a kind's name.
    own = not isinstance(values["credential"], str)
    if own and (values["api_key"] or values["token"] or auth in ("api_key", "token")):
        raise ConfigurationError(
            "credential: a token provider or credential object is set, and so is an API key, a token or "
            "auth api_key/token; remove one (your own credential means auth=entra)"
        )
    if auth is None:
        auth = _detected_auth(values, own=own)
    _check_auth_secret(auth, values, key_var)
    if auth == "entra":
        _check_entra(values)
    return auth


def _detected_auth(values: Mapping[str, Any], *, own: bool) -> Auth:
    # No auth set: a key means api_key, a token token, neither Entra ID (on OpenAI only with your own).
    api_key, token = values["api_key"], values["token"]
    if api_key and token:
        raise ConfigurationError(
            "auth: both an API key and a token are set; remove one, or set auth to api_key or token"
        )
    auth: Auth = "api_key" if api_key else "token" if token else "entra"
    if auth == "entra" and values["provider"] == "openai" and not own:
        raise ConfigurationError("api_key: OpenAI needs an API key; set OPENAI_API_KEY")
    return auth


def _check_auth_secret(auth: Auth, values: Mapping[str, Any], key_var: str) -> None:
    # auth api_key needs a key, auth token a token.
    if auth == "api_key" and not values["api_key"]:
        raise ConfigurationError(f"api_key: auth is api_key but no key is set; set {key_var}")
    if auth == "token" and not values["token"]:
        raise ConfigurationError("token: auth is token but no token is set; set AZURE_OPENAI_AD_TOKEN")


def _check_entra(values: Mapping[str, Any]) -> None:
    # Entra ID takes no key, and the client_secret credential needs its three parameters.
    if values["api_key"]:
        raise ConfigurationError(
            "auth: both an API key and Entra ID are configured; remove the key, or set auth=api_key"
        )
    client_secret_parts = values["client_id"] and values["tenant_id"] and values["client_secret"]
    if values["credential"] == "client_secret" and not client_secret_parts:
        raise ConfigurationError(
            "credential: client_secret needs client_id, tenant_id and client_secret; set "
            "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET"
        )


def check_kinds(values: Mapping[str, object], sources: Mapping[str, str]) -> None:
    """The flags and URLs, before provider detection reads the URLs.

    Args:
        values: the settings by name, as given.
        sources: where each came from, for the messages.
    """
    for key in BOOLS:
        if not isinstance(values[key], bool):
            raise ConfigurationError(f"{key}: {values[key]!r} is not true or false{origin(sources, key)}")
    for key in ("base_url", "endpoint"):
        if values[key] not in (None, ""):
            parts = check_url(key, values[key], origin(sources, key))
            check_request_path(key, parts, origin(sources, key))


# The settings that count something: a fraction would be used as it is (3 requests of 2.5 inputs).
_WHOLE = frozenset(
    {
        "max_retries",
        "embedding_batch_size",
        "embedding_token_budget",
        "embedding_max_workers",
        "max_response_bytes",
        "context_window",
    }
)


# Each number's range: (setting, lowest, highest); 1e-9 stands for "greater than 0".
_NUMBERS = (
    ("max_retries", 0, 20),
    ("timeout", 1e-9, 3600),
    ("deadline", 1e-9, 86400),
    ("embedding_batch_size", 1, MAX_EMBEDDING_BATCH),
    ("embedding_token_budget", 1, 10_000_000),
    ("embedding_max_workers", 1, 64),
    ("token_refresh_margin", 0, 86400),
    ("max_response_bytes", 1024, 2**40),
    ("context_window", 1, 100_000_000),
)


def check_numbers(values: Mapping[str, object], sources: Mapping[str, str]) -> None:
    """Each number within the range that makes sense for it; counts are whole numbers.

    Args:
        values: the settings by name, as given.
        sources: where each came from, for the messages.
    """
    for name, low, high in _NUMBERS:
        value = values[name]
        if value is None and name in ("deadline", "context_window"):
            continue
        if name in _WHOLE:
            check_whole(name, value, int(low), high, origin(sources, name))
        check_range(name, value, low, high, origin(sources, name))


def check_values(values: Mapping[str, object], sources: Mapping[str, str]) -> None:
    """Secrets that fit a header, names without blanks or padding (URLs are checked earlier).

    Args:
        values: the settings by name, secrets already ``Secret``.
        sources: where each came from, for the messages.
    """
    for key in SECRETS:
        secret = values[key]
        if isinstance(secret, Secret):
            value = secret.reveal()
            if not isinstance(value, str):
                raise ConfigurationError(f"{key}: must be a string, got {type(value).__name__}")
            check_secret(key, value, origin(sources, key))
    scope = values["scope"]
    check_name("scope", "" if scope is None else scope, origin(sources, "scope"))
    for key in ("api_version", "client_id", "tenant_id"):
        check_name(key, values[key], origin(sources, key))
    for key in ("chat_model", "embedding_model"):
        # Some OpenAI-compatible servers name models with spaces; none starts or ends with one.
        check_name(key, values[key], origin(sources, key), spaces=True)


_PRICE_KEYS = ("input", "cached_input", "output", "batch")


def check_prices(
    prices: object, given: object, sources: Mapping[str, str]
) -> tuple[FrozenMap[ModelPrice], FrozenMap[str]]:
    """The price table and the deployment-to-model map, read-only; prices as ModelPrice.

    Args:
        prices: the ``prices`` setting as given.
        given: the ``deployment_models`` setting as given.
        sources: where each came from, for the messages.

    Returns:
        The checked ``prices`` and ``deployment_models``.
    """
    where = origin(sources, "prices")
    if not isinstance(prices, Mapping):
        raise ConfigurationError(
            f'prices: must map model names to prices, like {{"gpt-4o": {{"input": 2.5, "output": 10}}}}, '
            f"got {type(prices).__name__}{where}"
        )
    table = {_key("prices", name, where): _model_price(name, price, where) for name, price in prices.items()}
    where = origin(sources, "deployment_models")
    if not isinstance(given, Mapping):
        raise ConfigurationError(
            f'deployment_models: must map deployment names to model names, like {{"prod-chat": "gpt-4o"}}, '
            f"got {type(given).__name__}{where}"
        )
    deployments = {_key("deployment_models", name, where): model for name, model in given.items()}
    for deployment, model in deployments.items():
        check_name(f"deployment_models.{deployment}", model, where, spaces=True)
        if table and model not in table:
            raise ConfigurationError(
                f"deployment_models.{deployment}: {model!r} has no price; add it to prices "
                f"(the models priced are: {', '.join(sorted(table))}){where}"
            )
    return FrozenMap(table), FrozenMap(deployments)


def _key(setting: str, name: object, where: str) -> str:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ConfigurationError(f"{setting}: {name!r} is not a model or deployment name{where}")
    return name


def _model_price(model: str, price: object, where: str) -> ModelPrice:
    if isinstance(price, ModelPrice):
        return price
    if not isinstance(price, Mapping):
        raise ConfigurationError(
            f"prices.{model}: must be a table of prices per 1M tokens, like "
            f'{{"input": 2.5, "cached_input": 1.25, "output": 10}}, got {type(price).__name__}{where}'
        )
    unknown = sorted(str(key) for key in price if key not in _PRICE_KEYS)
    if unknown:
        raise ConfigurationError(
            f"prices.{model}: unknown key(s) {', '.join(unknown)}; the keys are input, cached_input "
            f"and output (per 1M tokens), and batch (the share a Batch API request pays){where}"
        )
    if "input" not in price:
        raise ConfigurationError(f"prices.{model}: input (the price per 1M prompt tokens) is missing{where}")
    try:
        return ModelPrice(**{str(key): value for key, value in price.items()})
    except ValidationError as exc:
        raise ConfigurationError(f"prices.{model}.{exc}{where}") from None
