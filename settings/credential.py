"""The credential setting: a kind's name, a nested table of a kind and its parameters, or your own object."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol, cast, get_args

from ..domain.errors import ConfigurationError
from .sources import describe

__all__ = [
    "KINDS",
    "PARAMETERS",
    "CredentialKind",
    "OwnCredential",
    "SupportsGetToken",
    "TokenProvider",
    "unpack_credential",
]

CredentialKind = Literal["default", "managed_identity", "client_secret", "workload_identity", "azure_cli"]
KINDS: tuple[str, ...] = get_args(CredentialKind)
#: A function of no arguments returning a bearer token (``azure.identity.get_bearer_token_provider``).
TokenProvider = Callable[[], str]
#: The settings a credential table may set besides its kind (and ``api_key``, which kind api_key sets).
PARAMETERS = ("client_id", "tenant_id", "client_secret")


class SupportsGetToken(Protocol):
    """azure-core's TokenCredential shape: ``get_token(*scopes, **kwargs)`` -> ``.token``, ``.expires_on``."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


class OwnCredential:
    """Your own credential, held by Settings: a token provider or an object with ``get_token``.

    It shows the function's qualified name or the object's type, never the object's own repr
    (which may hold a secret). Two are equal when they hold the same object.
    """

    __slots__ = ("kind", "value")

    def __init__(self, value: TokenProvider | SupportsGetToken) -> None:
        self.value = value
        self.kind: Literal["token_provider", "token_credential"] = (
            "token_credential" if callable(getattr(value, "get_token", None)) else "token_provider"
        )

    def __repr__(self) -> str:
        if self.kind == "token_credential":
            return f"<TokenCredential {type(self.value).__name__}>"
        name = getattr(self.value, "__qualname__", None)
        return f"<token provider {name if isinstance(name, str) else type(self.value).__name__}>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OwnCredential) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)


def unpack_credential(value: object, given: Mapping[str, object], source: str) -> dict[str, Any]:
    """The settings a credential value sets: none for a kind's name or an OwnCredential.

    A mapping ``{"kind": ..., "client_id": ..., ...}`` (a nested dict or TOML table) sets the kind
    and its parameters; ``{"kind": "api_key", "key": ...}`` sets the API key. An object with
    ``get_token`` or a callable becomes an OwnCredential; an object with a ``key`` string (azure-core's
    AzureKeyCredential) sets the API key.

    Args:
        value: the ``credential`` setting as given.
        given: the values set outside it, by name: ``api_key`` and the ``PARAMETERS``.
        source: where the credential came from (a source label).

    Returns:
        The settings to change, by name, ``credential`` among them; empty when there is nothing to unpack.

    Raises:
        ConfigurationError: a table without a known kind, an unknown parameter, a parameter also set
            outside the table with another value, or a value that is none of these.
    """
    where = describe(source)
    if isinstance(value, (str, OwnCredential)):
        return {}
    changes: dict[str, Any]
    if isinstance(value, Mapping):
        changes = _from_table(value, where)
    elif callable(getattr(value, "get_token", None)) or callable(value):
        changes = {"credential": OwnCredential(cast("TokenProvider | SupportsGetToken", value))}
    elif isinstance(key := getattr(value, "key", None), str):
        changes = {"credential": "default", "api_key": key}
    else:
        raise ConfigurationError(
            f"credential: {type(value).__name__} is not a credential; give one of {', '.join(KINDS)}, "
            f"a table with kind and its parameters, a function returning a bearer token, or an object "
            f"with get_token(*scopes){where}"
        )
    for key, new in changes.items():
        old = given.get(key)
        if key != "credential" and old not in (None, "") and _plain(old) != new:
            raise ConfigurationError(
                f"credential: {key} is set both inside the credential and outside it, differently; "
                f"set it once{where}"
            )
    return changes


def _from_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    kind = table.get("kind")
    if kind == "api_key":
        allowed: tuple[str, ...] = ("kind", "key")
    elif kind in KINDS:
        allowed = ("kind", *PARAMETERS)
    else:
        raise ConfigurationError(
            f"credential: a credential table needs kind = one of {', '.join((*KINDS, 'api_key'))}, "
            f"got {kind!r}{where}"
        )
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigurationError(
            f"credential: {', '.join(unknown)} is not a parameter of kind {kind}; "
            f"it takes {', '.join(allowed[1:])}{where}"
        )
    if kind == "api_key":
        if not table.get("key"):
            raise ConfigurationError(f"credential: kind api_key needs key = the API key{where}")
        return {"credential": "default", "api_key": table["key"]}
    return {"credential": kind, **{key: table[key] for key in PARAMETERS if key in table}}


def _plain(value: Any) -> Any:
    reveal = getattr(value, "reveal", None)
    return reveal() if callable(reveal) else value
