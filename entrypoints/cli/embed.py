"""`llmport embed --input FILE [--output FILE.jsonl]`: the files checked, then the job with a progress bar."""

from __future__ import annotations

import argparse
import codecs
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ...container.root import build_client
from ...services.client import Client
from ...settings.model import Settings
from .config import UsageError
from .embed_file import EmbedFileResult, NotAVectorsFile, check_target, count_lines, embed_file, write_records

__all__ = ["embed_file_command"]

_HEAD = 1 << 16  # how much of the input is read up front to tell text from a binary file


def embed_file_command(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Embed every line of ``args.input`` into ``args.output`` (resumable), or onto ``out`` when no
    --output is given; report on ``err``.

    Raises:
        UsageError: texts besides --input, or a file that cannot be used; the message names the
            file and what is wrong with it.
        LLMPortError: a call failed after the retries; the records written before it are kept.
    """
    from tqdm import tqdm  # only this command needs it

    if args.texts:
        raise UsageError("embed takes texts as arguments or --input FILE, not both")
    source = Path(args.input)
    target = None if args.output is None else Path(args.output)
    _check_input(source)
    if target is not None:
        _check_output(target)
    where = "standard output" if target is None else str(target)
    with build_client(settings) as client:
        try:
            with tqdm(total=count_lines(source), unit="line", file=err, dynamic_ncols=True) as bar:
                result = _embed(client, source, target, out, args=args, progress=bar.update)
        except UnicodeDecodeError:
            raise UsageError(
                f"--input {source}: not UTF-8 text past its start; convert it to UTF-8 and run the same "
                f"command again (the lines before are in {where})"
            ) from None
        except OSError as exc:
            raise UsageError(f"{exc.filename or where}: {exc.strerror or exc}") from None
    err.write(
        f"llmport: embedded {result.embedded} lines into {where}"
        f" (resumed after line {result.resumed_after}, {result.skipped_empty} empty lines skipped)\n"
    )
    return 0


def _embed(
    client: Client,
    source: Path,
    target: Path | None,
    out: TextIO,
    *,
    args: argparse.Namespace,
    progress: Callable[[int], object],
) -> EmbedFileResult:
    if target is None:  # onto standard output: nothing to resume
        return write_records(
            client, source, out, model=args.model, dimensions=args.dimensions, progress=progress
        )
    return embed_file(client, source, target, model=args.model, dimensions=args.dimensions, progress=progress)


def _check_input(source: Path) -> None:
    if not source.exists():
        raise UsageError(f"--input {source}: no such file")
    if source.is_dir():
        raise UsageError(f"--input {source}: is a directory; give a text file, one text per line")
    try:
        with source.open("rb") as handle:
            head = handle.read(_HEAD)
    except OSError as exc:
        raise UsageError(f"--input {source}: cannot be read ({exc.strerror})") from None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)  # not final: a cut character may follow
    except UnicodeDecodeError:
        raise UsageError(
            f"--input {source}: not UTF-8 text (a binary file?); give a text file, one text per line"
        ) from None


def _check_output(target: Path) -> None:
    if target.is_dir():
        raise UsageError(
            f"--output {target}: is a directory; name a file in it, e.g. {target / 'vectors.jsonl'}"
        )
    if not target.parent.is_dir():
        raise UsageError(f"--output {target}: the folder {target.parent} does not exist; create it first")
    try:
        check_target(target)
    except NotAVectorsFile as exc:
        # An existing output is resumed, that is appended to: never do that to someone else's file.
        raise UsageError(
            f"--output {target}: exists but is not a vectors file of `llmport embed --input` ({exc}); "
            "choose a new file name (an existing output is resumed: appended to)"
        ) from None
    except OSError as exc:
        raise UsageError(f"--output {target}: cannot be read ({exc.strerror})") from None
