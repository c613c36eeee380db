"""Your own credential as a CredentialPort: a token-provider callable or an azure-core TokenCredential."""

from __future__ import annotations

import base64
import inspect
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeGuard

from ...domain.defaults import DEFAULT_SCOPE, TOKEN_REFRESH_MARGIN
from ...domain.errors import AuthenticationError, ConfigurationError, LLMPortError
from ...domain.models import AccessToken
from ...domain.redaction import redact, unchained

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = ["PROVIDER_REUSE", "AzureCoreCredential", "TokenProviderCredential"]

#: Seconds a token-provider's token that states no expiry (not a JWT) is reused before it is asked again.
PROVIDER_REUSE = 60.0


class TokenProviderCredential:
    """A token-provider callable as a CredentialPort: what ``get_bearer_token_provider`` returns.

    A provider gives a bare string. When it is a JWT (Entra's tokens are), its ``exp`` claim is the
    expiry, so the token cache reuses it until ``token_refresh_margin`` before then, as it would
    any credential's; azure-identity's provider keeps its own cache and hands back the same token
    meanwhile. Any other token is taken as valid for ``assumed_lifetime`` seconds: the container
    passes the refresh margin plus ``PROVIDER_REUSE``, so the provider is asked again once a minute.
    A provider takes no scopes (it was made for one) and no claims: after a 401 it is simply asked
    again, and the 401 is retried only if it gives a different token.

    Args:
        provider: a function of no arguments returning a bearer token.
        assumed_lifetime: seconds a token without a readable expiry is taken to be valid for.
        clock: seconds since the epoch, for that assumed expiry.

    Raises:
        ConfigurationError: ``provider`` is not callable.
    """

    def __init__(
        self,
        provider: Callable[[], str],
        *,
        assumed_lifetime: float = TOKEN_REFRESH_MARGIN + PROVIDER_REUSE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not callable(provider):
            raise ConfigurationError(f"a token provider must be callable, got {type(provider).__name__}")
        self._provider = provider
        self._assumed_lifetime = assumed_lifetime
        self._clock = clock

    def get_token(self, *scopes: str, claims: str | None = None) -> AccessToken:
        """Ask the provider; the scopes and claims cannot be passed to it and are not.

        Raises:
            AuthenticationError: the provider failed or returned something other than a string.
        """
        name = _name_of(self._provider)
        failure: LLMPortError
        try:
            token = self._provider()
        except Exception as exc:
            failure = AuthenticationError(f"the token provider {name} gave no token: {_first_line(exc)}")
        else:
            if isinstance(token, str):
                expires_on = _jwt_expiry(token)
                return AccessToken(token, expires_on or self._clock() + self._assumed_lifetime)
            failure = AuthenticationError(
                f"the token provider {name} returned {type(token).__name__}, not a bearer token string"
            )
        raise unchained(failure)

    def __repr__(self) -> str:
        return f"TokenProviderCredential({_name_of(self._provider)})"


class AzureCoreCredential:
    """Any azure-core ``TokenCredential`` object (``get_token(*scopes, **kwargs)``) as a CredentialPort.

    Its tokens carry their expiry, so the token cache refreshes them ``token_refresh_margin``
    before it. A claims challenge from a 401 is passed through as ``claims=`` when its
    ``get_token`` accepts that keyword (azure-identity's credentials do). llmport never closes an
    object it did not build: the caller owns it.

    Args:
        credential: the object, e.g. ``azure.identity.ManagedIdentityCredential()``.

    Raises:
        ConfigurationError: the object has no callable ``get_token``.
    """

    def __init__(self, credential: TokenCredential) -> None:
        get_token = getattr(credential, "get_token", None)
        if not callable(get_token):
            raise ConfigurationError(f"{type(credential).__name__} has no get_token(*scopes) method")
        self._credential = credential
        try:
            parameters = inspect.signature(get_token).parameters.values()
        except (TypeError, ValueError):  # a builtin without a signature: try the keyword
            self._takes_claims = True
        else:
            self._takes_claims = any(
                p.name == "claims" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
            )

    def get_token(self, *scopes: str, claims: str | None = None) -> AccessToken:
        """Return a token for ``scopes`` (default: Azure OpenAI's scope).

        Raises:
            AuthenticationError: the object failed, or returned no ``.token`` string and
                ``.expires_on`` number.
        """
        name = type(self._credential).__name__
        options: dict[str, Any] = {"claims": claims} if claims and self._takes_claims else {}
        failure: LLMPortError
        try:
            token = self._credential.get_token(*(scopes or (DEFAULT_SCOPE,)), **options)
        except Exception as exc:
            failure = AuthenticationError(f"{name} gave no token: {_first_line(exc)}", provider="azure")
        else:
            value, expires_on = getattr(token, "token", None), getattr(token, "expires_on", None)
            if isinstance(value, str) and _is_number(expires_on):
                return AccessToken(value, float(expires_on))
            failure = AuthenticationError(
                f"{name}.get_token returned {type(token).__name__}, not an object with .token and .expires_on"
            )
        raise unchained(failure)

    def __repr__(self) -> str:
        return f"AzureCoreCredential({type(self._credential).__name__})"


def _name_of(provider: object) -> str:
    """A function's qualified name, or an object's type name: never its repr (which may hold a secret)."""
    name = getattr(provider, "__qualname__", None)
    return name if isinstance(name, str) else type(provider).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {redact(text.splitlines()[0] if text else '')[:300]}"


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without verifying it (it is only a refresh hint), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:  # not base64 or not JSON: an opaque token
        return None
    expiry = claims.get("exp") if isinstance(claims, dict) else None
    return float(expiry) if _is_number(expiry) else None


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
