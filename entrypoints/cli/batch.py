"""`llmport batch embed|chat --input FILE --output FILE.jsonl`: a Batch API job that a rerun picks up."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, TextIO

from ...adapters.batch.file_state import FileStateStore
from ...container.root import build_client
from ...domain.batch import BatchCounts
from ...domain.errors import LLMPortError
from ...services.batch.job import BatchJob
from ...services.client import Client
from ...settings.model import Settings
from .config import UsageError

__all__ = ["add_batch_parser", "batch_command"]

_JOB = "job"  # the one job of a state directory
_INPUT_HASH = "input.sha256"


def add_batch_parser(commands: Any) -> None:
    """Add ``batch embed`` and ``batch chat`` to the command line's subcommands."""
    batch = commands.add_parser(
        "batch",
        help="run a file through the provider's Batch API (half price, within 24 h); rerun to resume",
    )
    kinds = batch.add_subparsers(dest="batch_kind", required=True, metavar="KIND")
    embed = kinds.add_parser("embed", help="embed each line of --input (OpenAI only)")
    embed.add_argument("--dimensions", type=int, metavar="N", help="shorter vectors, on models that allow it")
    chat = kinds.add_parser("chat", help="send each line of --input as a prompt")
    chat.add_argument("--system", help="instructions sent before each prompt")
    chat.add_argument("--max-tokens", type=int, metavar="N", help="stop each reply after N tokens")
    for kind in (embed, chat):
        kind.add_argument(
            "--input", metavar="FILE", required=True, help="a UTF-8 text file, one item per line"
        )
        kind.add_argument("--output", metavar="FILE", required=True, help="the JSON Lines file to write")
        kind.add_argument("--model", help="model, or deployment on Azure (default: the configured one)")
        kind.add_argument(
            "--state", metavar="DIR", help="where the job's state is kept (default: OUTPUT.batch next to it)"
        )
        kind.add_argument(
            "--poll", type=float, default=30.0, metavar="SECONDS", help="first wait between polls"
        )
        kind.add_argument("--keep-files", action="store_true", help="leave the files at the provider")


def batch_command(settings: Settings, args: argparse.Namespace, err: TextIO) -> int:
    """Start the job of ``args.input`` (or pick up the one its state directory holds), wait for it
    with a progress bar on ``err``, and write one JSON line per input line to ``args.output``.

    Raises:
        UsageError: a file that cannot be used, or a state directory holding another input's job.
        LLMPortError: the provider refused the job.
    """
    source, target = Path(args.input), Path(args.output)
    texts = _texts(source)
    state_dir = Path(args.state) if args.state else target.with_name(target.name + ".batch")
    store = FileStateStore(state_dir)
    digest = hashlib.sha256(source.read_bytes()).hexdigest().encode()
    with build_client(settings) as client:
        job = _job(client, store, digest, args, err)
        results = _wait(job, args.poll, err)
    rows = [_row(number, result) for number, result in zip(_numbers(texts), results, strict=True)]
    _write(target, "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows))
    failed = sum("error" in row for row in rows)
    err.write(f"llmport: {len(rows) - failed} lines into {target}, {failed} failed (batch job {job.where})\n")
    return 0 if not failed else 1


def _job(
    client: Client, store: FileStateStore, digest: bytes, args: argparse.Namespace, err: TextIO
) -> BatchJob:
    kept = store.get(_JOB, _INPUT_HASH)
    if kept is not None and kept != digest:
        raise UsageError(
            f"{store.where(_JOB)} holds the batch job of another input file; delete it or pass --state DIR"
        )
    if store.load(_JOB) is not None:
        err.write(f"llmport: resuming the batch job in {store.where(_JOB)}\n")
        return client.batch.resume(_JOB, state=store)
    store.put(_JOB, _INPUT_HASH, digest)
    chosen = [text for text in _texts(Path(args.input)) if text]
    if not chosen:
        raise UsageError(f"--input {args.input}: no non-empty line to send")
    common: dict[str, Any] = {"job_id": _JOB, "state": store, "keep_files": args.keep_files}
    if args.batch_kind == "embed":
        return client.batch.embed(chosen, model=args.model, dimensions=args.dimensions, **common)
    options = {"model": args.model, "system": args.system, "max_tokens": args.max_tokens}
    return client.batch.chat(chosen, **common, **{k: v for k, v in options.items() if v is not None})


def _wait(job: BatchJob, poll: float, err: TextIO) -> list[Any]:
    from tqdm import tqdm  # only this command needs it

    with tqdm(total=job.counts.total, unit="req", file=err, dynamic_ncols=True) as bar:

        def show(counts: BatchCounts) -> None:
            bar.update(counts.completed + counts.failed - bar.n)

        return job.results(poll_interval=poll, progress=show)


def _texts(source: Path) -> list[str]:
    try:
        return [line.rstrip("\r\n") for line in source.read_text(encoding="utf-8").splitlines()]
    except FileNotFoundError:
        raise UsageError(f"--input {source}: no such file") from None
    except UnicodeDecodeError:
        raise UsageError(f"--input {source}: not UTF-8 text; give a text file, one item per line") from None
    except OSError as exc:
        raise UsageError(f"--input {source}: cannot be read ({exc.strerror})") from None


def _numbers(texts: list[str]) -> list[int]:
    """The 1-based line numbers of the non-empty lines (what was sent)."""
    return [number for number, text in enumerate(texts, start=1) if text]


def _row(number: int, result: Any) -> dict[str, Any]:
    if isinstance(result, LLMPortError):
        return {"line": number, "error": str(result), "code": result.code}
    if hasattr(result, "vectors"):
        return {"line": number, "embedding": list(result.vectors[0])}
    return {"line": number, "text": result.text}


def _write(target: Path, text: str) -> None:
    """Write the output whole or not at all (a temporary file renamed over it)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path())
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
