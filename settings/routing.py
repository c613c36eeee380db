"""A client over several deployments: the ``deployments`` list and the budget store, as settings.

Each entry of ``deployments`` is one deployment's settings (any setting: provider, endpoint,
base_url, api_key, chat_model, auth, context_window...) plus how it is routed (``name``, ``priority``,
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

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from ..domain.errors import ConfigurationError
from .sources import convert, describe

__all__ = [
    "CLIENT_OWN",
    "ROUTING_KEYS",
    "Entry",
    "check_budget_namespace",
    "check_budget_store",
    "check_entries",
    "check_names",
    "check_routing",
    "read_entry",
    "redacted_store",
]

#: The keys of a deployment entry that say how it is routed; every other key is a setting.
ROUTING_KEYS = ("name", "priority", "weight", "rpm", "tpm", "eject_after", "eject_for")
#: The client's own settings that a deployment never takes from it.
CLIENT_OWN = frozenset(
    {"name", "sources", "deployments", "budget_store", "budget_namespace", "move_after_timeout"}
)
_STORE_SCHEMES = ("redis", "rediss", "unix")
# The client's own settings that a deployment entry may not set: one store and one policy for all.
_CLIENT_ONLY = frozenset({"budget_store", "move_after_timeout"})


class Entry(NamedTuple):
    """One entry of ``deployments``, read and checked, before its settings are built."""

    #: The deployment's id.
    name: str
    #: ``deployments[NAME]``, what its messages start with.
    label: str
    #: The source label its own settings carry.
    source: str
    #: How it is routed: the ``ROUTING_KEYS`` it sets but the name (see ``check_routing``).
    routing: dict[str, Any]
    #: Its own settings, unchecked (the settings it is built into check them).
    own: dict[str, Any]


def check_entries(entries: object, where: str) -> Sequence[Any]:
    """The ``deployments`` setting as a non-empty list of entries.

    Raises:
        ConfigurationError: it is not a list, or it is empty.
    """
    if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, (list, tuple)):
        raise ConfigurationError(
            f"deployments: must be a list of tables ([[clients.NAME.deployments]] in TOML){where}"
        )
    if not entries:
        raise ConfigurationError(f"deployments: the list is empty; leave it out for one endpoint{where}")
    return entries


def check_names(names: Sequence[str], where: str) -> None:
    """Refuse a deployment name used twice: it keys the budget and names the deployment in logs."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigurationError(f"deployments: the name {repeated[0]!r} is used twice{where}")


def read_entry(entry: object, index: int, source: str, where: str) -> Entry:
    """Read one entry of ``deployments``: a table with a name, routing keys and settings.

    Args:
        entry: the entry as given.
        index: its place in the list, for the messages of an entry without a name.
        source: where ``deployments`` came from (a source label).
        where: the same, as messages append it.

    Raises:
        ConfigurationError: the entry is not a table, lacks a name, holds deployments or a client's
            own setting, or a routing key of the wrong type or range.
    """
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
    source = f"{source} {label}"
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
    return Entry(name, label, source, routing, own)


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


def check_routing(routing: dict[str, Any], label: str, where: str) -> dict[str, Any]:
    """The routing keys of an entry, each of its type and range (after its settings: those first)."""
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


def check_budget_store(value: object, where: str) -> None:
    """``memory``, or a Redis URL (``redis://``, ``rediss://``, ``unix://``).

    Args:
        value: the ``budget_store`` setting.
        where: where it came from, appended to a message.
    """
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


def check_budget_namespace(value: object, where: str) -> None:
    """None, or a non-blank string of printable characters without braces (it is part of keys).

    Args:
        value: the ``budget_namespace`` setting.
        where: where it came from, appended to a message.
    """
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
            f"got {value!r}{where}"
        )


def redacted_store(url: str) -> str:
    """The budget store's URL with any password replaced by ``**********``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{user}:**********@{host}").geturl()
