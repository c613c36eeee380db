"""The cassette fixture, marker and options of the pytest plugin, in real pytest runs (subprocesses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from loopback import LoopbackServer

from llmport.adapters.recording.hook import recorders
from llmport.testing import cassette

pytest_plugins = ["pytester"]

USERS_TESTS = """
import os

import pytest

import llmport
from llmport.testing import fake_client

def client():
    return llmport.build_client(llmport.Settings(
        provider="openai", base_url=os.environ["SERVER_URL"] + "/v1", api_key="test-key",
        chat_model="gpt-4o-mini", embedding_model="text-embedding-3-small", max_retries=0,
    ))

def test_greeting(llmport_cassette):
    with client() as c:
        assert c.chat("hello").text == "pong"

@pytest.mark.llmport_cassette("shared/marked.json")
def test_marked_without_the_fixture():
    with client() as c:
        assert c.embed(["a"]).vectors[0]

@pytest.mark.parametrize("word", ["one", "two"])
def test_named_by_parameters(llmport_cassette, word):
    with client() as c:
        assert c.chat(word).text == "pong"

def test_a_fake_needs_no_cassette():
    with fake_client() as c:
        assert c.chat("hi").text
"""

UNRECORDED = """
import os
import llmport

def test_half_recorded(llmport_cassette):
    with llmport.build_client(llmport.Settings(
        provider="openai", base_url=os.environ["SERVER_URL"] + "/v1", api_key="test-key",
        chat_model="gpt-4o-mini", max_retries=0,
    )) as c:
        c.chat("hello")  # the guard sits under the cassette: recording it is refused too

def test_never_recorded():
    with llmport.build_client(llmport.Settings(
        provider="openai", base_url=os.environ["SERVER_URL"] + "/v1", api_key="test-key",
        chat_model="gpt-4o-mini", max_retries=0,
    )) as c:
        c.chat("hello")
"""


def test_record_then_replay_with_the_server_gone_under_the_network_guard(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_users_code=USERS_TESTS)
    with LoopbackServer() as server:
        monkeypatch.setenv("SERVER_URL", server.url)
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=5)
        assert server.count == 4
    folder = pytester.path / "cassettes" / "test_users_code"
    assert sorted(path.name for path in folder.iterdir()) == [
        "test_greeting.json",
        "test_named_by_parameters_one_.json",
        "test_named_by_parameters_two_.json",
    ]
    assert json.loads((pytester.path / "shared" / "marked.json").read_text())["exchanges"][0]["request"][
        "path"
    ] == ("/v1/embeddings")
    # The server is gone; CI forces replay and blocks the network: everything passes from the files.
    monkeypatch.setenv("LLMPORT_RECORD_MODE", "replay")
    result = pytester.runpytest("-p", "no:cacheprovider", "--llmport-block-network")
    result.assert_outcomes(passed=5)


def test_the_network_guard_fails_an_unrecorded_call_and_says_how_to_record_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_unrecorded=UNRECORDED)
    with LoopbackServer() as server:
        monkeypatch.setenv("SERVER_URL", server.url)
        result = pytester.runpytest("-p", "no:cacheprovider", "--llmport-block-network")
        assert server.count == 0
    result.assert_outcomes(failed=2)
    assert not (pytester.path / "cassettes").exists()  # a failed test's cassette is not written
    result.stdout.fnmatch_lines(
        [
            "*NetworkBlockedError: llmport sent POST /v1/chat/completions to the network, which this run"
            "*llmport.testing.cassette(path)*without --llmport-block-network*"
        ]
    )


def test_the_environment_forces_replay_over_the_cassettes_own_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMPORT_RECORD_MODE", "replay")
    with pytest.raises(FileNotFoundError, match=r"no cassette at .*missing.json: record it first"):
        cassette(tmp_path / "missing.json", mode="record").__enter__()
    monkeypatch.setenv("LLMPORT_RECORD_MODE", "replya")
    with pytest.raises(ValueError, match="LLMPORT_RECORD_MODE must be once, replay or record, got 'replya'"):
        cassette(tmp_path / "missing.json").__enter__()
    assert recorders() == ()
