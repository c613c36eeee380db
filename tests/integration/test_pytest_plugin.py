"""The pytest plugin, loaded through its pytest11 entry point in a real pytest run (pytester)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

USES_THE_FIXTURES = """
import llmport
from llmport.testing import FakeChat, FakeEmbeddings

seen = []


def test_the_client_is_wired_to_both_fakes(llmport_client, llmport_fake_chat, llmport_fake_embeddings):
    llmport_fake_chat.push("scripted")
    assert llmport_client.chat("hi").text == "scripted"
    assert llmport_client.embed(["a", "b"]).vectors[1] == FakeEmbeddings.vector("b")
    assert len(llmport_fake_chat.requests) == 1
    assert len(llmport_fake_embeddings.requests) == 1
    seen.append(llmport_client)


def test_the_previous_client_was_closed_and_fakes_are_new(llmport_client, llmport_fake_chat):
    assert "closed" in repr(seen[0])
    assert llmport_client is not seen[0]
    assert llmport_fake_chat.requests == []


def test_a_scripted_error_is_not_retried(llmport_client, llmport_fake_chat):
    llmport_fake_chat.push(llmport.RateLimitedError("busy", retry_after=30))
    try:
        llmport_client.chat("hi")
    except llmport.RateLimitedError:
        pass
    else:
        raise AssertionError("the scripted error was swallowed")
    assert len(llmport_fake_chat.requests) == 1
"""


def test_the_fixtures_work_in_a_project_that_only_installed_llmport(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_users_code=USES_THE_FIXTURES)
    # A subprocess, so that the plugin is found the way users get it: the pytest11 entry point.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_the_fixtures_are_listed_by_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["*from llmport.testing*", "llmport_fake_chat *", "llmport_fake_embeddings *", "llmport_client *"]
    )


def test_importing_llmport_testing_needs_no_pytest() -> None:
    script = (
        "import sys\n"
        "sys.modules['pytest'] = None\n"  # makes `import pytest` fail, as where it is not installed
        "import llmport.testing as t\n"
        "assert t.fake_client().chat('hi').text == 'fake reply to: hi'\n"
        "print(hasattr(t, 'llmport_client'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
