"""The prices and deployment_models settings: from a dict, TOML and the environment, and their checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmport.domain.errors import ConfigurationError
from llmport.domain.usage import ModelPrice
from llmport.settings.model import Settings

FAKE = {"provider": "fake"}


def test_prices_from_a_dict_become_model_prices() -> None:
    settings = Settings.from_dict(
        {**FAKE, "prices": {"gpt-4o": {"input": 2.5, "cached_input": 1.25, "output": 10}}}
    )
    assert settings.prices["gpt-4o"] == ModelPrice(2.5, 10.0, 1.25)
    assert hash(settings)  # still a frozen value
    assert settings.source("prices") == "dict" and Settings(provider="fake").source("prices") == "default"


def test_prices_and_the_deployment_map_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "llmport.toml"
    path.write_text(
        '[clients.default]\nprovider = "fake"\n'
        '[clients.default.prices]\n"gpt-4o" = { input = 2.5, output = 10 }\n'
        '[clients.default.deployment_models]\n"prod-chat" = "gpt-4o"\n'
    )
    settings = Settings.from_toml(path)
    assert settings.prices["gpt-4o"].output == 10.0
    assert dict(settings.deployment_models) == {"prod-chat": "gpt-4o"}


def test_prices_from_the_environment_as_json() -> None:
    settings = Settings.from_env(
        {
            "LLMPORT_PROVIDER": "fake",
            "LLMPORT_PRICES": '{"m": {"input": 1}}',
            "LLMPORT_DEPLOYMENT_MODELS": '{"d": "m"}',
        }
    )
    assert settings.prices["m"] == ModelPrice(1.0) and settings.deployment_models["d"] == "m"
    with pytest.raises(ConfigurationError, match=r"prices: not a JSON object .*environment LLMPORT_PRICES"):
        Settings.from_env({"LLMPORT_PROVIDER": "fake", "LLMPORT_PRICES": "cheap"})


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ({"input": 1, "ouptut": 2}, r"prices\.m: unknown key\(s\) ouptut; the keys are input"),
        ({"input": 1, "currency": "EUR", "flex": 1}, r"unknown key\(s\) currency, flex"),
        ({"output": 2}, r"prices\.m: input .* is missing"),
        ({"input": -1}, r"prices\.m\.input: -1 is negative"),
        ({"input": float("nan")}, r"prices\.m\.input: nan is not a number"),
        ({"input": 1, "output": float("inf")}, r"prices\.m\.output: inf is not a number"),
        ({"input": True}, r"prices\.m\.input: True is not a number"),
        ({"input": "2.5"}, r"prices\.m\.input: '2.5' is not a number"),
        (2.5, r"prices\.m: must be a table of prices"),
    ],
)
def test_a_bad_price_is_refused_naming_the_model_and_the_source(price: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message + r".*\(from dict\)"):
        Settings.from_dict({**FAKE, "prices": {"m": price}})


def test_a_deployment_mapped_to_a_model_without_a_price_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"deployment_models\.prod: 'gpt-4o' has no price"):
        Settings.from_dict(
            {**FAKE, "prices": {"gpt-4o-mini": {"input": 1}}, "deployment_models": {"prod": "gpt-4o"}}
        )
    # Without prices, the map only names the model a deployment is counted as.
    assert Settings.from_dict({**FAKE, "deployment_models": {"prod": "gpt-4o"}}).deployment_models


@pytest.mark.parametrize("bad", [{"": {"input": 1}}, {" m": {"input": 1}}, ["m"]])
def test_bad_price_tables_are_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="prices"):
        Settings.from_dict({**FAKE, "prices": bad})
