"""A client over several deployments: the ``deployments`` list and the budget store, as settings.

Each entry of ``deployments`` is one deployment's settings (any setting: provider, endpoint,
base_url, api_key, chat_model, auth...) plus how it is routed (``name``, ``priority``,
``weight``, ``rpm``, ``tpm``, ``eject_after``, ``eject_for``). What an entry does not set, it
takes from the client around it, so the shared parts (auth, api_version, timeouts, prices) are
written once::

    [clients.chat]
    chat_model = "gpt-4o"
    api_version = "2024-10-21"
    budget_store = "redis://127.0.0.1:6379/0"

    [[clients.chat.deployments]]
    name = "ptu-east"
    endpoint = "https://east.openai.azure.com"
    priority = 0
    tpm = 100000

    [[clients.chat.deployments]]
    name = "paygo-west"
    endpoint = "https://west.openai.azure.com"
    priority = 1
    tpm = 30000
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ..domain.errors import ConfigurationError
from .sources import convert, describe, origin

if TYPE_CHECKING:
    from .model import Settings

__all__ = [
    "ROUTING_KEYS",
    "DeploymentSettings",
    "budget_key",
    "check_budget_namespace",
    "check_budget_store",
    "redacted_store",
    "routed",
]

#: The keys of a deployment entry that say how it is routed; every other key is a setting.
ROUTING_KEYS = ("name", "priority", "weight", "rpm", "tpm", "eject_after", "eject_for")
# The client's own settings that a deployment never takes from it.
_NOT_INHERITED = frozenset(
    {"name", "sources", "deployments", "budget_store", "budget_namespace", "move_after_timeout"}
)
_STORE_SCHEMES = ("redis", "rediss", "unix")
# The client's own settings that a deployment entry may not set: one store and one policy for all.
_CLIENT_ONLY = frozenset({"budget_store", "move_after_timeout"})


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
        settings = self.settings
        shown: dict[str, Any] = {
            key: getattr(self, key) for key in ROUTING_KEYS if key == "name" or getattr(self, key) is not None
        }
        for key in (
            "provider",
            "endpoint",
            "base_url",
            "api_version",
            "auth",
            "chat_model",
            "embedding_model",
        ):
            value = getattr(settings, key)
            if value is not None:
                shown[key] = value
        return shown


def routed(parent: Settings) -> tuple[DeploymentSettings, ...]:
    """Validate the client's ``deployments`` into DeploymentSettings, inheriting the client's settings.

    Raises:
        ConfigurationError: an entry is not a table, lacks a name, repeats one, holds an unknown
            key or a bad value; the message names the deployment and the key.
    """
    entries = parent.deployments
    where = origin(parent, "deployments")
    if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, (list, tuple)):
        raise ConfigurationError(
            f"deployments: must be a list of tables ([[clients.NAME.deployments]] in TOML){where}"
        )
    if not entries:
        raise ConfigurationError(f"deployments: the list is empty; leave it out for one endpoint{where}")
    inherited = _inherited(parent)
    built: list[DeploymentSettings] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, DeploymentSettings):
            built.append(entry)
            continue
        built.append(_deployment(parent, entry, index, inherited, where))
    names = [deployment.name for deployment in built]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigurationError(f"deployments: the name {repeated[0]!r} is used twice{where}")
    return tuple(built)


def _inherited(parent: Settings) -> dict[str, Any]:
    """The client's settings that differ from their defaults: what every deployment starts from."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(parent):
        if f.name in _NOT_INHERITED:
            continue
        value = getattr(parent, f.name)
        if value != f.default or f.name in parent.sources:
            values[f.name] = value
    return values


def _deployment(
    parent: Settings, entry: Any, index: int, inherited: dict[str, Any], where: str
) -> DeploymentSettings:
    if not isinstance(entry, Mapping):
        raise ConfigurationError(f"deployments[{index}]: must be a table of settings{where}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ConfigurationError(
            f"deployments[{index}]: needs a name, a non-blank string without padding{where}"
        )
    if not name.isprintable():
        # The name keys its budget in Redis and stands in every log line: one line, no control characters.
        raise ConfigurationError(
            f"deployments[{index}].name: {name!r} holds a newline or control character; use a plain "
            f"name like 'ptu-east'{where}"
        )
    label = f"deployments[{name}]"
    source = f"{parent.sources.get('deployments', 'keyword')} {label}"
    routing = {
        key: _routing_value(key, entry[key], label, describe(source))
        for key in ROUTING_KEYS
        if key in entry and key != "name"
    }
    own = {key: value for key, value in entry.items() if key not in ROUTING_KEYS}
    if "deployments" in own:
        raise ConfigurationError(f"{label}: a deployment cannot hold deployments{where}")
    client_only = sorted(_CLIENT_ONLY & set(own))
    if client_only:
        raise ConfigurationError(
            f"{label}.{client_only[0]}: is the client's setting, shared by all its deployments; set it on "
            f"the client, not in a deployment{describe(source)}"
        )
    sources = {key: parent.sources.get(key, "keyword") for key in inherited}
    sources.update(dict.fromkeys(own, source))
    try:
        settings = type(parent).from_dict({**inherited, **own}, name=f"{parent.name}.{name}", source=sources)
    except ConfigurationError as error:
        raise ConfigurationError(f"{label}: {error.message}") from None
    deployment = DeploymentSettings(name, settings, **_checked(routing, label, describe(source)))
    if not deployment.kinds:
        raise ConfigurationError(
            f"{label}: names no model; set chat_model or embedding_model here or on the client{where}"
        )
    return deployment


