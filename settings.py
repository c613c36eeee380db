"""Typed, frozen settings from keywords, a dict, a TOML file or the environment; secrets never printed."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from .domain.errors import ConfigurationError

__all__ = ["ENV_VARS", "Secret", "Settings"]

Provider = Literal["openai", "azure", "azure_v1", "fake"]
Auth = Literal["api_key", "entra", "token"]
CredentialKind = Literal["default", "managed_identity", "client_secret", "workload_identity", "azure_cli"]
WireApi = Literal["chat", "responses"]
DEFAULT_SCOPE = "https://cognitiveservices.azure.com/.default"
_AZURE_V1_SUFFIX = "/openai/v1"


class Secret:
    """A string that never shows itself in a repr, str, log line or config dump."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# Environment variable names per field: the names users already have first, then LLMPORT_<FIELD>.
_ENV: dict[str, tuple[str, ...]] = {
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
    "max_retries": ("LLMPORT_MAX_RETRIES",),
    "timeout": ("LLMPORT_TIMEOUT",),
    "deadline": ("LLMPORT_DEADLINE",),
    "embedding_batch_size": ("LLMPORT_EMBEDDING_BATCH_SIZE",),
    "embedding_token_budget": ("LLMPORT_EMBEDDING_TOKEN_BUDGET",),
    "embedding_max_workers": ("LLMPORT_EMBEDDING_MAX_WORKERS",),
    "token_refresh_margin": ("LLMPORT_TOKEN_REFRESH_MARGIN",),
    "log_content": ("LLMPORT_LOG_CONTENT",),
    "max_response_bytes": ("LLMPORT_MAX_RESPONSE_BYTES",),
}
_API_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "azure": "AZURE_OPENAI_API_KEY",
    "azure_v1": "AZURE_OPENAI_API_KEY",
}
#: Every variable that configures llmport; the CLI falls back to the fake provider when none is set.
ENV_VARS: frozenset[str] = frozenset(
    {name for names in _ENV.values() for name in names} | set(_API_KEY_ENV.values()) | {"OPENAI_API_KEY"}
) - {"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"}
_SECRETS = ("api_key", "client_secret", "token")


