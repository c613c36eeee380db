"""The llmport command in a subprocess: offline default, chat, embed, files, doctor, config show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "sk-cli-secret-5f0e1d2c"


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_", "LLMPORT_"))}
    return base | extra


def run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmport", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(**env),
        check=False,
    )


def test_with_nothing_configured_chat_answers_offline_and_says_so() -> None:
    result = run("chat", "When was Microsoft founded?")
    assert result.returncode == 0
    assert result.stdout == "fake reply to: When was Microsoft founded?\n"
    assert "using the offline fake provider" in result.stderr


def test_chat_reads_the_prompt_from_stdin_and_prints_json() -> None:
    result = run("chat", "--json", "--system", "Be brief.", stdin="from stdin", LLMPORT_PROVIDER="fake")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["text"] == "fake reply to: from stdin"
    assert reply["finish_reason"] == "stop" and reply["usage"]["total_tokens"] > 0
    assert result.stderr == ""  # configured: no fake-provider note


def test_chat_stream_prints_the_whole_reply() -> None:
    result = run("chat", "--stream", "Tell me a story", LLMPORT_PROVIDER="fake")
    assert result.stdout == "fake reply to: Tell me a story\n"


def test_embed_prints_one_json_line_per_text() -> None:
    result = run("embed", "a", "b", "--dimensions", "4", LLMPORT_PROVIDER="fake")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["index"], line["dimensions"], len(line["embedding"])) for line in lines] == [
        (0, 4, 4),
        (1, 4, 4),
    ]


def test_embed_file_writes_jsonl_and_a_rerun_resumes_after_a_torn_line(tmp_path: Path) -> None:
    source, target = tmp_path / "in.txt", tmp_path / "out.jsonl"
    source.write_text("alpha\nbeta\n\ngamma\n")
    first = run("embed", "--input", str(source), "--output", str(target), LLMPORT_PROVIDER="fake")
    assert first.returncode == 0, first.stderr
    assert "embedded 3 lines" in first.stderr and "1 empty lines skipped" in first.stderr
    assert [json.loads(line)["line"] for line in target.read_text().splitlines()] == [1, 2, 4]

    with source.open("a") as handle:
        handle.write("delta\nepsilon\n")
    with target.open("a") as handle:
        handle.write('{"line": 5, "embedd')  # what a kill in the middle of a write leaves
    second = run("embed", "--input", str(source), "--output", str(target), LLMPORT_PROVIDER="fake")
    assert second.returncode == 0, second.stderr
    assert "embedded 2 lines" in second.stderr and "resumed after line 4" in second.stderr
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [record["line"] for record in records] == [1, 2, 4, 5, 6]


def test_config_show_lists_sources_and_never_the_key() -> None:
    result = run(
        "config", "show", OPENAI_API_KEY=SECRET, LLMPORT_CHAT_MODEL="gpt-4o-mini", LLMPORT_TIMEOUT="7"
    )
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "environment OPENAI_API_KEY" in rows["api_key"] and "**********" in rows["api_key"]
    assert "environment LLMPORT_TIMEOUT" in rows["timeout"]
    assert rows["provider"].split()[1] == "openai" and rows["provider"].endswith("detected")


def test_config_file_picks_the_named_client(tmp_path: Path) -> None:
    config = tmp_path / "llmport.toml"
    config.write_text(
        '[clients.default]\nprovider = "fake"\n[clients.small]\nprovider = "fake"\nchat_model = "tiny"\n'
    )
    result = run("--config", str(config), "--client", "small", "chat", "--json", "hi")
    assert json.loads(result.stdout)["model"] == "tiny"


def test_bad_configuration_exits_2_naming_the_setting() -> None:
    result = run(
        "chat", "hi", AZURE_OPENAI_ENDPOINT="https://r.openai.azure.com", AZURE_OPENAI_API_KEY=SECRET
    )
    assert result.returncode == 2
    assert "api_version" in result.stderr and "OPENAI_API_VERSION" in result.stderr
    assert SECRET not in result.stderr


def test_doctor_passes_offline_and_fails_with_a_fix_when_the_endpoint_is_unreachable() -> None:
    ok = run("doctor", LLMPORT_PROVIDER="fake")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert [line.split()[:2] for line in ok.stdout.splitlines()] == [
        ["configuration", "ok"],
        ["credential", "ok"],
        ["chat", "ok"],
        ["embeddings", "ok"],
        ["usage", "-"],
    ]
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    bad = run(
        "doctor",
        OPENAI_API_KEY=SECRET,
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        LLMPORT_CHAT_MODEL="m",
        LLMPORT_EMBEDDING_MODEL="e",
        LLMPORT_MAX_RETRIES="0",
    )
    assert bad.returncode == 1
    assert "chat           FAILED" in bad.stdout and "ConnectionFailedError" in bad.stdout
    assert "fix: check the endpoint URL" in bad.stdout
    assert SECRET not in bad.stdout + bad.stderr


@pytest.mark.parametrize("args", [["embed"], ["embed", "--input", "missing.txt", "--output", "o.jsonl"]])
def test_embed_without_usable_input_is_a_usage_error(args: list[str]) -> None:
    result = run(*args, LLMPORT_PROVIDER="fake")
    assert result.returncode == 2 and "llmport: error:" in result.stderr
