"""Entra ID failures read as azure-identity wrote them, and the CLI says so in one line (issue 19, 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmport import AuthenticationError
from llmport.adapters.identity.credentials import AzureIdentityCredential

# What azure-identity reads to find a credential: none of it may leak in from the machine running the tests.
_CREDENTIAL_VARIABLES = ("AZURE_", "IDENTITY_", "MSI_", "OPENAI_", "LLMPORT_")


def _no_credential_env(home: Path) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(_CREDENTIAL_VARIABLES)}
    return kept | {"HOME": str(home), "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin"}


@pytest.fixture
def no_credential(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith(_CREDENTIAL_VARIABLES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    return tmp_path


def test_a_default_credential_failure_keeps_azure_identitys_words(no_credential: Path) -> None:
    credential = AzureIdentityCredential("default")
    try:
        with pytest.raises(AuthenticationError) as raised:
            credential.get_token()
    finally:
        credential.close()

    message = raised.value.message
    assert message.startswith(
        "Entra ID (default) gave no token: "
        "DefaultAzureCredential failed to retrieve a token from the included credentials."
    )
    assert "***" not in message
    assert "azure.identity logger" in message  # where the dozen lines of detail went
    assert "\n" not in message


def test_a_managed_identity_failure_keeps_its_words(no_credential: Path) -> None:
    credential = AzureIdentityCredential("managed_identity")
    try:
        with pytest.raises(AuthenticationError) as raised:
            credential.get_token()
    finally:
        credential.close()
    assert raised.value.message == (
        "Entra ID (managed_identity) gave no token: ManagedIdentityCredential authentication unavailable."
    )


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = _no_credential_env(home) | {
        # Nothing listens on port 9; the token is asked for before anything is sent.
        "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9",
        "OPENAI_API_VERSION": "2024-10-21",
    }
    return subprocess.run(
        [sys.executable, "-m", "llmport", *args, "chat", "--model", "gpt-4o-mini", "hi"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_the_cli_prints_one_line_for_an_entra_failure_and_the_detail_only_when_verbose(
    tmp_path: Path,
) -> None:
    quiet = _cli(tmp_path)
    verbose = _cli(tmp_path, "--verbose")

    assert quiet.returncode == verbose.returncode == 1
    assert quiet.stderr.count("\n") == 1, quiet.stderr
    assert quiet.stderr.startswith("llmport: AuthenticationError: Entra ID (default) gave no token: Default")
    assert "--verbose" in quiet.stderr
    # azure-identity's own warning, each credential it tried on a line of its own.
    assert "Attempted credentials:" in verbose.stderr
    assert "EnvironmentCredential" in verbose.stderr
    assert verbose.stderr.rstrip("\n").splitlines()[-1].startswith("llmport: AuthenticationError: Entra ID")
