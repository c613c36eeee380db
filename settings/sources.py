"""Where setting values come from: the environment-variable table, TOML files, text to typed values."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..domain.errors import ConfigurationError
from ..domain.redaction import entry
from .components import from_component, is_component

__all__ = [
    "API_KEY_ENV",
    "AZURE_V1_SUFFIX",
    "BOOLS",
    "ENV",
    "ENV_VARS",
    "SECRETS",
    "client_table",
    "client_tables",
    "convert",
    "describe",
    "origin",
    "read_env",
    "read_mapping",
    "read_unchecked",
]

AZURE_V1_SUFFIX = "/openai/v1"
# Environment variable names per field: the names users already have first, then LLMPORT_<FIELD>.
ENV: dict[str, tuple[str, ...]] = {
    "provider": ("LLMPORT_PROVIDER",),
    "base_url": ("OPENAI_BASE_URL",),
    "endpoint": ("AZURE_OPENAI_ENDPOINT",),
    "api_version": ("OPENAI_API_VERSION",),
    "auth": ("LLMPORT_AUTH",),
    "credential": ("LLMPORT_CREDENTIAL",),
    "client_id": ("AZURE_CLIENT_ID",),
    "tenant_id": ("AZURE_TENANT_ID",),
    "client_secret": ("AZURE_CLIENT_SECRET",),
    "token": ("AZURE_OPENAI_AD_TOKEN",),
    "scope": ("LLMPORT_SCOPE",),
    "chat_model": ("LLMPORT_CHAT_MODEL",),
    "embedding_model": ("LLMPORT_EMBEDDING_MODEL",),
    "api": ("LLMPORT_API",),
    "max_tokens_field": ("LLMPORT_MAX_TOKENS_FIELD",),
    "max_retries": ("LLMPORT_MAX_RETRIES",),
    "timeout": ("LLMPORT_TIMEOUT",),
    "deadline": ("LLMPORT_DEADLINE",),
    "embedding_batch_size": ("LLMPORT_EMBEDDING_BATCH_SIZE",),
    "embedding_token_budget": ("LLMPORT_EMBEDDING_TOKEN_BUDGET",),
    "embedding_max_workers": ("LLMPORT_EMBEDDING_MAX_WORKERS",),
    "context_window": ("LLMPORT_CONTEXT_WINDOW",),
    "token_refresh_margin": ("LLMPORT_TOKEN_REFRESH_MARGIN",),
    "log_content": ("LLMPORT_LOG_CONTENT",),
    "max_response_bytes": ("LLMPORT_MAX_RESPONSE_BYTES",),
    "allow_insecure_http": ("LLMPORT_ALLOW_INSECURE_HTTP",),
    "default_headers": ("LLMPORT_DEFAULT_HEADERS",),
    "prices": ("LLMPORT_PRICES",),
    "deployment_models": ("LLMPORT_DEPLOYMENT_MODELS",),
    "budget_store": ("LLMPORT_BUDGET_STORE",),
    "budget_namespace": ("LLMPORT_BUDGET_NAMESPACE",),
    "move_after_timeout": ("LLMPORT_MOVE_AFTER_TIMEOUT",),
    "cache": ("LLMPORT_CACHE",),
    "cache_ttl": ("LLMPORT_CACHE_TTL",),
    "cache_max_bytes": ("LLMPORT_CACHE_MAX_BYTES",),
    "cache_namespace": ("LLMPORT_CACHE_NAMESPACE",),
}
API_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "azure": "AZURE_OPENAI_API_KEY",
    "azure_v1": "AZURE_OPENAI_API_KEY",
}
#: Every variable that configures llmport; the CLI falls back to the fake provider when none is set.
ENV_VARS: frozenset[str] = frozenset(
    {name for names in ENV.values() for name in names} | set(API_KEY_ENV.values()) | {"OPENAI_API_KEY"}
) - {"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"}
SECRETS = ("api_key", "client_secret", "token")
BOOLS = ("log_content", "allow_insecure_http", "move_after_timeout")


def read_env(env: Mapping[str, str], overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The values the environment sets, keywords applied over them, and where each came from."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, names in ENV.items():
        for var in (*names, f"LLMPORT_{key.upper()}"):
            if env.get(var):
                values[key], sources[key] = env[var], f"environment {var}"
                break
    provider = values.get("provider") or overrides.get("provider")
    if provider is None:
        endpoint = values.get("endpoint") or overrides.get("endpoint")
        provider = "azure" if endpoint else "openai"
    key_var = API_KEY_ENV.get(str(provider))
    for key_name in (key_var, "LLMPORT_API_KEY"):
        if key_name and env.get(key_name):
            values["api_key"], sources["api_key"] = env[key_name], f"environment {key_name}"
            break
    if provider == "azure_v1" or str(values.get("endpoint", "")).rstrip("/").endswith(AZURE_V1_SUFFIX):
        values.pop("api_version", None)  # the v1 API takes none; a global OPENAI_API_VERSION is common
        sources.pop("api_version", None)
    values.update(overrides)
    sources.update(dict.fromkeys(overrides, "keyword"))
    return values, sources


def client_tables(path: str | os.PathLike[str]) -> dict[str, tuple[dict[str, Any], str]]:
    """The file's client tables by name, each with the source label its settings will carry."""
    # Imported here: only configuration files need a TOML parser, not every `import llmport`.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 only
        import tomli as tomllib
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"config file {str(path)!r} could not be read: {exc}") from exc
    clients = document.get("clients")
    if not isinstance(clients, dict):
        return {"default": (document, f"file {path}")}
    if not clients or not all(isinstance(table, dict) for table in clients.values()):
        raise ConfigurationError(
            f"config file {str(path)!r}: [clients] must hold tables like [clients.default]"
        )
    return {name: (table, f"file {path} [clients.{name}]") for name, table in clients.items()}


