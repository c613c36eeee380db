"""Typed, frozen settings from keywords, a dict, a TOML file or the environment; secrets never printed."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast, get_args

from ..domain.call_options import Headers
from ..domain.errors import ConfigurationError
from ..domain.redaction import entry
from ..domain.usage import FrozenMap, ModelPrice
from .checks import (
    check_choice,
    check_endpoint,
    check_kinds,
    check_numbers,
    check_prices,
    check_values,
    resolve_auth,
)
from .components import from_component, is_component
from .credential import OwnCredential, SupportsGetToken, TokenProvider, unpack_credential
from .routing import (
    ROUTING_KEYS,
    DeploymentSettings,
    check_budget_namespace,
    check_budget_store,
    redacted_store,
    routed,
)
from .sources import (
    API_KEY_ENV,
    AZURE_V1_SUFFIX,
    ENV_VARS,
    SECRETS,
    client_tables,
    convert,
    describe,
    origin,
    read_env,
)

__all__ = [
    "ENV_VARS",
    "ROUTING_KEYS",
    "SECRETS",
    "DeploymentSettings",
    "OwnCredential",
    "Secret",
    "Settings",
    "read_unchecked",
]

Provider = Literal["openai", "azure", "azure_v1", "fake"]
Auth = Literal["api_key", "entra", "token"]
CredentialKind = Literal["default", "managed_identity", "client_secret", "workload_identity", "azure_cli"]
WireApi = Literal["chat", "responses"]
#: Where chat.completions gets max_tokens; auto: max_tokens (as the SDK sends it), switched once per
#: deployment to max_completion_tokens when the deployment refuses max_tokens.
MaxTokensField = Literal["auto", "max_tokens", "max_completion_tokens"]
#: What ``credential`` takes; Settings holds a kind's name or an OwnCredential after validation.
CredentialSetting: TypeAlias = (
    CredentialKind | OwnCredential | TokenProvider | SupportsGetToken | Mapping[str, Any]
)
DEFAULT_SCOPE = "https://cognitiveservices.azure.com/.default"


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


# Optional names where "" means unset, as an empty environment variable does.
_OPTIONAL_NAMES = ("api_version", "client_id", "tenant_id", "chat_model", "embedding_model")
_CHOICES = (
    ("provider", Provider, True),
    ("auth", Auth, True),
    ("api", WireApi, False),
    ("max_tokens_field", MaxTokensField, False),
)


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
    #: A kind's name, ``{"kind": ..., "client_id": ...}``, a token provider or a TokenCredential object.
    credential: CredentialSetting = "default"
    client_id: str | None = None
    tenant_id: str | None = None
    client_secret: Secret | None = None
    token: Secret | None = None
    scope: str = DEFAULT_SCOPE
    chat_model: str | None = None
    embedding_model: str | None = None
    api: WireApi = "chat"
    max_tokens_field: MaxTokensField = "auto"
    max_retries: int = 2
    timeout: float = 60.0
    deadline: float | None = 120.0
    embedding_batch_size: int = 2048
    embedding_token_budget: int = 300_000
    embedding_max_workers: int = 1
    token_refresh_margin: float = 300.0
    log_content: bool = False
    max_response_bytes: int = 64 * 1024 * 1024
    allow_insecure_http: bool = False
    #: Sent with every request (an APIM subscription key, a tracing id); credential ones never shown.
    default_headers: Mapping[str, str] = Headers()
    #: Prices per 1M tokens by model name, ``{"gpt-4o": {"input": 2.5, "cached_input": 1.25, "output": 10}}``.
    prices: Mapping[str, ModelPrice] = FrozenMap()
    #: The model each deployment (or request model) is priced and counted as, ``{"prod-chat": "gpt-4o"}``.
    deployment_models: Mapping[str, str] = FrozenMap()
    #: Several deployments behind this client: tables of settings plus name, priority, weight,
    #: rpm, tpm (see ``_settings_routing.py``); what an entry leaves out it takes from the client.
    deployments: Sequence[DeploymentSettings | Mapping[str, Any]] = ()
    #: Where the deployments' rate budgets live: ``memory`` (this process) or a Redis URL (shared).
    budget_store: str = field(default="memory", repr=False)
    #: Set apart in a shared budget store: apps with different namespaces never share a budget
    #: there, even for one deployment (e.g. two OpenAI organisations on one model); None: none.
    budget_namespace: str | None = None
    #: Move a routed call whose sent request timed out to another deployment (it may be billed twice).
    move_after_timeout: bool = False
    name: str = field(default="default", compare=False)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        unpack_credential(self)
        _normalise(self)
        for key, kind, optional in _CHOICES:
            check_choice(key, getattr(self, key), get_args(kind), origin(self, key), optional=optional)
        if not isinstance(self.credential, OwnCredential):
            where = origin(self, "credential")
            kinds = get_args(CredentialKind)
            check_choice("credential", self.credential, kinds, where, optional=False, secret_like=True)
        check_kinds(self)
        check_budget_store(self)
        check_budget_namespace(self)
        if self.deployments or not isinstance(self.deployments, tuple):  # [] too: it is a mistake
            self._route()
            return
        if self.endpoint:
            endpoint = self.endpoint.rstrip("/")
            is_v1 = endpoint.endswith(AZURE_V1_SUFFIX)
            if is_v1:
                endpoint = endpoint[: -len(AZURE_V1_SUFFIX)]
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
        check_numbers(self)
        check_values(self)
        check_prices(self)
        if self.provider == "fake":
            # The fakes need no model; naming one keeps logs and replies meaningful offline.
            object.__setattr__(self, "chat_model", self.chat_model or "fake-chat")
            object.__setattr__(self, "embedding_model", self.embedding_model or "fake-embedding")
        elif self.provider != "openai":
            check_endpoint(self, origin(self, "endpoint"))
            object.__setattr__(self, "auth", resolve_auth(self, API_KEY_ENV[str(self.provider)]))
        else:
            object.__setattr__(self, "auth", resolve_auth(self, API_KEY_ENV["openai"]))

    def _route(self) -> None:
        """A client over several deployments: each is validated; the client takes the first's shape."""
        deployments = routed(self)
        object.__setattr__(self, "deployments", deployments)
        first = min(deployments, key=lambda deployment: deployment.priority).settings
        for key in ("provider", "auth"):
            object.__setattr__(self, key, getattr(first, key))
        for key in ("chat_model", "embedding_model"):
            if getattr(self, key) is None:
                model = next(
                    (getattr(d.settings, key) for d in deployments if getattr(d.settings, key)), None
                )
                object.__setattr__(self, key, model)
        check_numbers(self)
        check_values(self)
        check_prices(self)

    @property
    def routes(self) -> tuple[DeploymentSettings, ...]:
        """The validated deployments; empty for a client of one endpoint."""
        return cast("tuple[DeploymentSettings, ...]", tuple(self.deployments))

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    @entry
    def from_dict(
        cls, values: Mapping[str, Any], *, name: str = "default", source: str | Mapping[str, str] = "dict"
    ) -> Settings:
        """Build settings from a mapping whose keys are the field names.

        Strings are converted to the field's type, so values read from files or the environment work.

        Raises:
            ConfigurationError: an unknown key, or a value that is not of the field's type.
        """
        if is_component(values):  # autogen's {"provider": "...ChatCompletionClient", "config": {...}}
            values = from_component(values)
            source = f"{source} (autogen component)" if isinstance(source, str) else source
        sources = {key: source for key in values} if isinstance(source, str) else dict(source)
        known = {f.name for f in dataclasses.fields(cls)} - {"name", "sources"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown setting(s) {', '.join(unknown)}{describe(sources.get(unknown[0], 'keyword'))}; "
                f"the settings are: {', '.join(sorted(known))}"
            )
        converted = {
            key: convert(key, value, describe(sources.get(key, "keyword"))) for key, value in values.items()
        }
        return cls(**converted, name=name, sources=sources)

    @classmethod
    @entry
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from environment variables (see the README's table); keywords win.

        Raises:
            ConfigurationError: see the class docstring.
        """
        values, sources = read_env(os.environ if environ is None else environ, overrides)
        return cls.from_dict(values, source=sources)

    @classmethod
    @entry
    def from_toml(cls, path: str | os.PathLike[str], *, name: str = "default") -> Settings:
        """Read one client's settings from a TOML file.

        The file holds either the settings at its top level or one table per client,
        ``[clients.NAME]``; ``name`` picks the table.

        Raises:
            ConfigurationError: the file is missing or malformed, or has no such client.
        """
        values, source = _client_table(path, name)
        return cls.from_dict(values, name=name, source=source)

    @classmethod
    @entry
    def all_from_toml(cls, path: str | os.PathLike[str]) -> dict[str, Settings]:
        """Read every client's settings from a TOML file, by name (see :meth:`from_toml`).

        Raises:
            ConfigurationError: the file is missing or malformed, or a client's settings are invalid.
        """
        return {
            name: cls.from_dict(values, name=name, source=source)
            for name, (values, source) in client_tables(path).items()
        }

    @entry
    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied and validated; their source becomes ``keyword``."""
        converted = {key: convert(key, value, describe("keyword")) for key, value in changes.items()}
        sources = {**self.sources, **dict.fromkeys(changes, "keyword")}
        return dataclasses.replace(self, **converted, sources=sources)

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
            if isinstance(value, Headers):
                value = value.redacted()
            if f.name == "budget_store":
                value = redacted_store(value)
            if f.name == "deployments":
                value = [deployment.redacted() for deployment in self.routes]
            shown[f.name] = "**********" if isinstance(value, Secret) else value
            if isinstance(value, OwnCredential):
                shown[f.name] = repr(value)
        return shown


# Settings(...) itself: its generated __init__ holds every value as given (secrets in clear).
Settings.__init__ = entry(Settings.__init__)  # type: ignore[method-assign]


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
    values, source = _client_table(path, name)
    return dict(values), dict.fromkeys(values, source)


def _client_table(path: str | os.PathLike[str], name: str) -> tuple[dict[str, Any], str]:
    tables = client_tables(path)
    if name not in tables:
        raise ConfigurationError(
            f"config file {str(path)!r} has no [clients.{name}]; it has: {', '.join(sorted(tables))}"
        )
    return tables[name]


def _normalise(settings: Settings) -> None:
    """Secrets given as text become Secret; an empty string is an unset secret or optional name."""
    for key in SECRETS:
        value = getattr(settings, key)
        if isinstance(value, str):
            object.__setattr__(settings, key, Secret(value) if value else None)
        elif value is not None and not isinstance(value, Secret):
            raise ConfigurationError(
                f"{key}: must be a string, got {type(value).__name__}{origin(settings, key)}"
            )
    for key in _OPTIONAL_NAMES:
        if getattr(settings, key) == "":
            object.__setattr__(settings, key, None)
    if not isinstance(settings.default_headers, Headers):
        where = origin(settings, "default_headers")
        headers = Headers(
            settings.default_headers, where="default_headers", origin=where, error=ConfigurationError
        )
        object.__setattr__(settings, "default_headers", headers)
