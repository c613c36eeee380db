"""Settings mistakes that used to look like network faults: padded secrets, bad URLs, blank names, http."""

from __future__ import annotations

from typing import Any

import pytest

from llmport import ConfigurationError, Settings

SECRET = "k3y-DISTINCTIVE-7f1e"  # looks like no known key format, so only this test can find it
AZURE = {"endpoint": "https://r.openai.azure.com", "api_version": "2024-10-21"}
AZURE_V1 = {"endpoint": "https://r.openai.azure.com/openai/v1"}
ENTRA_SECRET = {
    **AZURE_V1,
    "auth": "entra",
    "credential": "client_secret",
    "client_id": "c",
    "tenant_id": "t",
}

# (id, settings with the secret in one field, the field, its variable)
SECRETS: list[tuple[str, dict[str, Any], str, str]] = [
    ("openai-key", {"provider": "openai"}, "api_key", "OPENAI_API_KEY"),
    ("azure-key", AZURE, "api_key", "AZURE_OPENAI_API_KEY"),
    ("azure-v1-key", AZURE_V1, "api_key", "AZURE_OPENAI_API_KEY"),
    ("token", AZURE_V1, "token", "AZURE_OPENAI_AD_TOKEN"),
    ("client-secret", ENTRA_SECRET, "client_secret", "AZURE_CLIENT_SECRET"),
]
# The variables that set the other fields of SECRETS.
VARIABLES = {
    "provider": "LLMPORT_PROVIDER",
    "endpoint": "AZURE_OPENAI_ENDPOINT",
    "api_version": "OPENAI_API_VERSION",
    "auth": "LLMPORT_AUTH",
    "credential": "LLMPORT_CREDENTIAL",
    "client_id": "AZURE_CLIENT_ID",
    "tenant_id": "AZURE_TENANT_ID",
}
# (id, how the secret is spoiled, what the message says)
SPOILED: list[tuple[str, str, str]] = [
    ("trailing-newline", f"{SECRET}\n", "ends with a newline or spaces: strip it"),
    ("trailing-crlf", f"{SECRET}\r\n", "ends with a newline or spaces: strip it"),
    ("trailing-space", f"{SECRET} ", "ends with a newline or spaces: strip it"),
    ("leading-space", f" {SECRET}", "starts with a newline or spaces: strip it"),
    ("whitespace-only", " \n\t", "only whitespace"),
    ("non-ascii", f"{SECRET}é", "non-ASCII"),
    ("newline-inside", f"{SECRET[:5]}\n{SECRET[5:]}", "control character"),
]


@pytest.mark.parametrize("secret", SECRETS, ids=[row[0] for row in SECRETS])
@pytest.mark.parametrize("spoiled", SPOILED, ids=[row[0] for row in SPOILED])
def test_a_spoiled_secret_is_refused_naming_the_setting_and_never_showing_it(
    secret: tuple[str, dict[str, Any], str, str], spoiled: tuple[str, str, str]
) -> None:
    _case, base, field, variable = secret
    _how, value, says = spoiled
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_dict({**base, field: value})

    message = str(raised.value)
    assert message.startswith(f"{field}: "), message
    # The value came from a dict: the message says so, not the variable it could have come from.
    assert message.endswith(" (from dict)") and variable not in message and says in message, message
    assert SECRET[3:] not in message and SECRET[3:] not in repr(raised.value)


@pytest.mark.parametrize("secret", SECRETS, ids=[row[0] for row in SECRETS])
def test_a_spoiled_secret_from_the_environment_names_its_variable(
    secret: tuple[str, dict[str, Any], str, str],
) -> None:
    _case, base, _field, variable = secret
    env = {VARIABLES[key]: value for key, value in base.items()} | {variable: SECRET + "\n"}
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(env)

    assert str(raised.value).endswith(f"strip it (from environment {variable})"), str(raised.value)


def test_a_secret_from_the_environment_names_the_variable_it_came_from() -> None:
    env = {
        **{"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/openai/v1"},
        "AZURE_OPENAI_API_KEY": SECRET + "\n",
    }

    with pytest.raises(
        ConfigurationError, match=r"^api_key: .*strip it \(from environment AZURE_OPENAI_API_KEY\)"
    ):
        Settings.from_env(env)


