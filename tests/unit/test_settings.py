"""Settings: sources, detection, validation messages, and secrets kept out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmport import ConfigurationError, Secret, Settings

KEY = "sk-test-0123456789abcdef"


def test_openai_is_detected_from_an_api_key_in_the_environment() -> None:
    settings = Settings.from_env({"OPENAI_API_KEY": KEY, "LLMPORT_CHAT_MODEL": "gpt-4o-mini"})
    assert (settings.provider, settings.auth, settings.chat_model) == ("openai", "api_key", "gpt-4o-mini")
    assert settings.api_key == Secret(KEY)


def test_azure_classic_is_detected_from_an_endpoint_and_needs_an_api_version() -> None:
    env = {"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/", "AZURE_OPENAI_API_KEY": KEY}
    with pytest.raises(ConfigurationError, match=r"api_version.*OPENAI_API_VERSION"):
        Settings.from_env(env)
    settings = Settings.from_env({**env, "OPENAI_API_VERSION": "2024-10-21"})
    assert (settings.provider, settings.endpoint, settings.auth) == (
        "azure",
        "https://r.openai.azure.com",
        "api_key",
    )


def test_an_endpoint_ending_in_openai_v1_means_the_v1_api_and_drops_a_global_api_version() -> None:
    settings = Settings.from_env(
        {
            "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com/openai/v1/",
            "OPENAI_API_VERSION": "2024-10-21",
        }
    )
    assert (settings.provider, settings.endpoint, settings.api_version) == (
        "azure_v1",
        "https://r.openai.azure.com",
        None,
    )
    assert settings.auth == "entra"  # no key on Azure means Microsoft Entra ID


def test_the_openai_key_is_not_used_for_azure() -> None:
    env = {
        "OPENAI_API_KEY": KEY,
        "AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com",
        "OPENAI_API_VERSION": "2024-10-21",
    }
    assert Settings.from_env(env).auth == "entra"


def test_llmport_prefixed_variables_fill_every_field() -> None:
    settings = Settings.from_env(
        {"LLMPORT_PROVIDER": "fake", "LLMPORT_TIMEOUT": "2.5", "LLMPORT_MAX_RETRIES": "0"}
    )
    assert (settings.timeout, settings.max_retries) == (2.5, 0)


def test_nothing_configured_says_what_to_set() -> None:
    with pytest.raises(ConfigurationError, match=r"OPENAI_API_KEY.*AZURE_OPENAI_ENDPOINT.*fake"):
        Settings.from_env({})


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"provider": "bedrock"}, "provider: 'bedrock' is not one of openai, azure, azure_v1, fake"),
        ({"provider": "azure"}, "endpoint: provider azure needs"),
        ({"provider": "azure_v1", "endpoint": "r.openai.azure.com"}, "endpoint: 'r.openai.azure.com'"),
        ({"provider": "openai"}, "api_key: OpenAI needs an API key"),
        ({"provider": "fake", "timeout": 0}, "timeout: 0 is out of range"),
        ({"provider": "fake", "timeout": "soon"}, "timeout: 'soon' is not a number of seconds"),
        ({"provider": "fake", "max_retries": -1}, "max_retries: -1 is out of range"),
        ({"provider": "fake", "embedding_batch_size": 2049}, "embedding_batch_size: 2049"),
        ({"provider": "fake", "api": "assistants"}, "api: 'assistants' is not one of chat, responses"),
        ({"provider": "fake", "temprature": 1}, "unknown setting.*temprature"),
        (
            {"endpoint": "https://r.openai.azure.com/openai/v1", "api_key": KEY, "auth": "entra"},
            "both an API key and Entra ID",
        ),
        (
            {"endpoint": "https://r.openai.azure.com/openai/v1", "api_key": KEY, "token": "t"},
            "both an API key and a token",
        ),
        (
            {"endpoint": "https://r.openai.azure.com/openai/v1", "credential": "client_secret"},
            "client_secret needs client_id, tenant_id",
        ),
        ({"endpoint": "https://r.openai.azure.com/openai/v1", "api_version": "x"}, "takes no api-version"),
    ],
)
def test_bad_configuration_names_the_setting_and_the_fix(values: dict[str, object], names: str) -> None:
    with pytest.raises(ConfigurationError, match=names):
        Settings.from_dict(values)


def test_secrets_never_show_in_repr_str_or_the_redacted_dump() -> None:
    settings = Settings.from_dict(
        {
            "endpoint": "https://r.openai.azure.com/openai/v1",
            "auth": "entra",
            "credential": "client_secret",
            "client_id": "cid",
            "tenant_id": "tid",
            "client_secret": "client-secret-value",
        }
    )
    token_settings = Settings.from_dict(
        {"endpoint": "https://r.openai.azure.com/openai/v1", "token": "tok-abc"}
    )
    key_settings = Settings.from_dict({"api_key": KEY})
    shown = " ".join([repr(s) + str(s) + str(s.redacted()) for s in (settings, token_settings, key_settings)])
    for secret in ("client-secret-value", "tok-abc", KEY):
        assert secret not in shown
    assert key_settings.api_key is not None and key_settings.api_key.reveal() == KEY


def test_toml_file_holds_several_named_clients(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(
        '[clients.default]\nprovider = "fake"\nchat_model = "small"\n\n'
        '[clients.embeddings]\nprovider = "fake"\nembedding_model = "large"\nembedding_batch_size = 16\n'
    )
    assert Settings.from_toml(path).chat_model == "small"
    embeddings = Settings.from_toml(path, name="embeddings")
    assert (embeddings.name, embeddings.embedding_model, embeddings.embedding_batch_size) == (
        "embeddings",
        "large",
        16,
    )
    with pytest.raises(ConfigurationError, match=r"no \[clients.missing\]; it has: default, embeddings"):
        Settings.from_toml(path, name="missing")


def test_a_missing_or_malformed_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="could not be read"):
        Settings.from_toml(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("provider = ")
    with pytest.raises(ConfigurationError, match="could not be read"):
        Settings.from_toml(bad)


def test_replace_validates_the_changed_settings() -> None:
    settings = Settings(provider="fake")
    assert settings.replace(timeout="3").timeout == 3.0
    with pytest.raises(ConfigurationError, match="timeout"):
        settings.replace(timeout=-1)
