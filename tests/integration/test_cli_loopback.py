"""The llmport command against the loopback server: every provider, doctor, and an interrupted embed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import LoopbackServer, Reply
from wire_samples import embedding_list, vector_for

KEY, TOKEN = "loopback-key-7c1d", "loopback-token-93ab"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=KEY, token=TOKEN) as running:
        yield running


def provider_env(server: LoopbackServer, provider: str) -> dict[str, str]:
    models = {"LLMPORT_CHAT_MODEL": "gpt-4o-mini", "LLMPORT_EMBEDDING_MODEL": "text-embedding-3-small"}
    if provider == "openai":
        return models | {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{server.url}/v1"}
    if provider == "azure":
        return models | {
            "AZURE_OPENAI_ENDPOINT": server.url,
            "OPENAI_API_VERSION": "2024-10-21",
            "AZURE_OPENAI_API_KEY": KEY,
        }
    return models | {"AZURE_OPENAI_ENDPOINT": f"{server.url}/openai/v1/", "AZURE_OPENAI_AD_TOKEN": TOKEN}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "llmport", *args]


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_", "LLMPORT_"))}
    return base | extra


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), capture_output=True, text=True, timeout=60, env=clean_env(env), check=False
    )


@pytest.mark.parametrize(
    ("provider", "path", "auth_header"),
    [
        ("openai", "/v1/chat/completions", ("authorization", f"Bearer {KEY}")),
        ("azure", "/openai/deployments/gpt-4o-mini/chat/completions", ("api-key", KEY)),
        ("azure_v1", "/openai/v1/chat/completions", ("authorization", f"Bearer {TOKEN}")),
    ],
)
def test_chat_reaches_each_provider_shape(
    server: LoopbackServer, provider: str, path: str, auth_header: tuple[str, str]
) -> None:
    result = run("chat", "When was Microsoft founded?", env=provider_env(server, provider))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()  # the loopback's canned reply
    assert result.stderr == ""
    request = server.last
    assert request.path == path
    assert request.headers[auth_header[0]] == auth_header[1]
    assert request.body["messages"] == [{"role": "user", "content": "When was Microsoft founded?"}]
    assert ("api-version" in request.query) == (provider == "azure")


@pytest.mark.parametrize("provider", ["openai", "azure", "azure_v1"])
def test_doctor_passes_against_each_provider_shape(server: LoopbackServer, provider: str) -> None:
    result = run("doctor", env=provider_env(server, provider))
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = [line.split()[:2] for line in result.stdout.splitlines()]
    assert statuses == [
        ["configuration", "ok"],
        ["credential", "ok"],
        ["chat", "ok"],
        ["embeddings", "ok"],
        ["usage", "-"],
    ]
    assert [r.op for r in server.requests] == ["chat/completions", "embeddings"]
    assert KEY not in result.stdout and TOKEN not in result.stdout


def test_an_interrupted_embed_leaves_a_valid_file_and_the_rerun_completes_it(
    server: LoopbackServer, tmp_path: Path
) -> None:
    source, target = tmp_path / "in.txt", tmp_path / "out.jsonl"
    source.write_text("".join(f"text number {i}\n" for i in range(1, 601)))  # 3 chunks of <= 256
    first_chunk = embedding_list([vector_for(i, 3) for i in range(256)], as_base64=True)
    # The second request hangs long enough for the interrupt to land while it is in flight.
    server.script(Reply(body=first_chunk), Reply(body=first_chunk, delay=3.0))
    env = provider_env(server, "openai")
    args = ("embed", "--input", str(source), "--output", str(target))
    process = subprocess.Popen(
        command(*args), env=clean_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (target.exists() and target.read_text().count("\n") >= 256):
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    lines = target.read_text().splitlines()
    assert [json.loads(line)["line"] for line in lines] == list(range(1, 257))

    rerun = run(*args, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "embedded 344 lines" in rerun.stderr and "resumed after line 256" in rerun.stderr
    assert [json.loads(line)["line"] for line in target.read_text().splitlines()] == list(range(1, 601))