def test_an_empty_secret_is_unset_as_before() -> None:
    assert Settings.from_dict({**AZURE_V1, "api_key": ""}).auth == "entra"


# (id, settings, words the message must hold)
BAD_VALUES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    (
        "endpoint-newline",
        {"endpoint": "https://r.openai.azure.com\n", "api_key": "k"},
        ("endpoint", "newline"),
    ),
    (
        "endpoint-space-inside",
        {"endpoint": "https://r.openai .azure.com", "api_key": "k"},
        ("endpoint", "whitespace"),
    ),
    (
        "endpoint-leading-space",
        {"endpoint": " https://r.openai.azure.com", "api_key": "k"},
        ("endpoint", "whitespace"),
    ),
    ("endpoint-no-host", {"endpoint": "https://", "api_key": "k"}, ("endpoint", "with a host")),
    ("endpoint-no-scheme", {"endpoint": "r.openai.azure.com", "api_key": "k"}, ("endpoint", "http(s) URL")),
    ("endpoint-ftp", {"endpoint": "ftp://r.openai.azure.com", "api_key": "k"}, ("endpoint", "http(s) URL")),
    (
        "endpoint-bad-port",
        {"endpoint": "https://r.openai.azure.com:99999", "api_key": "k"},
        ("endpoint", "URL"),
    ),
    (
        "endpoint-query",
        {"endpoint": "https://r.openai.azure.com?api-version=1", "api_key": "k"},
        ("endpoint", "query"),
    ),
    ("endpoint-int", {"provider": "azure", "endpoint": 5, "api_key": "k"}, ("endpoint", "must be a string")),
    (
        "endpoint-non-ascii",
        {"endpoint": "https://résumé.openai.azure.com", "api_key": "k"},
        ("endpoint", "ASCII"),
    ),
    (
        "base-url-trailing-newline",
        {"base_url": "https://gw.example.com/v1\n", "api_key": "k"},
        ("base_url", "newline"),
    ),
    ("base-url-not-a-url", {"base_url": "gateway/v1", "api_key": "k"}, ("base_url", "http(s) URL")),
    (
        "base-url-env",
        {"base_url": "https://gw.example.com/v1 ", "api_key": "k"},
        ("base_url", "whitespace", "(from dict)"),
    ),
    (
        "api-version-leading-space",
        {**AZURE, "api_version": " 2024-10-21", "api_key": "k"},
        ("api_version", "strip"),
    ),
    (
        "api-version-newline",
        {**AZURE, "api_version": "2024-10-21\n", "api_key": "k"},
        ("api_version", "strip"),
    ),
    ("api-version-blank", {**AZURE, "api_version": "  ", "api_key": "k"}, ("api_version", "blank")),
    ("api-version-int", {**AZURE, "api_version": 20241021, "api_key": "k"}, ("api_version", "string")),
    (
        "chat-model-blank",
        {"provider": "fake", "chat_model": "  "},
        ("chat_model", "blank", "(from dict)"),
    ),
    ("chat-model-padded", {**AZURE, "chat_model": "gpt-4o ", "api_key": "k"}, ("chat_model", "strip")),
    ("chat-model-int", {**AZURE, "chat_model": 4, "api_key": "k"}, ("chat_model", "string")),
    (
        "embedding-model-blank",
        {**AZURE, "embedding_model": "\n", "api_key": "k"},
        ("embedding_model", "blank"),
    ),
    ("scope-empty", {**AZURE_V1, "scope": ""}, ("scope", "blank", "(from dict)")),
    ("scope-space-inside", {**AZURE_V1, "scope": "https://a/.default https://b"}, ("scope", "whitespace")),
    ("client-id-blank", {**ENTRA_SECRET, "client_id": "  ", "client_secret": "s"}, ("client_id", "blank")),
    ("tenant-id-blank", {**ENTRA_SECRET, "tenant_id": " ", "client_secret": "s"}, ("tenant_id", "blank")),
    ("tenant-id-padded", {**ENTRA_SECRET, "tenant_id": "t\n", "client_secret": "s"}, ("tenant_id", "strip")),
    ("key-int", {"provider": "openai", "api_key": 12345}, ("api_key", "string")),
    (
        "azure-http",
        {"endpoint": "http://r.openai.azure.com", "api_version": "2024-10-21", "api_key": "k"},
        ("endpoint", "unencrypted", "allow_insecure_http", "LLMPORT_ALLOW_INSECURE_HTTP"),
    ),
    (
        "azure-v1-http",
        {"endpoint": "http://r.openai.azure.com/openai/v1", "auth": "entra"},
        ("endpoint", "unencrypted"),
    ),
    (
        "azure-http-private-ip",
        {"endpoint": "http://10.0.0.5/openai/v1", "token": "t"},
        ("endpoint", "https://"),
    ),
    (
        "azure-http-lookalike",
        {"endpoint": "http://localhost.evil.com/openai/v1", "token": "t"},
        ("endpoint",),
    ),
    (
        "insecure-flag-word",
        {"provider": "fake", "allow_insecure_http": "maybe"},
        ("allow_insecure_http", "true or false"),
    ),
    (
        "insecure-flag-int",
        {"provider": "fake", "allow_insecure_http": 1},
        ("allow_insecure_http", "true or false"),
    ),
]


