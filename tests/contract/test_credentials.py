"""Contract: the credentials fit CredentialPort, hide their secrets, and fail as AuthenticationError."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from llmport.adapters.identity.credentials import (
    DEFAULT_SCOPE,
    ApiKeyCredential,
    AzureIdentityCredential,
    StaticTokenCredential,
)
from llmport.domain.errors import AuthenticationError, ConfigurationError
from llmport.domain.ports import CredentialPort


def test_api_key_credential_reveals_the_key_only_when_asked() -> None:
    credential = ApiKeyCredential("sk-very-secret")

    assert credential.reveal() == "sk-very-secret"
    assert "secret" not in repr(credential) and "secret" not in str(credential)
    assert "secret" not in f"{credential}"


@pytest.mark.parametrize("key", ["", "   "])
def test_api_key_credential_refuses_an_empty_key(key: str) -> None:
    with pytest.raises(ConfigurationError):
        ApiKeyCredential(key)


def test_static_token_credential_gives_its_token_and_expiry_for_any_scope() -> None:
    credential = StaticTokenCredential("eyJ.static.token", expires_on=2_000_000_000.0)

    token = credential.get_token(DEFAULT_SCOPE)

    assert isinstance(credential, CredentialPort)
    assert (token.token, token.expires_on) == ("eyJ.static.token", 2_000_000_000.0)
    assert "eyJ" not in repr(credential) and "eyJ" not in repr(token)


def test_static_token_without_expiry_is_assumed_valid_for_an_hour_from_the_clock() -> None:
    credential = StaticTokenCredential("tok", clock=lambda: 1000.0)

    assert credential.get_token().expires_on == 4600.0


def test_static_token_credential_refuses_an_empty_token() -> None:
    with pytest.raises(ConfigurationError, match="token"):
        StaticTokenCredential("")


def test_azure_identity_credential_fits_the_port_and_hides_the_client_secret() -> None:
    credential = AzureIdentityCredential(
        "client_secret", client_id="app-id", tenant_id="tenant-id", client_secret="s3cret-value"
    )

    assert isinstance(credential, CredentialPort)
    assert "s3cret" not in repr(credential)
    assert "app-id" in repr(credential)
    credential.close()  # never built: nothing to close, and no error


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("password", {}, "unknown"),
        ("client_secret", {"client_id": "a", "tenant_id": "t"}, "client_secret needs"),
        ("managed_identity", {"client_secret": "s"}, "only used by credential client_secret"),
        ("azure_cli", {"authority": "login.microsoftonline.us"}, "authority is not supported"),
    ],
)
def test_azure_identity_credential_refuses_incomplete_settings(
    kind: str, options: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        AzureIdentityCredential(kind, **options)  # type: ignore[arg-type]


def test_an_azure_identity_failure_becomes_authentication_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No `az` on PATH: azure-identity's real AzureCliCredential fails with
    # CredentialUnavailableError, offline and at once.
    monkeypatch.setenv("PATH", str(tmp_path))
    credential = AzureIdentityCredential("azure_cli")
    try:
        with pytest.raises(AuthenticationError, match="azure_cli") as caught:
            credential.get_token()
    finally:
        credential.close()

    # No chain to azure-identity's exception: msal's frames hold the client secret.
    assert (caught.value.__cause__, caught.value.__context__) == (None, None)
    assert caught.value.provider == "azure"


def test_azure_identity_is_not_imported_until_a_token_is_asked_for() -> None:
    code = (
        "import sys\n"
        "from llmport.adapters.identity.credentials import AzureIdentityCredential\n"
        "AzureIdentityCredential('managed_identity', client_id='x')\n"
        "print('azure.identity' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "False"
