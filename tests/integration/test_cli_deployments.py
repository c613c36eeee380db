"""The llmport command over a client of several deployments: config show lists them, doctor checks each."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import LoopbackServer
from redis_server import BINARY, SKIP_REASON, RedisServer

KEY_EAST, KEY_WEST = "east-key-5d2e19", "west-key-8a7f03"


@pytest.fixture
def regions() -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    with LoopbackServer(api_key=KEY_EAST) as east, LoopbackServer(api_key=KEY_WEST) as west:
        yield east, west


def write_config(tmp_path: Path, east: str, west: str, west_key: str, store: str = "memory") -> Path:
    path = tmp_path / "llmport.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [clients.chat]
            chat_model = "gpt-4o-mini"
            budget_store = "{store}"

            [[clients.chat.deployments]]
            name = "ptu-east"
            endpoint = "{east}"
            api_version = "2024-10-21"
            api_key = "{KEY_EAST}"
            tpm = 100000

            [[clients.chat.deployments]]
            name = "paygo-west"
            base_url = "{west}/v1"
            api_key = "{west_key}"
            embedding_model = "text-embedding-3-small"
            priority = 1
            """
        )
    )
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_", "LLMPORT_"))}
    return subprocess.run(
        [sys.executable, "-m", "llmport", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_config_show_lists_every_deployment_with_its_sources_and_no_key(
    tmp_path: Path, regions: tuple[LoopbackServer, LoopbackServer]
) -> None:
    east, west = regions
    path = write_config(tmp_path, east.url, west.url, KEY_WEST, store="redis://:s3cret-pw@127.0.0.1:6379/0")
    result = run("--config", str(path), "--client", "chat", "config", "show")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "deployments[ptu-east].provider" in rows and "azure" in rows["deployments[ptu-east].provider"]
    assert "deployments[paygo-west].priority" in rows
    assert (
        "deployments[ptu-east].endpoint" in rows
        and "deployments[ptu-east]" in rows["deployments[ptu-east].endpoint"]
    )
    assert "redis://:**********@127.0.0.1:6379/0" in rows["budget_store"]
    for secret in (KEY_EAST, KEY_WEST, "s3cret-pw"):
        assert secret not in result.stdout + result.stderr


def test_doctor_checks_each_deployment_and_names_the_one_that_fails(
    tmp_path: Path, regions: tuple[LoopbackServer, LoopbackServer]
) -> None:
    east, west = regions
    good = run(
        "--config", str(write_config(tmp_path, east.url, west.url, KEY_WEST)), "--client", "chat", "doctor"
    )
    assert good.returncode == 0, good.stdout + good.stderr
    lines = good.stdout.splitlines()
    assert any(line.startswith("ptu-east: chat") and " ok " in line for line in lines), good.stdout
    assert any(line.startswith("paygo-west: embeddings") and " ok " in line for line in lines), good.stdout
    assert any(line.startswith("ptu-east: embeddings") and "skipped" in line for line in lines), good.stdout
    assert any(line.startswith("budget store") and "memory" in line for line in lines), good.stdout

    bad = run(
        "--config",
        str(write_config(tmp_path, east.url, west.url, "wrong-key-1")),
        "--client",
        "chat",
        "doctor",
    )
    assert bad.returncode == 1
    failed = [line for line in bad.stdout.splitlines() if "FAILED" in line]
    assert failed and all(line.startswith("paygo-west:") for line in failed), bad.stdout
    assert "wrong-key-1" not in bad.stdout + bad.stderr


@pytest.mark.skipif(BINARY is None, reason=SKIP_REASON)
def test_doctor_says_when_the_shared_budget_store_does_not_answer(
    tmp_path: Path, regions: tuple[LoopbackServer, LoopbackServer]
) -> None:
    east, west = regions
    with RedisServer() as redis:
        up = run(
            "--config",
            str(write_config(tmp_path, east.url, west.url, KEY_WEST, redis.url)),
            "--client",
            "chat",
            "doctor",
        )
        port = redis.url.rsplit(":", 1)[1].split("/")[0]
    assert up.returncode == 0 and "budgets shared by every process" in up.stdout, up.stdout
    down_url = f"redis://127.0.0.1:{port}/0"  # stopped now
    down = run(
        "--config",
        str(write_config(tmp_path, east.url, west.url, KEY_WEST, down_url)),
        "--client",
        "chat",
        "doctor",
    )
    assert down.returncode == 1
    assert any(line.startswith("budget store") and "FAILED" in line for line in down.stdout.splitlines()), (
        down.stdout
    )
