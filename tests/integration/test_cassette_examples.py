"""Every example of examples/azure_docs on every URL shape, recorded once and replayed with the servers gone.

Autogen's Entra ID examples too, whose tokens come from a local managed-identity endpoint while
recording and from nowhere in replay. The replay runs under the network guard, pointed at a closed
port: it gives the same output as the live run, and the file holds neither the key nor a token.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from example_cassettes import KEY, Case, cases, leaks, record, replay
from token_endpoint import refuse_off_machine

from llmport.adapters.recording import hook


@pytest.mark.parametrize("case", cases(), ids=lambda case: case.name)
def test_an_example_replays_offline_as_it_ran_live(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = refuse_off_machine(monkeypatch)
    path = tmp_path / f"{case.name}.json"
    live, issued = record(case, path)
    assert live.strip()
    assert len(issued) == (1 if case.entra else 0)
    guard = hook.NetworkGuard("(a replay must not send)")
    hook.install(guard)
    try:
        offline, replaying = replay(case, path)
    finally:
        hook.uninstall(guard)
    assert offline == live
    assert replaying.played >= 1
    assert leaks(path, {"key": KEY, **{f"token {n}": token for n, token in enumerate(issued)}}) == []
    assert refused == []
