"""The ``llmport`` command: chat, embed, doctor and config show, on any configured provider."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from ..container import Container, build_client
from ..domain.errors import ConfigurationError, LLMPortError, ValidationError
from ..services.client import Client
from ..settings import ENV_VARS, Settings

__all__ = ["main"]

_FAKE_NOTE = (
    "llmport: no provider configured (set OPENAI_API_KEY, or AZURE_OPENAI_ENDPOINT, or pass "
    "--config FILE); using the offline fake provider\n"
)
# What to do about each failure `llmport doctor` can meet, by the error's class name.
_FIXES = {
    "AuthenticationError": "check the key (OPENAI_API_KEY / AZURE_OPENAI_API_KEY) or sign in (az login)",
    "PermissionDeniedError": "grant the identity the 'Cognitive Services OpenAI User' role",
    "NotFoundError": "check the model / deployment name (LLMPORT_CHAT_MODEL, LLMPORT_EMBEDDING_MODEL)",
    "ConnectionFailedError": "check the endpoint URL and the network path to it",
    "RequestTimeoutError": "the service is slow or unreachable; raise LLMPORT_TIMEOUT or check the network",
    "ConfigurationError": "fix the setting named above",
}


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command line and return its exit status.

    Args:
        argv: the arguments after the program name; ``sys.argv[1:]`` when None.
        stdout, stderr: where to write; the process's streams when None.

    Returns:
        0 on success, 1 when a provider call failed, 2 for bad configuration or input,
        130 when interrupted.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = _parser().parse_args(argv)
    try:
        return _run(args, out, err)
    except (ConfigurationError, ValidationError) as exc:
        err.write(f"llmport: error: {exc}\n")
        return 2
    except LLMPortError as exc:
        err.write(f"llmport: {type(exc).__name__}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        err.write("llmport: interrupted\n")
        return 130


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = _settings(args, err)
    if args.command == "config":
        return _config_show(settings, out)
    if args.command == "doctor":
        return _doctor(settings, out)
    with build_client(settings) as client:
        if args.command == "chat":
            return _chat(client, args, out)
        if args.input:
            return _embed_file(client, args, err)
        return _embed(client, args, out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmport", description=__doc__)
    parser.add_argument(
        "--config", help="TOML settings file (default: $LLMPORT_CONFIG, else the environment)"
    )
    parser.add_argument("--client", default="default", help="which [clients.NAME] of the file to use")
    commands = parser.add_subparsers(dest="command", required=True)

    chat = commands.add_parser("chat", help="ask a question and print the reply")
    chat.add_argument("prompt", nargs="?", help="the question; read from stdin when absent")
    chat.add_argument("--system", help="instructions sent before the question")
    chat.add_argument("--model", help="model, or deployment on Azure (default: chat_model)")
    chat.add_argument("--stream", action="store_true", help="print the reply as it is generated")
    chat.add_argument("--json", action="store_true", help="print the whole ChatResponse as JSON")

    embed = commands.add_parser("embed", help="print one JSON line per text, or embed a file")
    embed.add_argument("texts", nargs="*", help="the texts to embed")
    embed.add_argument("--input", type=Path, help="a text file, one text per line")
    embed.add_argument("--output", type=Path, help="the JSON Lines file to write (resumed if it exists)")
    embed.add_argument("--model", help="model, or deployment on Azure (default: embedding_model)")
    embed.add_argument("--dimensions", type=int, help="shorter vectors, where the model allows")

    commands.add_parser("doctor", help="check the configuration, the credential, chat and embeddings")
    config = commands.add_parser("config", help="show the effective settings")
    config.add_argument("action", choices=["show"])
    return parser


def _settings(args: argparse.Namespace, err: TextIO) -> Settings:
    path = args.config or os.environ.get("LLMPORT_CONFIG")
    if path:
        return Settings.from_toml(path, name=args.client)
    if not any(os.environ.get(name) for name in ENV_VARS):
        err.write(_FAKE_NOTE)
        return Settings(provider="fake", sources={"provider": "no configuration found"})
    return Settings.from_env()


def _chat(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if args.stream:
        for chunk in client.stream(prompt, system=args.system, model=args.model):
            out.write(chunk.text)
            out.flush()
        out.write("\n")
        return 0
    reply = client.chat(prompt, system=args.system, model=args.model)
    if args.json:
        fields = dataclasses.asdict(reply) | {"text": reply.text}
        out.write(json.dumps(fields, default=_jsonable, indent=2) + "\n")
    else:
        out.write(reply.text + "\n")
    return 0


def _jsonable(value: object) -> Any:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def _embed(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    if not args.texts:
        raise ValidationError("embed needs texts, or --input FILE --output FILE.jsonl")
    response = client.embed(args.texts, model=args.model, dimensions=args.dimensions)
    for index, vector in enumerate(response.vectors):
        out.write(json.dumps({"index": index, "dimensions": len(vector), "embedding": list(vector)}) + "\n")
    return 0


def _embed_file(client: Client, args: argparse.Namespace, err: TextIO) -> int:
    from tqdm import tqdm

    from .embed_file import count_lines, embed_file

    if args.output is None or args.texts:
        raise ValidationError("embed --input FILE needs --output FILE.jsonl and no texts")
    if not args.input.is_file():
        raise ValidationError(f"--input {str(args.input)!r} is not a readable file")
    with tqdm(total=count_lines(args.input), unit="line", file=err, dynamic_ncols=True) as bar:
        result = embed_file(
            client, args.input, args.output, model=args.model, dimensions=args.dimensions, progress=bar.update
        )
    err.write(
        f"llmport: embedded {result.embedded} lines into {args.output}"
        f" (resumed after line {result.resumed_after}, {result.skipped_empty} empty lines skipped)\n"
    )
    return 0


def _config_show(settings: Settings, out: TextIO) -> int:
    shown = settings.redacted()
    width = max(map(len, shown))
    for key, value in shown.items():
        out.write(f"{key:<{width}}  {value!s:<48}  {settings.source(key)}\n")
    return 0


def _doctor(settings: Settings, out: TextIO) -> int:
    container = Container(settings=settings)
    client: Client | None = None
    rows: list[tuple[str, str, str, str]] = [
        ("configuration", "ok", "-", f"provider={settings.provider} auth={settings.auth or '-'}")
    ]
    failures: list[LLMPortError] = []

    def check(name: str, action: Callable[[], str]) -> None:
        started = time.perf_counter()
        try:
            detail = action()
        except LLMPortError as exc:
            failures.append(exc)
            rows.append((name, "FAILED", _ms(started), f"{type(exc).__name__}: {exc}"))
        else:
            rows.append((name, "ok", _ms(started), detail))

    def token() -> str:
        cache = container.token_cache()
        if cache is None:
            return "API key: no token to fetch"
        expires_in = cache.get_token().expires_on - time.time()
        return f"token valid for {expires_in / 60:.0f} min"

    def chat() -> str:
        reply = _client().chat("Reply with the word ok.", max_tokens=5)
        return f"model={reply.model} request_id={reply.request_id}"

    def embed() -> str:
        response = _client().embed(["llmport doctor"])
        return f"dimensions={len(response.vectors[0])} model={response.model}"

    def _client() -> Client:
        nonlocal client
        client = client or build_client(settings, container)
        return client

    try:
        check("credential", token)
        credential_ok = not failures
        for name, action in (("chat", chat), ("embeddings", embed)):
            if not credential_ok:  # the calls cannot pass without it: say so rather than fail twice
                rows.append((name, "skipped", "-", "the credential check failed"))
            else:
                check(name, action)
    finally:
        if client is not None:
            client.close()
    for name, status, took, detail in rows:
        out.write(f"{name:<14} {status:<8} {took:>8}  {detail}\n")
    for fix in dict.fromkeys(
        _FIXES.get(type(failure).__name__, "see the error above") for failure in failures
    ):
        out.write(f"fix: {fix}\n")
    return 1 if failures else 0


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"
