"""The ``llmport`` command: chat and embed from the shell, on any configured provider."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from .container import build_client
from .domain.errors import ConfigurationError, LLMPortError, ValidationError
from .services.client import Client
from .settings import ENV_VARS, Settings

__all__ = ["main"]

_FAKE_NOTE = (
    "llmport: no provider configured (set OPENAI_API_KEY, or AZURE_OPENAI_ENDPOINT, or pass "
    "--config FILE); using the offline fake provider\n"
)


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command line and return its exit status.

    Args:
        argv: the arguments after the program name; ``sys.argv[1:]`` when None.
        stdout, stderr: where to write; the process's streams when None.

    Returns:
        0 on success, 1 when the provider call failed, 2 for bad configuration or input,
        130 when interrupted.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = _parser().parse_args(argv)
    try:
        with _client(args, err) as client:
            if args.command == "chat":
                return _chat(client, args, out)
            return _embed(client, args, out)
    except (ConfigurationError, ValidationError) as exc:
        err.write(f"llmport: error: {exc}\n")
        return 2
    except LLMPortError as exc:
        err.write(f"llmport: {type(exc).__name__}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        err.write("llmport: interrupted\n")
        return 130


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

    embed = commands.add_parser("embed", help="print one JSON line with the vector of each text")
    embed.add_argument("texts", nargs="+", help="the texts to embed")
    embed.add_argument("--model", help="model, or deployment on Azure (default: embedding_model)")
    embed.add_argument("--dimensions", type=int, help="shorter vectors, where the model allows")
    return parser


def _client(args: argparse.Namespace, err: TextIO) -> Client:
    path = args.config or os.environ.get("LLMPORT_CONFIG")
    if path:
        return build_client(Settings.from_toml(path, name=args.client))
    if not any(os.environ.get(name) for name in ENV_VARS):
        err.write(_FAKE_NOTE)
        return build_client(Settings(provider="fake"))
    return build_client(Settings.from_env())


def _chat(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()
    if args.stream:
        for chunk in client.stream(prompt, system=args.system, model=args.model):
            out.write(chunk.text)
            out.flush()
        out.write("\n")
    else:
        out.write(client.chat(prompt, system=args.system, model=args.model).text + "\n")
    return 0


def _embed(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    response = client.embed(args.texts, model=args.model, dimensions=args.dimensions)
    for index, vector in enumerate(response.vectors):
        out.write(json.dumps({"index": index, "dimensions": len(vector), "embedding": list(vector)}) + "\n")
    return 0
