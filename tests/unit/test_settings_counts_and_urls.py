"""Settings mistakes found from outside (issue 19, 6): each names the setting, the source and the fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from llmport import ConfigurationError, Settings

OPENAI = {"provider": "openai", "api_key": "sk-test", "chat_model": "gpt-4o-mini"}
AZURE = {"api_key": "k", "api_version": "2024-10-21", "chat_model": "dep"}


@pytest.mark.parametrize(
    ("setting", "value", "fix"),
    [
        ("embedding_batch_size", 2.5, "set a whole number from 1 to 2048"),
        ("embedding_max_workers", 1.5, "set a whole number from 1 to 64"),
        ("embedding_token_budget", 100.5, "set a whole number from 1 to 10000000"),
        ("max_retries", 1.5, "set a whole number from 0 to 20"),
        ("max_response_bytes", 65536.5, "set a whole number from 1024"),
    ],
)
def test_a_count_with_a_fraction_is_refused_when_the_settings_are_read(
    setting: str, value: float, fix: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_dict({**OPENAI, setting: value})
    message = raised.value.message
    assert message.startswith(f"{setting}: {value!r} is not a whole number")
    assert fix in message
    assert message.endswith("(from dict)")  # not the environment: the value came from a dict


def test_a_whole_number_written_with_a_decimal_point_is_refused_with_the_number_to_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(
        'provider = "openai"\napi_key = "sk-test"\nembedding_batch_size = 16.0\n', encoding="utf-8"
    )
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_toml(path)
    assert raised.value.message == (
        f"embedding_batch_size: 16.0 is written as a fraction; write the whole number, 16 (from file {path})"
    )


def test_a_fraction_in_a_deployment_names_the_deployment() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_dict({**OPENAI, "deployments": [{"name": "east", "embedding_batch_size": 2.5}]})
    assert raised.value.message == (
        "deployments[east]: embedding_batch_size: 2.5 is not a whole number; set a whole number from 1 "
        "to 2048 (from dict deployments[east])"
    )


def test_whole_numbers_stay_fine_from_every_source() -> None:
    settings = Settings.from_env(
        {"OPENAI_API_KEY": "sk-test", "LLMPORT_EMBEDDING_BATCH_SIZE": "7", "LLMPORT_MAX_RETRIES": "0"}
    )
    assert (settings.embedding_batch_size, settings.max_retries) == (7, 0)
    assert Settings.from_dict({**OPENAI, "embedding_max_workers": 4}).embedding_max_workers == 4


def _deployments_file(tmp_path: Path, entry: str) -> Path:
    path = tmp_path / "llmport.toml"
    path.write_text(
        '[clients.chat]\nprovider = "openai"\napi_key = "sk-test"\nchat_model = "gpt-4o-mini"\n\n'
        f'[[clients.chat.deployments]]\nname = "east"\n{entry}\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            'priority = "high"',
            "deployments[east].priority: 'high' is not a whole number; write a number without quotes, like "
            "priority = 0",
        ),
        (
            'priority = "1"',
            "deployments[east].priority: '1' is text, not a number; write a number without quotes, like "
            "priority = 0",
        ),
        ('tpm = "100000"', "deployments[east].tpm: '100000' is text, not a number"),
        (
            'budget_store = "redis://127.0.0.1:6379/0"',
            "deployments[east].budget_store: is the client's setting, shared by all its deployments; set "
            "it on the client, not in a deployment",
        ),
        ("move_after_timeout = true", "deployments[east].move_after_timeout: is the client's setting"),
    ],
)
def test_a_deployment_mistake_names_the_deployment_the_key_the_file_and_the_fix(
    tmp_path: Path, entry: str, expected: str
) -> None:
    path = _deployments_file(tmp_path, entry)
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_toml(path, name="chat")
    message = raised.value.message
    assert message.startswith(expected)
    assert message.endswith(f"(from file {path} [clients.chat] deployments[east])")


def test_a_deployment_name_holding_a_newline_is_refused() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_dict({**OPENAI, "deployments": [{"name": "east\nwest"}]})
    assert raised.value.message == (
        "deployments[0].name: 'east\\nwest' holds a newline or control character; use a plain name like "
        "'ptu-east' (from dict)"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://", "names no host"),
        ("redis://h/notadb", "names the database 'notadb', which is not a number"),
        ("rediss://:pw@h:99999/0", "has a port that is not a number from 0 to 65535"),
        ("unix://", "names no socket path"),
    ],
)
def test_a_redis_url_redis_would_refuse_on_connecting_is_refused_now(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({"OPENAI_API_KEY": "sk-test", "LLMPORT_BUDGET_STORE": url})
    message = raised.value.message
    assert message.startswith("budget_store: ")
    assert problem in message
    assert "write it like 'redis://HOST:6379/0'" in message
    assert message.endswith("(from environment LLMPORT_BUDGET_STORE)")
    assert "pw" not in message


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "redis://h", "rediss://user:pw@h:6380/15", "unix:///tmp/r.sock?db=1"]
)
def test_redis_urls_that_work_stay_fine(url: str) -> None:
    assert Settings.from_dict({**OPENAI, "budget_store": url}).budget_store == url


@pytest.mark.parametrize(
    ("endpoint", "fix"),
    [
        (
            "https://r.openai.azure.com/openai/deployments/dep/chat/completions",
            "set endpoint to 'https://r.openai.azure.com' and chat_model (or embedding_model) to the "
            "deployment 'dep'",
        ),
        (
            "https://r.openai.azure.com/openai/deployments/emb/embeddings/",
            "set endpoint to 'https://r.openai.azure.com' and chat_model (or embedding_model) to the "
            "deployment 'emb'",
        ),
        ("https://r.openai.azure.com/openai", "set endpoint to 'https://r.openai.azure.com'"),
        (
            "https://r.openai.azure.com/openai/v1/chat/completions",
            "set endpoint to 'https://r.openai.azure.com/openai/v1'",
        ),
    ],
)
def test_an_azure_endpoint_pasted_with_the_request_path_is_refused(endpoint: str, fix: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({"AZURE_OPENAI_ENDPOINT": endpoint, "AZURE_OPENAI_API_KEY": "k"})
    message = raised.value.message
    assert message.startswith(f"endpoint: {endpoint!r} holds the request path")
    assert "which the client adds itself" in message
    assert fix in message
    assert message.endswith("(from environment AZURE_OPENAI_ENDPOINT)")


def test_a_base_url_pasted_with_the_request_path_is_refused() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_dict({**OPENAI, "base_url": "http://127.0.0.1:8080/v1/chat/completions"})
    assert re.fullmatch(
        r"base_url: '.*' holds the request path '/chat/completions', which the client adds itself .*; "
        r"set base_url to 'http://127.0.0.1:8080/v1' \(from dict\)",
        raised.value.message,
    )


@pytest.mark.parametrize(
    "values",
    [
        {"endpoint": "https://r.openai.azure.com"},
        {"endpoint": "https://r.openai.azure.com/"},
        {"endpoint": "https://apim.azure-api.net/team-a"},  # a gateway's prefix: the SDK adds /openai
        {"endpoint": "https://r.openai.azure.com/openai/v1/", "api_version": None},
    ],
)
def test_endpoints_that_are_roots_stay_fine(values: dict[str, Any]) -> None:
    Settings(**{**AZURE, **values})
