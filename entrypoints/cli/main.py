"""The llmport command: chat, embed, doctor and config show, on any configured provider."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from ...container.root import build_client
from ...domain.errors import AuthenticationError, ConfigurationError, LLMPortError, ValidationError
from ...domain.models import ChatChunk
from ...services.client import Client
from ...settings.model import Settings
from .batch import add_batch_parser, batch_command
from .config import UsageError, config_show, load_settings, provider_url
from .doctor import describe_error, doctor
from .embed import embed_file_command

__all__ = ["main"]

_EPILOG = """\
settings come from --config FILE (or $LLMPORT_CONFIG), else from the environment
(OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT, LLMPORT_*); with nothing set, chat and embed
use the offline fake provider.

exit status: 0 success, 1 a provider call failed, 2 bad configuration or input,
130 interrupted.
"""
_EMBED_VAR = "LLMPORT_EMBEDDING_MODEL"


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
    with _quiet_libraries(args.verbose):
        return _main(args, out, err)


# Libraries whose warnings run to many lines that llmport's own one-line error already sums up:
# DefaultAzureCredential logs each credential it tried (13 lines) before llmport says it failed.
_QUIET = ("azure.identity",)


@contextlib.contextmanager
def _quiet_libraries(verbose: bool) -> Iterator[None]:
    """Unless ``verbose``, keep the chatty libraries' warnings off the terminal while the command runs.

    The CLI is the entry point of its process, so it may set levels; it puts them back afterwards
    for callers of ``main()`` inside a larger program.
    """
    if verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in _QUIET]
    saved = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, saved, strict=True):
            logger.setLevel(level)


def _main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings: Settings | None = None
    try:
        if args.command == "config":
            return config_show(args.config, args.client, out, err)
        settings = load_settings(args.config, args.client, err)
        if args.command == "doctor":
            return doctor(settings, out)
        return _run(settings, args, out, err)
    except (UsageError, ConfigurationError, ValidationError) as exc:
        err.write(f"llmport: error: {exc}\n")
        return 2
    except LLMPortError as exc:
        url = provider_url(settings) if settings is not None else None
        hint = ""
        if isinstance(exc, AuthenticationError) and "azure.identity" in exc.message and not args.verbose:
            hint = "; llmport --verbose shows it"
        err.write(f"llmport: {describe_error(exc, url)}{hint}\n")
        return 1
    except KeyboardInterrupt:
        err.write("llmport: interrupted\n")
        return 130


def _run(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.command == "batch":
        return batch_command(settings, args, err)
    if args.command == "chat":
        prompt = _prompt(args.prompt)
        _need_model(args.model or settings.chat_model, "chat", "chat_model", "LLMPORT_CHAT_MODEL")
        with build_client(settings) as client:
            return _chat(client, prompt, args, out)
    if args.input is not None:
        _need_model(args.model or settings.embedding_model, "embed", "embedding_model", _EMBED_VAR)
        return embed_file_command(settings, args, out, err)
    if args.output is not None:
        raise UsageError(
            "embed --output writes the vectors of an --input FILE; for texts given as arguments, "
            "redirect the output instead: llmport embed TEXT ... > vectors.jsonl"
        )
    if not args.texts:
        raise UsageError("embed needs texts, or --input FILE [--output FILE.jsonl]")
    _need_model(args.model or settings.embedding_model, "embed", "embedding_model", _EMBED_VAR)
    with build_client(settings) as client:
        return _embed(client, args, out)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmport",
        description="Chat and embeddings on OpenAI, Azure OpenAI or any OpenAI-compatible server.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"llmport {_version()}")
    parser.add_argument(
        "--config", metavar="FILE", help="TOML settings file (default: $LLMPORT_CONFIG, else the environment)"
    )
    parser.add_argument("--client", metavar="NAME", help="which [clients.NAME] of the --config file to use")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show the warnings of the libraries llmport uses (e.g. what each Entra ID credential did)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = commands.add_parser(
        "chat",
        help="ask a question and print the reply",
        description="Ask a question and print the reply. The prompt is the argument, or stdin without it "
        "(its trailing newline removed).",
    )
    chat.add_argument("prompt", nargs="?", help="the question; read from stdin when absent")
    chat.add_argument("--system", help="instructions sent before the question")
    chat.add_argument("--model", type=_name, help="model, or deployment on Azure (default: chat_model)")
    chat.add_argument("--temperature", type=_temperature, help="sampling temperature, 0 to 2")
    chat.add_argument("--max-tokens", type=_count, metavar="N", help="stop the reply after N tokens")
    chat.add_argument("--stream", action="store_true", help="print the reply as it is generated")
    chat.add_argument(
        "--json",
        action="store_true",
        help="print the whole ChatResponse as JSON; with --stream, one JSON object per chunk (JSON Lines)",
    )

    embed = commands.add_parser(
        "embed",
        help="print one JSON line per text, or embed a file",
        description="Embed the texts given as arguments (one JSON line per vector on stdout), or every "
        "line of --input FILE onto stdout or into --output FILE.jsonl (batched; resumable with --output).",
    )
    embed.add_argument("texts", nargs="*", help="the texts to embed")
    embed.add_argument("--input", metavar="FILE", help="a UTF-8 text file, one text per line")
    embed.add_argument(
        "--output",
        metavar="FILE",
        help="with --input: the JSON Lines file to write (resumed if it exists); without it, stdout",
    )
    embed.add_argument("--model", type=_name, help="model, or deployment on Azure (default: embedding_model)")
    embed.add_argument(
        "--dimensions", type=_count, metavar="N", help="shorter vectors, where the model allows"
    )
    add_batch_parser(commands)

    commands.add_parser(
        "doctor",
        help="check the configuration, the credential, chat and embeddings",
        description="Check the configuration, the credential, one chat and one embedding call; a call "
        "whose model is not set is skipped. Exit 0 when every check that ran passed, 1 otherwise.",
    )
    config = commands.add_parser(
        "config", help="show the effective settings", description="Inspect the settings."
    )
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "show",
        help="print the effective settings and their sources",
        description="Print each setting, its value (secrets hidden) and where it came from. When the "
        "settings do not validate, print what was read, then the error, and exit 2.",
    )
    return parser


def _version() -> str:
    try:
        return importlib.metadata.version("llmport")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        package = sys.modules.get(__name__.partition(".")[0])
        return str(getattr(package, "__version__", "unknown"))


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 2.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 2")
    return value


def _name(text: str) -> str:
    if not text.strip() or text != text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is empty or starts or ends with spaces")
    return text


def _prompt(given: str | None) -> str:
    # A piped prompt ends with the newline of its last line; it is not part of the question.
    prompt = given if given is not None else sys.stdin.read().rstrip("\r\n")
    if not prompt.strip():
        raise UsageError("nothing to send: the prompt is empty; give it as an argument or on stdin")
    return prompt


def _need_model(model: str | None, kind: str, setting: str, variable: str) -> None:
    if model is None:
        raise ConfigurationError(
            f"no model for {kind}: pass --model NAME, or set {variable} ({setting} in a --config file); "
            "on Azure, the deployment name"
        )


def _chat(client: Client, prompt: str, args: argparse.Namespace, out: TextIO) -> int:
    if args.stream:
        chunks = client.stream(
            prompt,
            system=args.system,
            model=args.model,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
        )
        for chunk in chunks:
            out.write(_json_line(chunk) if args.json else chunk.text)
            out.flush()
        if not args.json:
            out.write("\n")
        return 0
    reply = client.chat(
        prompt, system=args.system, model=args.model, temperature=args.temperature, max_tokens=args.max_tokens
    )
    if args.json:
        # client_usage: the client's running totals (client.usage), the same for one call as its usage.
        fields = dataclasses.asdict(reply) | {"text": reply.text, "client_usage": client.usage.as_dict()}
        out.write(json.dumps(fields, default=_jsonable, indent=2) + "\n")
    else:
        out.write(reply.text + "\n")
    return 0


def _json_line(chunk: ChatChunk) -> str:
    return json.dumps(dataclasses.asdict(chunk), default=_jsonable) + "\n"


def _jsonable(value: object) -> Any:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def _embed(client: Client, args: argparse.Namespace, out: TextIO) -> int:
    response = client.embed(args.texts, model=args.model, dimensions=args.dimensions)
    for index, vector in enumerate(response.vectors):
        out.write(json.dumps({"index": index, "dimensions": len(vector), "embedding": list(vector)}) + "\n")
    return 0
