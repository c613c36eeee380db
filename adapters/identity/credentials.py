"""Credentials: an API key, a static token, Entra ID through azure-identity, your own provider or object."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from ...domain.defaults import DEFAULT_SCOPE
from ...domain.errors import AuthenticationError, ConfigurationError, LLMPortError
from ...domain.models import AccessToken
from ...domain.redaction import redact, unchained
from .own_credentials import PROVIDER_REUSE, AzureCoreCredential, TokenProviderCredential

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = [
    "DEFAULT_SCOPE",
    "PROVIDER_REUSE",
    "ApiKeyCredential",
    "AzureCoreCredential",
    "AzureIdentityCredential",
    "CredentialKind",
    "StaticTokenCredential",
    "TokenProviderCredential",
]

CredentialKind = Literal["default", "managed_identity", "client_secret", "workload_identity", "azure_cli"]
_KINDS: tuple[str, ...] = ("default", "managed_identity", "client_secret", "workload_identity", "azure_cli")
# azure-identity credentials that take an authority host (sovereign clouds, or a test double).
_TAKES_AUTHORITY = ("default", "client_secret", "workload_identity")
# Without an expiry, a static token is assumed good for this long; the token cache then asks
# again and gets the same token: harmless, and never older than the caller's own rotation.
_ASSUMED_LIFETIME = 3600.0


class ApiKeyCredential:
    """A static API key. It never shows itself: ``repr`` and ``str`` are redacted.

    Args:
        key: the secret.

    Raises:
        ConfigurationError: the key is empty or not a string.
    """

    __slots__ = ("_key",)

    def __init__(self, key: str) -> None:
        if not isinstance(key, str) or not key.strip():
            raise ConfigurationError("the API key is empty: set api_key")
        self._key = key

    def reveal(self) -> str:
        """Return the key itself, for the one place that sends it."""
        return self._key

    def __repr__(self) -> str:
        return "ApiKeyCredential('***')"

    __str__ = __repr__


class StaticTokenCredential:
    """A bearer token given as is (e.g. AZURE_OPENAI_AD_TOKEN); a CredentialPort.

    Args:
        token: the bearer token.
        expires_on: when it expires (seconds since the epoch), if known.
        clock: the time source for the assumed expiry of a token without one.

    Raises:
        ConfigurationError: the token is empty.
    """

    def __init__(
        self, token: str, *, expires_on: float | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ConfigurationError("the token is empty: set token (AZURE_OPENAI_AD_TOKEN)")
        if token.strip() != token or not token.isascii():
            raise ConfigurationError(
                "the token has spaces, a newline or non-ASCII characters (AZURE_OPENAI_AD_TOKEN): strip it"
            )
        self._token = token
        self._expires_on = expires_on
        self._clock = clock

    def get_token(self, *scopes: str, claims: str | None = None) -> AccessToken:
        """Return the token, whatever the scopes (it was issued for one already).

        A claims challenge cannot be met by a static token: the same token comes back, and the
        token cache then declines to retry the 401 with it.
        """
        expires_on = self._expires_on
        if expires_on is None:
            expires_on = self._clock() + _ASSUMED_LIFETIME
        return AccessToken(self._token, expires_on)

    def __repr__(self) -> str:
        return f"StaticTokenCredential(token='***', expires_on={self._expires_on!r})"


class AzureIdentityCredential:
    """Entra ID tokens from azure-identity; a CredentialPort.

    azure-identity is imported and the credential built on the first ``get_token``, so
    neither importing nor constructing this class touches the network or azure.identity.

    Args:
        kind: ``default`` (DefaultAzureCredential), ``managed_identity``, ``client_secret``,
            ``workload_identity`` or ``azure_cli``.
        client_id: the app or user-assigned identity's client id (managed_identity, client_secret,
            workload_identity; optional for default, as its managed identity).
        tenant_id: the directory (client_secret; optional elsewhere).
        client_secret: the app's secret (client_secret only). Never shown.
        authority: the Entra host for sovereign clouds (default, client_secret, workload_identity).

    Raises:
        ConfigurationError: an unknown kind or missing arguments for it.
    """

    def __init__(
        self,
        kind: CredentialKind,
        *,
        client_id: str | None = None,
        tenant_id: str | None = None,
        client_secret: str | None = None,
        authority: str | None = None,
    ) -> None:
        if kind not in _KINDS:
            raise ConfigurationError(f"credential {kind!r} is unknown; use one of {', '.join(_KINDS)}")
        if kind == "client_secret" and not (client_id and tenant_id and client_secret):
            raise ConfigurationError(
                "credential client_secret needs client_id, tenant_id and client_secret "
                "(AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET)"
            )
        if client_secret is not None and kind != "client_secret":
            raise ConfigurationError(f"client_secret is only used by credential client_secret, not {kind}")
        if authority is not None and kind not in _TAKES_AUTHORITY:
            raise ConfigurationError(f"authority is not supported by credential {kind}")
        self.kind = kind
        self.client_id = client_id
        self.tenant_id = tenant_id
        self._client_secret = client_secret
        self._authority = authority
        self._credential: TokenCredential | None = None
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, claims: str | None = None) -> AccessToken:
        """Return a token for ``scopes`` (default: Azure OpenAI's scope).

        Args:
            scopes: the scopes.
            claims: a claims challenge from a 401 (CAE); azure-identity then skips its own cache.

        Raises:
            AuthenticationError: azure-identity could not get a token, whatever the reason; the
                error carries azure-identity's first line of explanation, redacted, and no chain
                (msal's frames hold the client secret).
            ConfigurationError: azure-identity is not installed, or the credential cannot be
                built here (e.g. workload_identity without a federated token file).
        """
        credential = self._built()
        options: dict[str, Any] = {"claims": claims} if claims else {}
        try:
            token = credential.get_token(*(scopes or (DEFAULT_SCOPE,)), **options)
        except Exception as exc:
            failure = AuthenticationError(
                f"Entra ID ({self.kind}) gave no token: {self._safe(exc)}", provider="azure"
            )
        else:
            return AccessToken(token.token, float(token.expires_on))
        raise unchained(failure)

    def after_fork(self) -> None:
        """In a forked child: forget the built credential (its HTTP session is the parent's)."""
        self._lock = threading.Lock()
        self._credential = None

    def close(self) -> None:
        """Close the underlying credential's HTTP session, if it was ever built."""
        with self._lock:
            credential, self._credential = self._credential, None
        close = getattr(credential, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        return (
            f"AzureIdentityCredential(kind={self.kind!r}, client_id={self.client_id!r}, "
            f"tenant_id={self.tenant_id!r}{', client_secret=***' if self._client_secret else ''})"
        )

    def _built(self) -> TokenCredential:
        with self._lock:
            if self._credential is None:
                self._credential = self._build()
            return self._credential

    def _build(self) -> TokenCredential:
        try:
            from azure import identity
        except ImportError:
            raise ConfigurationError(
                "Entra ID needs the azure-identity package: pip install azure-identity"
            ) from None
        failure: LLMPortError
        options: dict[str, Any] = {"authority": self._authority} if self._authority else {}
        try:
            if self.kind == "managed_identity":
                return identity.ManagedIdentityCredential(client_id=self.client_id)
            if self.kind == "client_secret":
                assert self.tenant_id and self.client_id and self._client_secret  # checked in __init__
                return identity.ClientSecretCredential(
                    self.tenant_id, self.client_id, self._client_secret, **options
                )
            if self.kind == "workload_identity":
                return identity.WorkloadIdentityCredential(
                    tenant_id=self.tenant_id, client_id=self.client_id, **options
                )
            if self.kind == "azure_cli":
                return identity.AzureCliCredential(tenant_id=self.tenant_id or "")
            return identity.DefaultAzureCredential(managed_identity_client_id=self.client_id, **options)
        except ValueError as exc:
            # e.g. workload identity outside a federated pod: no token file configured.
            failure = ConfigurationError(f"credential {self.kind} cannot be built: {self._safe(exc)}")
        raise unchained(failure)

    def _safe(self, exc: BaseException) -> str:
        """azure-identity's first line of explanation, without the client secret or anything like a token."""
        text = str(exc).strip()
        lines = text.splitlines()
        message = lines[0] if text else type(exc).__name__
        if len(lines) > 1:
            # DefaultAzureCredential lists each credential it tried over a dozen lines; it also logs
            # them as a warning, which is where a user who needs them looks.
            message += " (why each credential failed: azure-identity's warning on the azure.identity logger)"
        return redact(message, (self._client_secret or "",))[:300]
