"""A thread-safe cache of bearer tokens in front of any CredentialPort, refreshed before expiry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from cachetools import TLRUCache

from ..domain.errors import AuthenticationError, LLMPortError
from ..domain.models import AccessToken
from ..domain.ports import CredentialPort

__all__ = ["DEFAULT_SCOPES", "TokenCache"]

DEFAULT_SCOPES: tuple[str, ...] = ("https://cognitiveservices.azure.com/.default",)

# A handful of scope sets per client at most; the bound only keeps a misuse from growing forever.
_MAX_SCOPE_SETS = 16


class TokenCache:
    """Caches tokens per scope set and refreshes them ``refresh_margin`` seconds before expiry.

    It is itself a CredentialPort. A token is reused until fewer than ``refresh_margin`` seconds
    remain. A token whose whole lifetime (at fetch time) is not longer than the margin would
    otherwise be refetched on every call, so it is reused for half of that lifetime instead.
    Concurrent callers that miss the cache wait for one fetch (double-checked under a lock).

    Args:
        credential: where tokens come from (azure-identity wrapper, static token, fake).
        scopes: the scopes asked for when the caller names none.
        refresh_margin: seconds before expiry when a token stops being handed out.
        clock: wall-clock seconds since the epoch, the unit of ``AccessToken.expires_on``.
    """

    __slots__ = ("_cache", "_clock", "_credential", "_fetch_lock", "_lock", "_refresh_margin", "_scopes")

    def __init__(
        self,
        credential: CredentialPort,
        *,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credential = credential
        self._scopes = tuple(scopes)
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._cache: TLRUCache[tuple[str, ...], AccessToken] = TLRUCache(
            maxsize=_MAX_SCOPE_SETS, ttu=self._refresh_at, timer=clock
        )
        # _lock guards the cache (cachetools is not thread-safe, even for reads: they reorder);
        # _fetch_lock makes one thread fetch while the others wait, without blocking cache hits.
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"TokenCache(credential={type(self._credential).__name__}, scopes={self._scopes!r}, "
            f"refresh_margin={self._refresh_margin!r})"
        )

    def _refresh_at(self, _scopes: tuple[str, ...], token: AccessToken, now: float) -> float:
        lifetime = token.expires_on - now
        if lifetime > self._refresh_margin:
            return token.expires_on - self._refresh_margin
        return now + lifetime / 2

    def get_token(self, *scopes: str) -> AccessToken:
        """Return a token for ``scopes`` (the default scopes when none are given).

        Raises:
            AuthenticationError: the credential failed or gave an empty token; nothing is cached,
                so the next call asks the credential again.
        """
        key = scopes or self._scopes
        with self._lock:
            token = self._cache.get(key)
        if token is not None:
            return token
        with self._fetch_lock:
            # Double-checked: another thread may have fetched while this one waited.
            with self._lock:
                token = self._cache.get(key)
            if token is not None:
                return token
            token = self._fetch(key)
            with self._lock:
                # TLRUCache skips a token that is already due for refresh, so it is used once.
                self._cache[key] = token
        return token

    def _fetch(self, scopes: tuple[str, ...]) -> AccessToken:
        try:
            token = self._credential.get_token(*scopes)
        except LLMPortError:
            raise
        except Exception as exc:
            raise AuthenticationError(
                f"could not get a token for {' '.join(scopes)} from {type(self._credential).__name__}: "
                f"{type(exc).__name__}: {str(exc)[:300]}"
            ) from exc
        if not token.token:
            raise AuthenticationError(
                f"{type(self._credential).__name__} returned an empty token for {' '.join(scopes)}"
            )
        return token

    def token(self) -> str:
        """Return the current bearer token for the default scopes (the callable adapters get).

        Raises:
            AuthenticationError: as get_token.
        """
        return self.get_token().token

    def invalidate(self) -> None:
        """Drop every cached token, e.g. after the provider answered 401."""
        with self._lock:
            self._cache.clear()