@dataclass(frozen=True, slots=True)
class Settings:
    """How one client reaches its provider. Validated on construction.

    Missing ``provider`` and ``auth`` are detected: an endpoint ending in ``/openai/v1`` means
    ``azure_v1``, any other endpoint ``azure``, a key or base URL ``openai``; a key means
    ``api_key`` auth, a token ``token``, and Azure without either means Entra ID.

    Raises:
        ConfigurationError: a setting is missing, unknown, out of range or contradicts another;
            the message names the setting, its environment variable and the fix.
    """

    provider: Provider | None = None
    base_url: str | None = None
    endpoint: str | None = None
    api_key: Secret | None = None
    api_version: str | None = None
    auth: Auth | None = None
    credential: CredentialKind = "default"
    client_id: str | None = None
    tenant_id: str | None = None
    client_secret: Secret | None = None
    token: Secret | None = None
    scope: str = DEFAULT_SCOPE
    chat_model: str | None = None
    embedding_model: str | None = None
    api: WireApi = "chat"
    max_retries: int = 2
    timeout: float = 60.0
    deadline: float | None = 120.0
    embedding_batch_size: int = 2048
    embedding_token_budget: int = 300_000
    embedding_max_workers: int = 1
    token_refresh_margin: float = 300.0
    log_content: bool = False
    max_response_bytes: int = 64 * 1024 * 1024
    name: str = field(default="default", compare=False)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for secret in _SECRETS:
            value = getattr(self, secret)
            if isinstance(value, str):
                object.__setattr__(self, secret, Secret(value) if value else None)
        _check_choice("provider", self.provider, Provider, optional=True)
        _check_choice("auth", self.auth, Auth, optional=True)
        _check_choice("credential", self.credential, CredentialKind)
        _check_choice("api", self.api, WireApi)
        if self.endpoint:
            endpoint = self.endpoint.rstrip("/")
            is_v1 = endpoint.endswith(_AZURE_V1_SUFFIX)
            if is_v1:
                endpoint = endpoint[: -len(_AZURE_V1_SUFFIX)]
            object.__setattr__(self, "endpoint", endpoint)
            if self.provider is None:
                object.__setattr__(self, "provider", "azure_v1" if is_v1 else "azure")
        if self.provider is None and (self.api_key or self.base_url):
            object.__setattr__(self, "provider", "openai")
        if self.provider is None:
            raise ConfigurationError(
                "provider: nothing is configured; set OPENAI_API_KEY (OpenAI), AZURE_OPENAI_ENDPOINT "
                "(Azure OpenAI), or provider='fake' / LLMPORT_PROVIDER=fake for the offline fake"
            )
        _check_numbers(self)
        if self.provider == "fake":
            # The fakes need no model; naming one keeps logs and replies meaningful offline.
            object.__setattr__(self, "chat_model", self.chat_model or "fake-chat")
            object.__setattr__(self, "embedding_model", self.embedding_model or "fake-embedding")
        else:
            _check_provider(self)
            object.__setattr__(self, "auth", _resolve_auth(self))

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def from_dict(
        cls, values: Mapping[str, Any], *, name: str = "default", source: str | Mapping[str, str] = "dict"
    ) -> Settings:
        """Build settings from a mapping whose keys are the field names.

        Strings are converted to the field's type, so values read from files or the environment work.

        Raises:
            ConfigurationError: an unknown key, or a value that is not of the field's type.
        """
        known = {f.name for f in dataclasses.fields(cls)} - {"name", "sources"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown setting(s) {', '.join(unknown)}; the settings are: {', '.join(sorted(known))}"
            )
        sources = {key: source for key in values} if isinstance(source, str) else dict(source)
        converted = {key: _convert(key, value) for key, value in values.items()}
        return cls(**converted, name=name, sources=sources)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from environment variables (see the README's table); keywords win.

        Raises:
            ConfigurationError: see the class docstring.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for key, names in _ENV.items():
            for var in (*names, f"LLMPORT_{key.upper()}"):
                if env.get(var):
                    values[key], sources[key] = env[var], f"environment {var}"
                    break
        provider = values.get("provider") or overrides.get("provider")
        if provider is None:
            endpoint = values.get("endpoint") or overrides.get("endpoint")
            provider = "azure" if endpoint else "openai"
        key_var = _API_KEY_ENV.get(str(provider))
        for key_name in (key_var, "LLMPORT_API_KEY"):
            if key_name and env.get(key_name):
                values["api_key"], sources["api_key"] = env[key_name], f"environment {key_name}"
                break
        if provider == "azure_v1" or str(values.get("endpoint", "")).rstrip("/").endswith(_AZURE_V1_SUFFIX):
            values.pop("api_version", None)  # the v1 API takes none; a global OPENAI_API_VERSION is common
            sources.pop("api_version", None)
        values.update(overrides)
        sources.update(dict.fromkeys(overrides, "keyword"))
        return cls.from_dict(values, source=sources)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str], *, name: str = "default") -> Settings:
        """Read one client's settings from a TOML file.

        The file holds either the settings at its top level or one table per client,
        ``[clients.NAME]``; ``name`` picks the table.

        Raises:
            ConfigurationError: the file is missing or malformed, or has no such client.
        """
        tables = _client_tables(path)
        if name not in tables:
            raise ConfigurationError(
                f"config file {str(path)!r} has no [clients.{name}]; it has: {', '.join(sorted(tables))}"
            )
        values, source = tables[name]
        return cls.from_dict(values, name=name, source=source)

    @classmethod
    def all_from_toml(cls, path: str | os.PathLike[str]) -> dict[str, Settings]:
        """Read every client's settings from a TOML file, by name (see :meth:`from_toml`).

        Raises:
            ConfigurationError: the file is missing or malformed, or a client's settings are invalid.
        """
        return {
            name: cls.from_dict(values, name=name, source=source)
            for name, (values, source) in _client_tables(path).items()
        }

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied and validated."""
        return dataclasses.replace(self, **{key: _convert(key, value) for key, value in changes.items()})

    def source(self, key: str) -> str:
        """Where a setting's value came from: a variable, a file, a dict, ``detected`` or ``default``."""
        if key in self.sources:
            return self.sources[key]
        default = next(f for f in dataclasses.fields(self) if f.name == key).default
        return "default" if getattr(self, key) == default else "detected"

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict for display, secrets shown as ``**********``."""
        shown: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            shown[f.name] = "**********" if isinstance(value, Secret) else value
        return shown


def _client_tables(path: str | os.PathLike[str]) -> dict[str, tuple[dict[str, Any], str]]:
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


def _check_choice(name: str, value: object, choices: Any, *, optional: bool = False) -> None:
    allowed = get_args(choices)
    if (value is None and optional) or value in allowed:
        return
    raise ConfigurationError(f"{name}: {value!r} is not one of {', '.join(allowed)}{_env_hint(name)}")


def _check_numbers(settings: Settings) -> None:
    rules = (
        ("max_retries", settings.max_retries, 0, 20),
        ("timeout", settings.timeout, 1e-9, 3600),
        ("deadline", settings.deadline, 1e-9, 86400),
        ("embedding_batch_size", settings.embedding_batch_size, 1, 2048),
        ("embedding_token_budget", settings.embedding_token_budget, 1, 10_000_000),
        ("embedding_max_workers", settings.embedding_max_workers, 1, 64),
        ("token_refresh_margin", settings.token_refresh_margin, 0, 86400),
        ("max_response_bytes", settings.max_response_bytes, 1024, 2**40),
    )
    for name, value, low, high in rules:
        if value is None and name == "deadline":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            bound = "greater than 0" if low == 1e-9 else f"from {low}"
            raise ConfigurationError(
                f"{name}: {value!r} is out of range; it must be {bound} up to {high}{_env_hint(name)}"
            )


def _check_provider(settings: Settings) -> None:
    if settings.provider == "openai":
        if settings.base_url and not settings.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base_url: {settings.base_url!r} is not an http(s) URL{_env_hint('base_url')}"
            )
        return
    if not settings.endpoint:
        raise ConfigurationError(
            f"endpoint: provider {settings.provider} needs the resource endpoint, "
            f"https://RESOURCE.openai.azure.com{_env_hint('endpoint')}"
        )
    if not settings.endpoint.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"endpoint: {settings.endpoint!r} is not an http(s) URL{_env_hint('endpoint')}"
        )
    if settings.provider == "azure" and not settings.api_version:
        raise ConfigurationError(
            "api_version: Azure OpenAI (classic) needs an api-version such as 2024-10-21; set "
            "OPENAI_API_VERSION, or use provider azure_v1 (endpoint .../openai/v1) which takes none"
        )
    if settings.provider == "azure_v1" and settings.api_version:
        raise ConfigurationError("api_version: the Azure OpenAI v1 API takes no api-version; remove it")


def _resolve_auth(settings: Settings) -> Auth:
    auth = settings.auth
    if auth is None:
        if settings.api_key and settings.token:
            raise ConfigurationError(
                "auth: both an API key and a token are set; remove one, or set auth to api_key or token"
            )
        auth = "api_key" if settings.api_key else "token" if settings.token else "entra"
        if auth == "entra" and settings.provider == "openai":
            raise ConfigurationError("api_key: OpenAI needs an API key; set OPENAI_API_KEY")
    if auth == "api_key" and not settings.api_key:
        key_var = _API_KEY_ENV[str(settings.provider)]
        raise ConfigurationError(f"api_key: auth is api_key but no key is set; set {key_var}")
    if auth == "token" and not settings.token:
        raise ConfigurationError("token: auth is token but no token is set; set AZURE_OPENAI_AD_TOKEN")
    if auth == "entra" and settings.api_key:
        raise ConfigurationError(
            "auth: both an API key and Entra ID are configured; remove the key, or set auth=api_key"
        )
    if (
        auth == "entra"
        and settings.credential == "client_secret"
        and not (settings.client_id and settings.tenant_id and settings.client_secret)
    ):
        raise ConfigurationError(
            "credential: client_secret needs client_id, tenant_id and client_secret; set "
            "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET"
        )
    return auth


_INTS = {
    "max_retries",
    "embedding_batch_size",
    "embedding_token_budget",
    "embedding_max_workers",
    "max_response_bytes",
}
_FLOATS = {"timeout", "deadline", "token_refresh_margin"}


def _convert(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if key in _INTS:
            return int(value)
        if key in _FLOATS:
            return float(value)
    except ValueError:
        kind = "a whole number" if key in _INTS else "a number of seconds"
        raise ConfigurationError(f"{key}: {value!r} is not {kind}{_env_hint(key)}") from None
    if key == "log_content":
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ConfigurationError(f"log_content: {value!r} is not true or false{_env_hint(key)}")
        return value.lower() in ("1", "true", "yes")
    return value


def _env_hint(key: str) -> str:
    names = _ENV.get(key)
    return f" (environment: {names[0]})" if names else ""
