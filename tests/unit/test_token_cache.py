"""The token cache: one fetch under contention, refresh before expiry, failures never cached."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from llmport.adapters.fakes import FakeCredential
from llmport.domain.errors import AuthenticationError, ConnectionFailedError
from llmport.domain.models import AccessToken
from llmport.domain.ports import CredentialPort
from llmport.services.token_cache import DEFAULT_SCOPES, TokenCache

if TYPE_CHECKING:
    from clock import FakeClock


class GatedCredential:
    """A credential whose fetch blocks until released, counting how many fetches run at once."""

    def __init__(self) -> None:
        self.inner = FakeCredential()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.inside = 0
        self.most_inside = 0

    def get_token(self, *scopes: str) -> AccessToken:
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        self.entered.set()
        self.release.wait(timeout=10)
        with self.lock:
            self.inside -= 1
        return self.inner.get_token(*scopes)


def test_concurrent_callers_on_a_cold_cache_cause_exactly_one_fetch() -> None:
    credential = GatedCredential()
    cache = TokenCache(credential)
    threads = 16
    barrier = threading.Barrier(threads + 1)
    started: list[int] = []
    results: list[str] = []

    def worker() -> None:
        barrier.wait(timeout=10)
        started.append(1)
        results.append(cache.token())

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait(timeout=10)
    assert credential.entered.wait(timeout=10)
    # Give the other 15 callers the chance to pile up behind the fetch: an unlocked cache would
    # let them into the credential meanwhile. (A wait on an event, not a sleep in code under test.)
    credential.release.wait(timeout=0.2)
    credential.release.set()
    for thread in pool:
        thread.join(timeout=10)
    assert len(started) == threads
    assert results == ["fake-token-1"] * threads
    assert credential.inner.calls == 1
    assert credential.most_inside == 1


def test_a_token_is_reused_until_fewer_than_the_margin_remain(clock: FakeClock) -> None:
    credential = FakeCredential(lifetime=3600.0, clock=clock)
    cache = TokenCache(credential, refresh_margin=300.0, clock=clock)
    assert cache.token() == "fake-token-1"
    clock.advance(3600.0 - 300.0 - 1.0)  # 301 s left
    assert cache.token() == "fake-token-1"
    clock.advance(2.0)  # 299 s left
    assert cache.token() == "fake-token-2"
    assert credential.calls == 2


def test_a_token_shorter_lived_than_the_margin_is_refreshed_at_half_life(clock: FakeClock) -> None:
    credential = FakeCredential(lifetime=100.0, clock=clock)
    cache = TokenCache(credential, refresh_margin=300.0, clock=clock)
    assert cache.token() == "fake-token-1"
    clock.advance(49.0)
    assert cache.token() == "fake-token-1"
    clock.advance(2.0)
    assert cache.token() == "fake-token-2"
    assert credential.calls == 2


def test_a_failed_fetch_is_an_authentication_error_and_is_not_cached() -> None:
    boom = RuntimeError("identity endpoint unreachable")
    credential = FakeCredential(boom)
    cache = TokenCache(credential)
    with pytest.raises(AuthenticationError, match="RuntimeError: identity endpoint unreachable") as raised:
        cache.get_token()
    # No chain: a credential's frames may hold its secret.
    assert (raised.value.__cause__, raised.value.__context__) == (None, None)
    assert cache.token() == "fake-token-1"
    assert credential.calls == 2


def test_an_empty_token_is_an_authentication_error_and_is_not_cached() -> None:
    credential = FakeCredential(AccessToken("", 9e12))
    cache = TokenCache(credential)
    with pytest.raises(AuthenticationError, match="empty token"):
        cache.token()
    assert cache.token() == "fake-token-1"
    assert credential.calls == 2


def test_domain_errors_from_the_credential_pass_through_unchanged() -> None:
    error = ConnectionFailedError("no route", provider="azure")
    cache = TokenCache(FakeCredential(error))
    with pytest.raises(ConnectionFailedError) as raised:
        cache.token()
    assert raised.value is error


def test_after_a_renewal_the_next_call_gets_the_new_token() -> None:
    credential = FakeCredential()
    cache = TokenCache(credential)
    assert cache.token() == "fake-token-1"
    assert cache.token() == "fake-token-1"
    assert cache.renew() is True  # what a 401 does (ChatService, the Router)
    assert cache.token() == "fake-token-2"
    assert credential.calls == 2


def test_tokens_are_cached_per_scope_set_and_no_scopes_means_the_default() -> None:
    credential = FakeCredential()
    cache = TokenCache(credential)
    assert cache.get_token().token == "fake-token-1"
    assert cache.get_token("api://other/.default").token == "fake-token-2"
    assert cache.get_token(*DEFAULT_SCOPES).token == "fake-token-1"
    assert credential.scopes == [DEFAULT_SCOPES, ("api://other/.default",)]


def test_the_cache_is_itself_a_credential_and_never_shows_the_token() -> None:
    cache = TokenCache(FakeCredential(AccessToken("eyJ-very-secret", 9e12)))
    assert isinstance(cache, CredentialPort)
    token = cache.get_token()
    assert token.token == "eyJ-very-secret"
    assert "eyJ-very-secret" not in repr(cache)
    assert "eyJ-very-secret" not in repr(token)


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (AccessToken("t-expired", 1.0), "already expired"),
        (AccessToken("padded\n", 4_000_000_000.0), "spaces, a newline"),
        (AccessToken("   ", 4_000_000_000.0), "empty"),
        (AccessToken("t\u00e9", 4_000_000_000.0), "non-ASCII"),
    ],
)
def test_an_unusable_token_is_refused_and_not_cached(token: AccessToken, why: str) -> None:
    credential = FakeCredential(token)
    cache = TokenCache(credential)
    with pytest.raises(AuthenticationError, match=why):
        cache.get_token()
    assert cache.token() == "fake-token-1"  # asked again, not served from the cache
    assert credential.calls == 2


def test_renew_is_worth_a_retry_only_when_the_credential_gives_another_token(clock: FakeClock) -> None:
    same = AccessToken("revoked", clock() + 3600)
    credential = FakeCredential(same, same, lifetime=3600, clock=clock)
    cache = TokenCache(credential, clock=clock)
    assert cache.token() == "revoked"
    assert cache.renew() is False  # azure-identity's own cache handed back the rejected token
    assert cache.renew() is True  # fake-token-1: a different token
    assert cache.token() == "fake-token-1"


def test_renew_with_claims_asks_the_credential_for_them(clock: FakeClock) -> None:
    credential = FakeCredential(lifetime=3600, clock=clock)
    cache = TokenCache(credential, clock=clock)
    cache.token()
    assert cache.renew('{"access_token": {"nbf": {"essential": true}}}') is True
    assert credential.claims == [None, '{"access_token": {"nbf": {"essential": true}}}']


def test_reauthenticate_renews_with_the_401s_claims_and_says_whether_a_retry_is_worth_it(
    clock: FakeClock,
) -> None:
    # The one 401 rule the chat and embedding services and the router's deployments all use.
    same = AccessToken("revoked", clock() + 3600)
    credential = FakeCredential(same, same, lifetime=3600, clock=clock)
    cache = TokenCache(credential, clock=clock)
    cache.token()
    challenge = '{"access_token": {"nbf": {"essential": true}}}'
    assert cache.reauthenticate(AuthenticationError("revoked", claims=challenge)) is False
    assert cache.reauthenticate(AuthenticationError("still revoked")) is True
    assert credential.claims == [None, challenge, None]
    assert cache.token() == "fake-token-1"
