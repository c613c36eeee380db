"""The llmport command as a new user meets it: bad files, ignored flags, sources, doctor, help, errors.

Each case runs ``python -m llmport`` in a subprocess, with no OPENAI_/AZURE_/LLMPORT_ variables of
the developer's, and asserts the exit status and the message.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback import LoopbackServer

KEY, TOKEN = "front-door-key-4e2a", "front-door-token-b81c"
FAKE = {"LLMPORT_PROVIDER": "fake"}


def run(
    *args: str, stdin: str | None = None, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_", "LLMPORT_"))}
    return subprocess.run(
        [sys.executable, "-m", "llmport", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean | env,
        cwd=cwd,
        check=False,
    )


def usage_error(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a usage error prints, after checking the status and that nothing else came."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("llmport: error: "), lines[0]
    return lines[0]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=KEY, token=TOKEN) as running:
        yield running


def openai_env(server: LoopbackServer, **models: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"{server.url}/v1", **models}


# -- embed --input / --output: bad files are usage errors naming the file -----------------------


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("first text\nsecond text\n")
    return path


def test_an_output_that_is_a_directory_is_refused(notes: Path, tmp_path: Path) -> None:
    line = usage_error(run("embed", "--input", str(notes), "--output", str(tmp_path), **FAKE))
    assert line == (
        f"llmport: error: --output {tmp_path}: is a directory; name a file in it, e.g. "
        f"{tmp_path / 'vectors.jsonl'}"
    )


def test_an_output_in_a_missing_folder_is_refused(notes: Path) -> None:
    line = usage_error(run("embed", "--input", str(notes), "--output", "/no/such/dir/x.jsonl", **FAKE))
    assert line == (
        "llmport: error: --output /no/such/dir/x.jsonl: the folder /no/such/dir does not exist; "
        "create it first"
    )


@pytest.mark.parametrize("content", ["my notes\nmore notes\n", "one line without a newline"])
def test_an_existing_output_that_is_not_a_vectors_file_is_refused_and_left_alone(
    notes: Path, tmp_path: Path, content: str
) -> None:
    other = tmp_path / "other.txt"
    other.write_text(content)

    line = usage_error(run("embed", "--input", str(notes), "--output", str(other), **FAKE))

    assert line.startswith(
        f"llmport: error: --output {other}: exists but is not a vectors file of `llmport embed --input`"
    )
    assert 'is not a {"line": N, "embedding": [...]} record' in line
    assert other.read_text() == content  # never truncated or appended to


def test_an_output_with_a_foreign_last_line_is_left_alone(notes: Path, tmp_path: Path) -> None:
    target = tmp_path / "vectors.jsonl"
    target.write_text('{"line": 1, "embedding": [0.5]}\nsomething else')

    line = usage_error(run("embed", "--input", str(notes), "--output", str(target), **FAKE))

    assert "its last line is not" in line
    assert target.read_text() == '{"line": 1, "embedding": [0.5]}\nsomething else'


def test_a_missing_input_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    line = usage_error(run("embed", "--input", str(missing), "--output", str(tmp_path / "o.jsonl"), **FAKE))
    assert line == f"llmport: error: --input {missing}: no such file"
    assert not (tmp_path / "o.jsonl").exists()


def test_an_input_that_is_a_directory_or_binary_is_refused(tmp_path: Path) -> None:
    output = str(tmp_path / "o.jsonl")
    line = usage_error(run("embed", "--input", str(tmp_path), "--output", output, **FAKE))
    assert line == f"llmport: error: --input {tmp_path}: is a directory; give a text file, one text per line"

    binary = tmp_path / "photo.jpg"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 10)
    line = usage_error(run("embed", "--input", str(binary), "--output", output, **FAKE))
    assert line == (
        f"llmport: error: --input {binary}: not UTF-8 text (a binary file?); "
        "give a text file, one text per line"
    )


# -- flags that used to be ignored ------------------------------------------------------------


def test_texts_with_output_are_refused_and_no_file_is_written(tmp_path: Path) -> None:
    line = usage_error(run("embed", "--output", "out.jsonl", "a", "b", cwd=tmp_path, **FAKE))
    assert line == (
        "llmport: error: embed --output writes the vectors of an --input FILE; for texts given as "
        "arguments, redirect the output instead: llmport embed TEXT ... > vectors.jsonl"
    )
    assert not (tmp_path / "out.jsonl").exists()


def test_texts_with_input_are_refused(notes: Path, tmp_path: Path) -> None:
    line = usage_error(
        run("embed", "--input", str(notes), "--output", str(tmp_path / "o.jsonl"), "a", **FAKE)
    )
    assert line == "llmport: error: embed takes texts as arguments or --input FILE, not both"


def test_stream_with_json_prints_one_json_object_per_chunk() -> None:
    result = run("chat", "--stream", "--json", "Tell me a story", **FAKE)

    assert result.returncode == 0, result.stderr
    chunks = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(chunks) > 1
    assert "".join(chunk["text"] for chunk in chunks) == "fake reply to: Tell me a story"
    assert chunks[-1]["finish_reason"] == "stop" and chunks[-1]["usage"]["total_tokens"] > 0


def test_client_without_a_config_file_is_refused() -> None:
    line = usage_error(run("--client", "small", "chat", "hi", **FAKE))
    assert line == (
        "llmport: error: --client small needs --config FILE (or LLMPORT_CONFIG): it picks "
        "[clients.small] of that file"
    )


def test_client_with_llmport_config_picks_the_table(tmp_path: Path) -> None:
    config = tmp_path / "llmport.toml"
    config.write_text('[clients.small]\nprovider = "fake"\nchat_model = "tiny"\n')
    result = run("--client", "small", "chat", "--json", "hi", LLMPORT_CONFIG=str(config))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"] == "tiny"


@pytest.mark.parametrize(
    ("args", "stdin"), [(["chat", ""], None), (["chat"], ""), (["chat"], "\n"), (["chat", "  "], None)]
)
def test_an_empty_prompt_sends_nothing(server: LoopbackServer, args: list[str], stdin: str | None) -> None:
    result = run(*args, stdin=stdin, **openai_env(server, LLMPORT_CHAT_MODEL="gpt-4o-mini"))

    line = usage_error(result)
    assert line == "llmport: error: nothing to send: the prompt is empty; give it as an argument or on stdin"
    assert server.count == 0


def test_a_piped_prompt_loses_its_trailing_newline(server: LoopbackServer) -> None:
    result = run("chat", stdin="When was Microsoft founded?\n", **openai_env(server, LLMPORT_CHAT_MODEL="m"))

    assert result.returncode == 0, result.stderr
    assert server.last.body["messages"] == [{"role": "user", "content": "When was Microsoft founded?"}]


# -- a bad setting names where it came from ---------------------------------------------------


def test_a_bad_value_in_a_toml_file_names_the_file_not_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "llmport.toml"
    config.write_text('[clients.default]\nprovider = "anthropic"\n')

    line = usage_error(run("--config", str(config), "chat", "hi"))

    assert line == (
        "llmport: error: provider: 'anthropic' is not one of openai, azure, azure_v1, fake "
        f"(from file {config} [clients.default])"
    )


def test_a_bad_value_in_the_environment_names_the_variable() -> None:
    line = usage_error(run("chat", "hi", LLMPORT_PROVIDER="anthropic"))
    assert line == (
        "llmport: error: provider: 'anthropic' is not one of openai, azure, azure_v1, fake "
        "(from environment LLMPORT_PROVIDER)"
    )


# -- config show on a configuration that does not validate ------------------------------------


def rows(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in stdout.splitlines()}


def test_config_show_prints_what_a_bad_file_holds_then_the_error(tmp_path: Path) -> None:
    config = tmp_path / "llmport.toml"
    config.write_text(
        '[clients.default]\nprovider = "anthropic"\napi_key = "sk-secret-in-file-77"\n'
        'endpoint = "https://user:pw-in-url@r.openai.azure.com"\ntimeout = 0\n'
    )

    result = run("--config", str(config), "config", "show")

    assert result.returncode == 2
    assert result.stderr == (
        "llmport: error: provider: 'anthropic' is not one of openai, azure, azure_v1, fake "
        f"(from file {config} [clients.default])\n"
    )
    shown = rows(result.stdout)
    source = ["file", str(config), "[clients.default]"]
    assert shown["provider"] == ["provider", "anthropic", *source]
    assert shown["api_key"] == ["api_key", "**********", *source]
    assert shown["endpoint"] == ["endpoint", "https://**********@r.openai.azure.com", *source]
    assert shown["timeout"] == ["timeout", "0", *source]
    assert shown["max_retries"] == ["max_retries", "2", "default"]
    assert "sk-secret-in-file-77" not in result.stdout + result.stderr
    assert "pw-in-url" not in result.stdout + result.stderr


def test_config_show_prints_what_a_bad_environment_holds_then_the_error() -> None:
    result = run("config", "show", OPENAI_API_KEY="sk-secret-env-31", LLMPORT_TIMEOUT="soon")

    assert result.returncode == 2
    assert result.stderr == (
        "llmport: error: timeout: 'soon' is not a number of seconds (from environment LLMPORT_TIMEOUT)\n"
    )
    shown = rows(result.stdout)
    assert shown["timeout"] == ["timeout", "soon", "environment", "LLMPORT_TIMEOUT"]
    assert shown["api_key"] == ["api_key", "**********", "environment", "OPENAI_API_KEY"]
    assert "sk-secret-env-31" not in result.stdout + result.stderr


def test_config_show_on_an_unreadable_file_prints_the_error_alone(tmp_path: Path) -> None:
    result = run("--config", str(tmp_path / "absent.toml"), "config", "show")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(
        f"llmport: error: config file '{tmp_path / 'absent.toml'}' could not be read"
    )


# -- doctor skips what is not configured ------------------------------------------------------


def statuses(stdout: str) -> list[list[str]]:
    return [line.split()[:2] for line in stdout.splitlines()]


def test_doctor_on_a_chat_only_setup_skips_embeddings(server: LoopbackServer) -> None:
    result = run("doctor", **openai_env(server, LLMPORT_CHAT_MODEL="gpt-4o-mini"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(result.stdout) == [
        ["configuration", "ok"],
        ["credential", "ok"],
        ["chat", "ok"],
        ["embeddings", "skipped"],
        ["usage", "-"],
    ]
    assert (
        "embeddings     skipped         -  no embedding_model: set LLMPORT_EMBEDDING_MODEL" in result.stdout
    )
    assert [request.op for request in server.requests] == ["chat/completions"]


def test_doctor_on_an_embeddings_only_setup_skips_chat(server: LoopbackServer) -> None:
    result = run("doctor", **openai_env(server, LLMPORT_EMBEDDING_MODEL="text-embedding-3-small"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(result.stdout)[2:] == [["chat", "skipped"], ["embeddings", "ok"], ["usage", "-"]]
    assert "no chat_model: set LLMPORT_CHAT_MODEL to check chat" in result.stdout
    assert [request.op for request in server.requests] == ["embeddings"]


def test_doctor_with_no_model_at_all_says_no_call_was_tried(server: LoopbackServer) -> None:
    result = run("doctor", **openai_env(server))

    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(result.stdout)[2:4] == [["chat", "skipped"], ["embeddings", "skipped"]]
    assert "note: no chat_model or embedding_model is set, so no call was tried" in result.stdout
    assert server.count == 0


def test_doctor_with_a_static_token_does_not_claim_a_lifetime(server: LoopbackServer) -> None:
    env = {
        "AZURE_OPENAI_ENDPOINT": f"{server.url}/openai/v1",
        "AZURE_OPENAI_AD_TOKEN": TOKEN,
        "LLMPORT_CHAT_MODEL": "gpt-4o-mini",
    }
    result = run("doctor", **env)

    assert result.returncode == 0, result.stdout + result.stderr
    credential = next(line for line in result.stdout.splitlines() if line.startswith("credential"))
    assert "static token (auth=token): read; its expiry is unknown, not checked" in credential
    assert "valid for" not in result.stdout
    assert TOKEN not in result.stdout + result.stderr


# -- chat flags --------------------------------------------------------------------------------


def test_chat_sends_model_temperature_and_max_tokens(server: LoopbackServer) -> None:
    result = run(
        "chat",
        "--model",
        "other-model",
        "--temperature",
        "0.5",
        "--max-tokens",
        "7",
        "hi",
        **openai_env(server),
    )

    assert result.returncode == 0, result.stderr
    body = server.last.body
    assert body["model"] == "other-model" and body["temperature"] == 0.5
    assert body.get("max_completion_tokens", body.get("max_tokens")) == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["chat", "--max-tokens", "0", "hi"],
            "argument --max-tokens: '0' is not a whole number of 1 or more",
        ),
        (
            ["chat", "--max-tokens", "lots", "hi"],
            "argument --max-tokens: 'lots' is not a whole number of 1 or more",
        ),
        (["chat", "--temperature", "3", "hi"], "argument --temperature: '3' is not a number from 0 to 2"),
        (["chat", "--temperature", "nan", "hi"], "argument --temperature: 'nan' is not a number from 0 to 2"),
        (["chat", "--model", " ", "hi"], "argument --model: ' ' is empty or starts or ends with spaces"),
        (
            ["embed", "--dimensions", "0", "a"],
            "argument --dimensions: '0' is not a whole number of 1 or more",
        ),
    ],
)
def test_bad_flag_values_exit_2_naming_the_flag(args: list[str], message: str) -> None:
    result = run(*args, **FAKE)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"llmport {args[0]}: error: {message}"


def test_the_no_model_error_tells_cli_users_about_model_flag(server: LoopbackServer) -> None:
    line = usage_error(run("chat", "hi", **openai_env(server)))
    assert line == (
        "llmport: error: no model for chat: pass --model NAME, or set LLMPORT_CHAT_MODEL "
        "(chat_model in a --config file); on Azure, the deployment name"
    )
    line = usage_error(run("embed", "a", **openai_env(server)))
    assert "pass --model NAME, or set LLMPORT_EMBEDDING_MODEL" in line and "model=" not in line
    assert server.count == 0


# -- version, help, errors that say where ---------------------------------------------------------


def test_version_prints_the_installed_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"llmport {importlib.metadata.version('llmport')}\n"


@pytest.mark.parametrize("args", [[], ["chat"], ["embed"], ["doctor"], ["config"], ["config", "show"]])
def test_help_shows_no_rst_markup(args: list[str]) -> None:
    result = run(*args, "--help")
    assert result.returncode == 0
    assert "``" not in result.stdout and ":func:" not in result.stdout
    assert result.stdout.startswith(f"usage: {' '.join(['llmport', *args])}")


def test_config_show_help_is_the_help_of_config_show() -> None:
    result = run("config", "show", "--help")
    assert result.stdout.startswith("usage: llmport config show [-h]\n")
    assert "Print each setting, its value (secrets hidden) and where it came from." in " ".join(
        result.stdout.split()
    )


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, "http://127.0.0.1:9/v1"),
        (
            {"AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9/openai/v1", "AZURE_OPENAI_API_KEY": KEY},
            "http://127.0.0.1:9/openai/v1",
        ),
        (
            {
                "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9",
                "AZURE_OPENAI_API_KEY": KEY,
                "OPENAI_API_VERSION": "2024-10-21",
            },
            "http://127.0.0.1:9",
        ),
    ],
)
def test_a_connection_error_names_the_url_and_never_the_key(env: dict[str, str], url: str) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    result = run("chat", "hi", LLMPORT_CHAT_MODEL="m", LLMPORT_MAX_RETRIES="0", **env)

    assert result.returncode == 1
    assert result.stderr.startswith(f"llmport: ConnectionFailedError at {url}: "), result.stderr
    assert KEY not in result.stdout + result.stderr


# -- the README's command-line section runs as written ------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands() -> list[str]:
    section = README.read_text(encoding="utf-8").split("## The command line\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


@pytest.mark.parametrize("command", readme_commands())
def test_each_readme_command_runs_offline(command: str, tmp_path: Path) -> None:
    (tmp_path / "texts.txt").write_text("first text\nsecond text\n")
    (tmp_path / "prompts.txt").write_text("Printer jammed\nVPN drops\n")
    (tmp_path / "llmport.toml").write_text(
        '[clients.default]\nprovider = "fake"\n[clients.embeddings]\nprovider = "fake"\n'
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_", "LLMPORT_"))}
    # The venv's bin first, so that `llmport` and `python` are the ones under test.
    path = f"{Path(sys.executable).parent}{os.pathsep}{clean.get('PATH', '')}"
    result = subprocess.run(
        ["/bin/bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean | {"PATH": path},
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
