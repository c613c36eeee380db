"""Typed, frozen settings from keywords, a dict, a TOML file or the environment; secrets never printed.

``Settings`` and ``DeploymentSettings`` (a deployment of a routed client, holding its own Settings)
refer to each other, so they live together here, at the top of ``settings/``: every reader and
check below takes plain values and imports neither.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

from ..domain import defaults
from ..domain.call_options import Headers
from ..domain.context_windows import EMBEDDING_REQUEST_TOKENS
from ..domain.defaults import DEFAULT_SCOPE, DEFAULT_TIMEOUT, MAX_EMBEDDING_BATCH, TOKEN_REFRESH_MARGIN
from ..domain.errors import ConfigurationError
from ..domain.redaction import entry
from ..domain.usage import FrozenMap, ModelPrice
from .cache import check_cache
from .credential import (
    PARAMETERS,
    CredentialKind,
    OwnCredential,
    SupportsGetToken,
    TokenProvider,
    unpack_credential,
)
from .routing import (
    CLIENT_OWN,
    ROUTING_KEYS,
    check_budget_namespace,
    check_budget_store,
    check_entries,
    check_names,
    check_routing,
    read_entry,
    redacted_store,
)
from .rules import (
    check_choices,
    check_endpoint,
    check_kinds,
    check_numbers,
    check_prices,
    check_values,
    detect_provider,
    normalised,
    resolve_auth,
)
from .sources import (
    API_KEY_ENV,
    client_table,
    client_tables,
    convert,
    describe,
    origin,
    read_env,
    read_mapping,
)
from .values import Auth, MaxTokensField, Provider, Secret, WireApi

__all__ = ["DeploymentSettings", "OwnCredential", "Secret", "Settings", "budget_key"]

#: What ``credential`` takes; Settings holds a kind's name or an OwnCredential after validation.
CredentialSetting: TypeAlias = (
    CredentialKind | OwnCredential | TokenProvider | SupportsGetToken | Mapping[str, Any]
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
    timeout: float = DEFAULT_TIMEOUT
    deadline: float | None = 120.0
    embedding_batch_size: int = MAX_EMBEDDING_BATCH
    embedding_token_budget: int = EMBEDDING_REQUEST_TOKENS
    embedding_max_workers: int = 1
    #: The chat model's context window in tokens, over the built-in table; None: the table's
    #: (no check for a model it lacks). A deployment entry may set its own.
    context_window: int | None = None
    token_refresh_margin: float = TOKEN_REFRESH_MARGIN
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
    #: rpm, tpm (see ``settings/routing.py``); what an entry leaves out it takes from the client.
    deployments: Sequence[DeploymentSettings | Mapping[str, Any]] = ()
    #: Where the deployments' rate budgets live: ``memory`` (this process) or a Redis URL (shared).
    budget_store: str = field(default="memory", repr=False)
    #: Set apart in a shared budget store: apps with different namespaces never share a budget
    #: there, even for one deployment (e.g. two OpenAI organisations on one model); None: none.
    budget_namespace: str | None = None
    #: Move a routed call whose sent request timed out to another deployment (it may be billed twice).
    move_after_timeout: bool = False
    #: The reply cache: ``off``, ``memory`` (this process) or a Redis URL (shared); see the README.
    cache: str = field(default="off", repr=False)
    cache_ttl: float = defaults.CACHE_TTL
    cache_max_bytes: int = defaults.CACHE_MAX_BYTES
    cache_namespace: str = ""
    name: str = field(default="default", compare=False)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._unpack_credential()
        for key, value in normalised(self._values(), self.sources).items():
            object.__setattr__(self, key, value)
        values = self._values()
        check_choices(values, self.sources)
        check_kinds(values, self.sources)
        check_budget_store(self.budget_store, self._origin("budget_store"))
        check_budget_namespace(self.budget_namespace, self._origin("budget_namespace"))
        check_cache(values, self.sources)
        if self.deployments or not isinstance(self.deployments, tuple):  # [] too: it is a mistake
            self._route()
            return
        provider, endpoint = detect_provider(values)
        object.__setattr__(self, "provider", provider)
        object.__setattr__(self, "endpoint", endpoint)
        self._check_values()
        if self.provider == "fake":
            # The fakes need no model; naming one keeps logs and replies meaningful offline.
            object.__setattr__(self, "chat_model", self.chat_model or "fake-chat")
            object.__setattr__(self, "embedding_model", self.embedding_model or "fake-embedding")
            return
        values = self._values()
        if self.provider != "openai":
            check_endpoint(values, self._origin("endpoint"))
        object.__setattr__(self, "auth", resolve_auth(values, API_KEY_ENV[str(self.provider)]))

    def _values(self) -> dict[str, Any]:
        """The fields by name, as the checks take them (a copy: read it again after a change)."""
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    def _origin(self, key: str) -> str:
        return origin(self.sources, key)

    def _unpack_credential(self) -> None:
        """The credential setting as a kind's name or an OwnCredential, before any other check."""
        source = self.sources.get("credential", "keyword")
        given = {key: getattr(self, key) for key in ("api_key", *PARAMETERS)}
        changes = unpack_credential(self.credential, given, source)
        if not changes:
            return
        for key, value in changes.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "sources", {**dict.fromkeys(changes, source), **self.sources})

    def _check_values(self) -> None:
        values = self._values()
        check_numbers(values, self.sources)
        check_values(values, self.sources)
        prices, deployment_models = check_prices(self.prices, self.deployment_models, self.sources)
        object.__setattr__(self, "prices", prices)
        object.__setattr__(self, "deployment_models", deployment_models)

    def _route(self) -> None:
        """A client over several deployments: each is validated; the client takes the first's shape."""
        where = self._origin("deployments")
        entries = check_entries(self.deployments, where)
        inherited = self._inherited()
        deployments = tuple(
            given if isinstance(given, DeploymentSettings) else self._deployment(given, index, inherited)
            for index, given in enumerate(entries)
        )
        check_names([deployment.name for deployment in deployments], where)
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
        self._check_values()

    def _inherited(self) -> dict[str, Any]:
        """The client's settings that differ from their defaults: what every deployment starts from."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in CLIENT_OWN and (getattr(self, f.name) != f.default or f.name in self.sources)
        }

    def _deployment(self, given: object, index: int, inherited: dict[str, Any]) -> DeploymentSettings:
        """One entry of ``deployments``: its settings over the client's, and how it is routed."""
        where = self._origin("deployments")
        read = read_entry(given, index, self.sources.get("deployments", "keyword"), where)
        sources = {key: self.sources.get(key, "keyword") for key in inherited}
        sources.update(dict.fromkeys(read.own, read.source))
        try:
            settings = type(self).from_dict(
                {**inherited, **read.own}, name=f"{self.name}.{read.name}", source=sources
            )
        except ConfigurationError as error:
            raise ConfigurationError(f"{read.label}: {error.message}") from None
        routing = check_routing(read.routing, read.label, describe(read.source))
        deployment = DeploymentSettings(read.name, settings, **routing)
        if not deployment.kinds:
            raise ConfigurationError(
                f"{read.label}: names no model; set chat_model or embedding_model here or on the "
                f"client{where}"
            )
        return deployment

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
        known = frozenset(f.name for f in dataclasses.fields(cls)) - {"name", "sources"}
        converted, sources = read_mapping(values, source, known)
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
        values, source = client_table(path, name)
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
            if f.name in ("budget_store", "cache"):
                value = redacted_store(value)
            if f.name == "deployments":
                value = [deployment.redacted() for deployment in self.routes]
            shown[f.name] = "**********" if isinstance(value, Secret) else value
            if isinstance(value, OwnCredential):
                shown[f.name] = repr(value)
        return shown


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Settings))
# Settings(...) itself: its generated __init__ holds every value as given (secrets in clear).
Settings.__init__ = entry(Settings.__init__)  # type: ignore[method-assign]


