"""A thread-safe cache of bearer tokens in front of any CredentialPort, refreshed before expiry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from contextlib import contextmanager
from functools import partial

from cachetools import TLRUCache

from ..domain.deadline import current_deadline
from ..domain.defaults import DEFAULT_SCOPE, TOKEN_REFRESH_MARGIN
from ..domain.errors import AuthenticationError, LLMPortError, RequestTimeoutError
from ..domain.models import AccessToken
from ..domain.ports import CredentialPort
from ..domain.redaction import redact, unchained

__all__ = ["DEFAULT_SCOPES", "TokenCache"]

DEFAULT_SCOPES: tuple[str, ...] = (DEFAULT_SCOPE,)

# A handful of scope sets per client at most; the bound only keeps a misuse from growing forever.
_MAX_SCOPE_SETS = 16


def _out_of_time() -> RequestTimeoutError:
    return RequestTimeoutError("the call's deadline passed while waiting for a token from the credential")


def _unusable(token: AccessToken, now: float) -> str | None:
    """Why ``token`` must not be sent (empty, blank, padded, non-ASCII, expired), or None."""
    value = token.token
    if not isinstance(value, str) or not value.strip():
        return "an empty token"
    if value.strip() != value or not value.isascii():
        return "a token with spaces, a newline or non-ASCII characters"
    if token.expires_on <= now:
        return "a token that has already expired"
    return None


class TokenCache:
    """Caches tokens per scope set and refreshes them ``refresh_margin`` seconds before expiry.

    It is itself a CredentialPort (and ForkAware). A token is reused until fewer than
    ``refresh_margin`` seconds remain. A token whose whole lifetime (at fetch time) is not longer
    than the margin would otherwise be refetched on every call, so it is reused for half of that
    lifetime instead.
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
        refresh_margin: float = TOKEN_REFRESH_MARGIN,
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

    def get_token(self, *scopes: str, claims: str | None = None) -> AccessToken:
        """Return a token for ``scopes`` (the default scopes when none are given).

        Args:
            scopes: the scopes; the cache's default scopes when none are given.
            claims: a claims challenge; the credential is asked at once and its token cached.

        Raises:
            AuthenticationError: the credential failed, or gave an empty, blank or expired token;
                nothing is cached, so the next call asks the credential again.
        """
        key = scopes or self._scopes
        if claims:
            with self._fetch_turn():
                fresh = self._fetch(key, claims)
                with self._lock:
                    self._cache[key] = fresh
            return fresh
        with self._lock:
            token = self._cache.get(key)
        if token is not None:
            return token
        with self._fetch_turn():
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

    def renew(self, claims: str | None = None) -> bool:
        """After a 401: drop the cached token and fetch another; True when it differs from the dropped one.

        azure-identity's credentials keep their own cache and hand back the same token until it
        nears expiry, so dropping ours alone would resend a token the provider just rejected. With
        ``claims`` (a CAE challenge) the credential must issue a token that meets them.

        Raises:
            AuthenticationError: the credential failed to give a token.
        """
        key = self._scopes
        with self._fetch_turn():
            with self._lock:
                rejected = self._cache.pop(key, None)
            token = self._fetch(key, claims)
            with self._lock:
                self._cache[key] = token
        return rejected is None or token.token != rejected.token

    def reauthenticate(self, error: AuthenticationError) -> bool:
        """What a call does on a 401 (``error``): renew the token, with the error's claims challenge.

        The retry owner and the router retry once only when this returns True: a retry is worth it
        only with a token other than the one just rejected.

        Raises:
            AuthenticationError: the credential failed to give a token.
        """
        return self.renew(error.claims)

    def after_fork(self) -> None:
        """In a forked child: new locks (a parent thread may have held one at the fork); tokens stay."""
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()

    @contextmanager
    def _fetch_turn(self) -> Iterator[None]:
        """Hold the fetch lock, waiting for it no longer than the current call's deadline."""
        lock = self._fetch_lock
        deadline = current_deadline()
        if not lock.acquire(timeout=-1 if deadline is None else max(deadline.remaining(), 0.0)):
            raise _out_of_time()
        try:
            yield
        finally:
            lock.release()

    def _fetch(self, scopes: tuple[str, ...], claims: str | None = None) -> AccessToken:
        """Ask the credential, but wait no longer than the current call's deadline.

        Credentials do their own I/O (azure-identity has its own HTTP pipeline and retries), out of
        reach of the adapters' socket limits; so under a deadline the credential is asked on a
        thread of its own. If the deadline passes first, the call fails and the token, when it
        comes, is still cached for the next call.
        """
        deadline = current_deadline()
        if deadline is None:
            return self._ask(scopes, claims)
        answer: Future[AccessToken] = Future()

        def ask() -> None:
            try:
                answer.set_result(self._ask(scopes, claims))
            except BaseException as exc:  # handed to the waiting caller, whatever it is
                answer.set_exception(exc)

        threading.Thread(target=ask, name="llmport-token", daemon=True).start()
        try:
            return answer.result(timeout=max(deadline.remaining(), 0.0))
        except FutureTimeoutError:
            pass
        answer.add_done_callback(partial(self._keep_late, scopes))
        raise _out_of_time()

    def _keep_late(self, scopes: tuple[str, ...], answer: Future[AccessToken]) -> None:
        if answer.exception() is None:
            with self._lock:
                self._cache[scopes] = answer.result()

    def _ask(self, scopes: tuple[str, ...], claims: str | None) -> AccessToken:
        name = type(self._credential).__name__
        failure: LLMPortError
        try:
            token = (
                self._credential.get_token(*scopes, claims=claims)
                if claims
                else self._credential.get_token(*scopes)
            )
        except LLMPortError as error:
            failure = error
        except Exception as exc:
            # Its message, redacted, but no chain: the exception's frames may hold the credential's secret.
            failure = AuthenticationError(
                f"could not get a token for {' '.join(scopes)} from {name}: "
                f"{type(exc).__name__}: {redact(str(exc))[:300]}"
            )
        else:
            problem = _unusable(token, self._clock())
            if problem is None:
                return token
            failure = AuthenticationError(f"{name} returned {problem} for {' '.join(scopes)}")
        raise unchained(failure)

    def token(self) -> str:
        """Return the current bearer token for the default scopes (the callable adapters get).

        Raises:
            AuthenticationError: as get_token.
        """
        return self.get_token().token