def _routing_value(key: str, value: Any, label: str, where: str) -> Any:
    """A routing key's value as given: a number written as text (``priority = "1"``) is a mistake."""
    if not isinstance(value, str):
        return value
    try:
        convert(key, value)
    except ConfigurationError:
        problem = "is not a number" if key in ("weight", "eject_for") else "is not a whole number"
    else:
        problem = "is text, not a number"
    raise ConfigurationError(
        f"{label}.{key}: {value!r} {problem}; write a number without quotes, like {key} = "
        f"{_EXAMPLES[key]}{where}"
    )


_EXAMPLES = {
    "priority": "0",
    "weight": "1.0",
    "rpm": "600",
    "tpm": "100000",
    "eject_after": "3",
    "eject_for": "30",
}


def _checked(routing: dict[str, Any], label: str, where: str) -> dict[str, Any]:
    """The routing keys, each of its type and range."""
    for key in ("priority", "rpm", "tpm", "eject_after"):
        value = routing.get(key)
        low = 0 if key == "priority" else 1
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise ConfigurationError(f"{label}.{key}: must be a whole number >= {low}, got {value!r}{where}")
    for key in ("weight", "eject_for"):
        value = routing.get(key)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
        ):
            raise ConfigurationError(f"{label}.{key}: must be a number > 0, got {value!r}{where}")
    return routing


def check_budget_store(settings: Settings) -> None:
    """``memory``, or a Redis URL (``redis://``, ``rediss://``, ``unix://``)."""
    value = settings.budget_store
    where = origin(settings, "budget_store")
    if value == "memory":
        return
    if not isinstance(value, str) or urlsplit(value).scheme not in _STORE_SCHEMES or value != value.strip():
        shown = redacted_store(value) if isinstance(value, str) else repr(value)
        raise ConfigurationError(
            f"budget_store: {shown!r} is neither 'memory' nor a Redis URL like "
            f"'redis://127.0.0.1:6379/0'{where}"
        )
    problem = _store_problem(value)
    if problem:
        raise ConfigurationError(
            f"budget_store: {redacted_store(value)!r} {problem}; write it like 'redis://HOST:6379/0' "
            f"(or 'unix:///path/to/redis.sock?db=0'){where}"
        )


def _store_problem(url: str) -> str | None:
    """What a Redis URL lacks that redis-py would only find when it connects, or None."""
    parts = urlsplit(url)
    try:
        _ = parts.port  # reading the port is what raises ValueError for a bad one
    except ValueError:
        return "has a port that is not a number from 0 to 65535"
    if parts.scheme == "unix":
        return None if parts.path.strip("/") else "names no socket path"
    if not parts.hostname:
        return "names no host"
    database = unquote(parts.path).strip("/")
    if database and not database.isdigit():
        return f"names the database {database!r}, which is not a number"
    return None


def check_budget_namespace(settings: Settings) -> None:
    """None, or a non-blank string of printable characters without braces (it is part of keys)."""
    value = settings.budget_namespace
    if value is None:
        return
    if (
        not isinstance(value, str)
        or not value.strip()
        or not value.isprintable()
        or "{" in value
        or "}" in value
    ):
        raise ConfigurationError(
            f"budget_namespace: must be a non-blank name without braces, like 'billing-app', "
            f"got {value!r}{origin(settings, 'budget_namespace')}"
        )


def budget_key(deployment: DeploymentSettings) -> str:
    """What the provider limits for ``deployment``: its endpoint (or base URL) and its model or
    Azure deployment names, the key of its budget, cooldown and ejection in a shared store."""
    settings = deployment.settings
    where = settings.endpoint or settings.base_url or f"{settings.provider}:default"
    models = "|".join(model or "" for model in (settings.chat_model, settings.embedding_model))
    return f"{where.rstrip('/').lower()}|{models}"


def redacted_store(url: str) -> str:
    """The budget store's URL with any password replaced by ``**********``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{user}:**********@{host}").geturl()