@dataclass(frozen=True, slots=True)
class DeploymentSettings:
    """One deployment of a client: where it is (its own validated Settings) and how it is routed.

    Args:
        name: the deployment's id: on results, errors, logs, and its budget's key in the store.
        settings: how to reach it: the entry's settings over the client's.
        priority: lower is tried first (a PTU deployment 0, pay-as-you-go 1).
        weight: breaks ties within a priority (higher first).
        rpm: requests per minute it may take, or None for no limit.
        tpm: tokens per minute it may take, or None for no limit.
        eject_after: consecutive failures that eject it.
        eject_for: seconds an ejection lasts before one probe call may go.
    """

    name: str
    settings: Settings
    priority: int = 0
    weight: float = 1.0
    rpm: int | None = None
    tpm: int | None = None
    eject_after: int = 3
    eject_for: float = 30.0

    @property
    def kinds(self) -> frozenset[str]:
        """The calls it takes: ``chat`` with a chat model, ``embeddings`` with an embedding model."""
        settings = self.settings
        return frozenset(
            kind
            for kind, model in (("chat", settings.chat_model), ("embeddings", settings.embedding_model))
            if model is not None
        )

    def redacted(self) -> dict[str, Any]:
        """How it is routed and reached, for display: no secret, only the settings that matter."""
        shown: dict[str, Any] = {
            key: getattr(self, key) for key in ROUTING_KEYS if key == "name" or getattr(self, key) is not None
        }
        for key in _SHOWN:
            value = getattr(self.settings, key)
            if value is not None:
                shown[key] = value
        return shown


# What a deployment shows of its settings besides how it is routed.
_SHOWN = ("provider", "endpoint", "base_url", "api_version", "auth", "chat_model", "embedding_model")


def budget_key(deployment: DeploymentSettings) -> str:
    """What the provider limits for ``deployment``: its endpoint (or base URL) and its model or
    Azure deployment names, the key of its budget, cooldown and ejection in a shared store."""
    settings = deployment.settings
    where = settings.endpoint or settings.base_url or f"{settings.provider}:default"
    models = "|".join(model or "" for model in (settings.chat_model, settings.embedding_model))
    return f"{where.rstrip('/').lower()}|{models}"
