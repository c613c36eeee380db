"""Every injected fault on every provider, through the real adapters, SDK and HTTP: requests, waits, error."""

from __future__ import annotations

import pytest
from fault_table import DEADLINE, FAULTS, MAX_RETRIES, MAX_RETRY_AFTER, Fault, run
from harness import PROVIDERS
from loopback import LoopbackServer

# Rule: these are the provider's final word; a retry would get the same answer (or spend quota).
NEVER_RETRIED = {"400", "401-key", "403", "404", "429-insufficient-quota", "malformed-json", "text-400"}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", FAULTS, ids=[fault.id for fault in FAULTS])
def test_fault_makes_the_expected_requests_waits_and_error(
    server: LoopbackServer, provider: str, fault: Fault
) -> None:
    measured = run(server, provider, fault)

    assert measured.requests == fault.requests, [r.path for r in measured.requests_seen]
    assert len(measured.waits) == len(fault.waits)
    for wait, (low, high) in zip(measured.waits, fault.waits, strict=True):
        assert low - 1e-9 <= wait <= high + 1e-9, (measured.waits, fault.waits)
    if fault.error is None:
        assert measured.error is None, repr(measured.error)
    else:
        assert type(measured.error) is fault.error, repr(measured.error)
        assert measured.error.provider == provider
        assert measured.error.status_code == fault.status
        assert measured.error.code == fault.code
        assert measured.error.request_id == fault.request_id
    if fault.token_fetches is not None:
        assert measured.token_fetches == fault.token_fetches
    if fault.chunks is not None:
        assert measured.chunks == fault.chunks


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.id for fault in FAULTS])
def test_fault_table_never_exceeds_the_retry_budget_or_the_deadline(fault: Fault) -> None:
    # The table's own promises, checked against the policy (the runs above check the table).
    reauth = 1 if fault.auth == "entra" else 0
    assert 1 <= fault.requests <= MAX_RETRIES + 1 + reauth
    assert all(high <= MAX_RETRY_AFTER for _low, high in fault.waits)
    assert sum(high for _low, high in fault.waits) < fault.options.get("deadline", DEADLINE)
    if fault.id in NEVER_RETRIED:
        assert fault.requests == 1
        assert fault.waits == ()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_token_refreshed_after_401_is_a_new_token_on_the_second_request(
    server: LoopbackServer, provider: str
) -> None:
    fault = next(f for f in FAULTS if f.id == "401-token-once-then-ok")
    measured = run(server, provider, fault)

    bearers = [request.headers.get("authorization") for request in measured.requests_seen]
    assert bearers == ["Bearer fake-token-1", "Bearer fake-token-2"]
    assert measured.waits == []