@pytest.mark.parametrize(("case", "values", "words"), BAD_VALUES, ids=[row[0] for row in BAD_VALUES])
def test_a_bad_value_is_a_configuration_error_naming_the_setting(
    case: str, values: dict[str, Any], words: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_dict(values)

    message = str(raised.value)
    assert message.startswith(f"{words[0]}: "), message
    for word in words:
        assert word in message, (case, message)


def test_a_user_and_password_in_the_endpoint_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_dict({"endpoint": f"https://me:{SECRET}@r.openai.azure.com/openai/v1", "token": "t"})

    assert "user or password" in str(raised.value) and SECRET not in str(raised.value)


def test_an_endpoint_ending_in_a_newline_from_the_environment_fails_when_settings_are_read() -> None:
    # It used to pass here and raise a raw httpx2.InvalidURL when the client was built.
    env = {"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/openai/v1\n", "AZURE_OPENAI_API_KEY": "k"}

    with pytest.raises(
        ConfigurationError, match=r"^endpoint: .*newline.*\(from environment AZURE_OPENAI_ENDPOINT\)"
    ):
        Settings.from_env(env)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8080",
        "http://127.10.0.1/openai/v1",
        "http://localhost:5000",
        "http://LOCALHOST/openai/v1",
        "http://[::1]:8080/openai/v1",
    ],
)
def test_http_on_a_loopback_host_is_allowed_for_azure(endpoint: str) -> None:
    version = {} if endpoint.endswith("/openai/v1") else {"api_version": "2024-10-21"}
    assert Settings.from_dict({"endpoint": endpoint, "api_key": "k", **version}).provider


def test_allow_insecure_http_lets_an_http_azure_endpoint_through_from_keywords_or_the_environment() -> None:
    values = {"endpoint": "http://gateway.internal/openai/v1", "api_key": "k"}
    assert Settings.from_dict({**values, "allow_insecure_http": True}).allow_insecure_http is True

    env = {
        "AZURE_OPENAI_ENDPOINT": "http://gateway.internal/openai/v1",
        "AZURE_OPENAI_API_KEY": "k",
        "LLMPORT_ALLOW_INSECURE_HTTP": "true",
    }
    settings = Settings.from_env(env)
    assert (settings.provider, settings.allow_insecure_http) == ("azure_v1", True)
    assert settings.source("allow_insecure_http") == "environment LLMPORT_ALLOW_INSECURE_HTTP"
    assert Settings(provider="fake").allow_insecure_http is False


def test_http_base_urls_for_openai_compatible_servers_stay_allowed() -> None:
    # Local and in-cluster OpenAI-compatible servers (Ollama, vLLM) are commonly plain http.
    assert (
        Settings.from_dict({"base_url": "http://vllm.internal:8000/v1", "api_key": "k"}).provider == "openai"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("chat_model", "Llama 3 8B Instruct"), ("api_version", "2025-01-01-preview"), ("chat_model", "")],
)
def test_names_that_are_fine_stay_fine(field: str, value: str) -> None:
    settings = Settings.from_dict({**AZURE, "api_key": "k", field: value})
    assert getattr(settings, field) == (value or None)