_INTS = {
    "max_retries",
    "embedding_batch_size",
    "embedding_token_budget",
    "embedding_max_workers",
    "context_window",
    "max_response_bytes",
    "cache_max_bytes",
    "priority",
    "rpm",
    "tpm",
    "eject_after",
}
_FLOATS = {"timeout", "deadline", "token_refresh_margin", "weight", "eject_for", "cache_ttl"}


def convert(key: str, value: Any, where: str = "") -> Any:
    """Turn text (from a file or the environment) into the field's type.

    Args:
        key: the field.
        value: its value; anything but a str is returned as it is.
        where: where the value came from, appended to an error: `` (from environment LLMPORT_TIMEOUT)``.

    Raises:
        ConfigurationError: the text is not of the field's type.
    """
    if not isinstance(value, str):
        return value
    try:
        if key in _INTS:
            return int(value)
        if key in _FLOATS:
            return float(value)
    except ValueError:
        kind = "a whole number" if key in _INTS else "a number of seconds"
        raise ConfigurationError(f"{key}: {value!r} is not {kind}{where}") from None
    if key in _JSON_EXAMPLES:
        return _json_object(key, value, where)
    if key in BOOLS:
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ConfigurationError(f"{key}: {value!r} is not true or false{where}")
        return value.lower() in ("1", "true", "yes")
    return value


# The settings that text gives as a JSON object, with an example of each.
_JSON_EXAMPLES = {
    "default_headers": '{"x-ms-client-request-id": "..."}',
    "prices": '{"gpt-4o": {"input": 2.5, "cached_input": 1.25, "output": 10}}',
    "deployment_models": '{"prod-chat": "gpt-4o"}',
}


def _json_object(key: str, text: str, where: str) -> Any:
    """A setting given as text holding a JSON object (``LLMPORT_DEFAULT_HEADERS``, ``LLMPORT_PRICES``)."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        # The text itself may hold a key: the message does not repeat it.
        raise ConfigurationError(f"{key}: not a JSON object like {_JSON_EXAMPLES[key]}{where}")
    return value


def describe(source: str) -> str:
    """A source label as a message shows it: `` (from environment LLMPORT_PROVIDER)``."""
    return f" (from {'keyword argument' if source == 'keyword' else source})"


def origin(sources: Mapping[str, str], key: str) -> str:
    """Where a value came from, for a message about it: a variable, a file and table, a dict, a keyword.

    Args:
        sources: the settings' sources by key; a value without one was a keyword to ``Settings(...)``.
        key: the setting.
    """
    return describe(sources.get(key, "keyword"))


def read_mapping(
    values: Mapping[str, Any], source: str | Mapping[str, str], known: frozenset[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The values of a mapping whose keys are the field names, text converted, and their sources.

    An autogen component dict (``{"provider": "...ChatCompletionClient", "config": {...}}``) is read
    as the settings it describes.

    Raises:
        ConfigurationError: an unknown key, or a value that is not of the field's type.
    """
    if is_component(values):
        values = from_component(values)
        source = f"{source} (autogen component)" if isinstance(source, str) else source
    sources = {key: source for key in values} if isinstance(source, str) else dict(source)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigurationError(
            f"unknown setting(s) {', '.join(unknown)}{describe(sources.get(unknown[0], 'keyword'))}; "
            f"the settings are: {', '.join(sorted(known))}"
        )
    converted = {
        key: convert(key, value, describe(sources.get(key, "keyword"))) for key, value in values.items()
    }
    return converted, sources


def client_table(path: str | os.PathLike[str], name: str) -> tuple[dict[str, Any], str]:
    """The ``[clients.NAME]`` table of a TOML file (or its top level), with its source label.

    Raises:
        ConfigurationError: the file cannot be read or has no such client.
    """
    tables = client_tables(path)
    if name not in tables:
        raise ConfigurationError(
            f"config file {str(path)!r} has no [clients.{name}]; it has: {', '.join(sorted(tables))}"
        )
    return tables[name]


@entry
def read_unchecked(
    path: str | os.PathLike[str] | None = None,
    *,
    name: str = "default",
    environ: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """What a TOML file (or, without one, the environment) sets, unchecked, and where each value came from.

    For showing a configuration that does not validate; secrets are plain text here, so redact them.

    Args:
        path: the TOML file; None reads ``environ``.
        name: the ``[clients.NAME]`` table of the file.
        environ: the environment; ``os.environ`` when None.

    Raises:
        ConfigurationError: the file cannot be read or has no such client.
    """
    if path is None:
        env = os.environ if environ is None else environ
        values, sources = read_env(env, {})
        # read_env takes the key of the provider set; an unknown provider has none, yet a key is set.
        for var in () if "api_key" in values else (*API_KEY_ENV.values(), "LLMPORT_API_KEY"):
            if env.get(var):
                values["api_key"], sources["api_key"] = env[var], f"environment {var}"
                break
        return values, sources
    values, source = client_table(path, name)
    return dict(values), dict.fromkeys(values, source)
