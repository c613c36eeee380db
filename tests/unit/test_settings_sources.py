"""A bad setting names where it came from: a file and its table, a dict, a keyword, a variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmport import ConfigurationError, Settings
from llmport.settings import read_unchecked

ALLOWED = "is not one of openai, azure, azure_v1, fake"


def test_a_bad_value_in_a_toml_file_names_the_file_and_its_table(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text('[clients.default]\nprovider = "anthropic"\n')

    with pytest.raises(ConfigurationError) as raised:
        Settings.from_toml(path)

    assert str(raised.value) == f"provider: 'anthropic' {ALLOWED} (from file {path} [clients.default])"
    assert "environment" not in str(raised.value)


def test_a_bad_value_at_the_top_of_a_toml_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text('provider = "fake"\ntimeout = "soon"\n')

    with pytest.raises(ConfigurationError, match=r"^timeout: 'soon' is not a number of seconds \(from file "):
        Settings.from_toml(path)


def test_an_unknown_key_in_a_toml_table_names_the_table(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text('[clients.small]\nprovider = "fake"\ntemprature = 1\n')

    with pytest.raises(ConfigurationError, match=r"temprature \(from file .*\[clients\.small\]\)"):
        Settings.from_toml(path, name="small")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"provider": "anthropic"}, f"provider: 'anthropic' {ALLOWED} (from dict)"),
        (
            {"provider": "fake", "timeout": 0},
            "timeout: 0 is out of range; it must be greater than 0 up to 3600 (from dict)",
        ),
        ({"provider": "fake", "max_retries": "two"}, "max_retries: 'two' is not a whole number (from dict)"),
        ({"provider": "fake", "log_content": "y"}, "log_content: 'y' is not true or false (from dict)"),
    ],
)
def test_a_bad_value_in_a_dict_says_it_came_from_the_dict(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_dict(values)

    assert str(raised.value) == message


def test_a_dict_can_name_its_own_source() -> None:
    with pytest.raises(ConfigurationError, match=r"\(from app.config\[\"LLMPORT\"\]\)$"):
        Settings.from_dict({"provider": "anthropic"}, source='app.config["LLMPORT"]')


def test_a_bad_value_in_the_environment_names_the_variable() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({"LLMPORT_PROVIDER": "anthropic"})

    assert str(raised.value) == f"provider: 'anthropic' {ALLOWED} (from environment LLMPORT_PROVIDER)"


def test_a_bad_number_in_the_environment_names_the_variable() -> None:
    expected = r"^timeout: 'soon' .* \(from environment LLMPORT_TIMEOUT\)$"
    with pytest.raises(ConfigurationError, match=expected):
        Settings.from_env({"LLMPORT_PROVIDER": "fake", "LLMPORT_TIMEOUT": "soon"})


def test_a_keyword_wins_over_the_environment_and_is_named_as_a_keyword() -> None:
    with pytest.raises(ConfigurationError, match=r"^timeout: -1 .*\(from keyword argument\)$"):
        Settings.from_env({"LLMPORT_PROVIDER": "fake", "LLMPORT_TIMEOUT": "5"}, timeout=-1)


def test_settings_built_directly_name_the_keyword() -> None:
    with pytest.raises(ConfigurationError, match=r"^api: 'assistants' .*\(from keyword argument\)$"):
        Settings(provider="fake", api="assistants")  # type: ignore[arg-type]


def test_replace_records_its_changes_as_keywords() -> None:
    settings = Settings.from_env({"LLMPORT_PROVIDER": "fake", "LLMPORT_TIMEOUT": "5"})
    assert settings.source("timeout") == "environment LLMPORT_TIMEOUT"
    assert settings.replace(timeout=7).source("timeout") == "keyword"
    with pytest.raises(ConfigurationError, match=r"\(from keyword argument\)$"):
        settings.replace(timeout=-1)


def test_read_unchecked_returns_what_a_bad_file_or_environment_sets(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text('[clients.default]\nprovider = "anthropic"\napi_key = "sk-x"\n')

    values, sources = read_unchecked(path)
    assert values == {"provider": "anthropic", "api_key": "sk-x"}
    assert sources == dict.fromkeys(values, f"file {path} [clients.default]")

    env = {"LLMPORT_PROVIDER": "anthropic", "LLMPORT_TIMEOUT": "x", "OPENAI_API_KEY": "sk-y"}
    values, sources = read_unchecked(environ=env)
    assert values == {"provider": "anthropic", "timeout": "x", "api_key": "sk-y"}
    assert sources == {
        "provider": "environment LLMPORT_PROVIDER",
        "timeout": "environment LLMPORT_TIMEOUT",
        "api_key": "environment OPENAI_API_KEY",  # shown although an unknown provider takes no key
    }
