"""`llmport embed --input FILE --output FILE.jsonl`: the files checked, then the job with a progress bar."""

from __future__ import annotations

import argparse
import codecs
from pathlib import Path
from typing import TextIO

from ...container.root import build_client
from ...settings.model import Settings
from .config import UsageError
from .embed_file import NotAVectorsFile, check_target, count_lines, embed_file

__all__ = ["embed_file_command"]

_HEAD = 1 << 16  # how much of the input is read up front to tell text from a binary file


def embed_file_command(settings: Settings, args: argparse.Namespace, err: TextIO) -> int:
    """Embed every line of ``args.input`` into ``args.output``; report on ``err``.

    Raises:
        UsageError: texts besides --input, no --output, or a file that cannot be used; the
            message names the file and what is wrong with it.
        LLMPortError: a call failed after the retries; the records written before it are kept.
    """
    from tqdm import tqdm  # only this command needs it

    if args.texts:
        raise UsageError("embed takes texts as arguments or --input FILE, not both")
    if args.output is None:
        raise UsageError("embed --input FILE needs --output FILE.jsonl, the file to write the vectors to")
    source, target = Path(args.input), Path(args.output)
    _check_input(source)
    _check_output(target)
    with build_client(settings) as client:
        try:
            with tqdm(total=count_lines(source), unit="line", file=err, dynamic_ncols=True) as bar:
                result = embed_file(
                    client, source, target, model=args.model, dimensions=args.dimensions, progress=bar.update
                )
        except UnicodeDecodeError:
            raise UsageError(
                f"--input {source}: not UTF-8 text past its start; convert it to UTF-8 and run the same "
                f"command again (the lines before are in {target})"
            ) from None
        except OSError as exc:
            raise UsageError(f"{exc.filename or target}: {exc.strerror or exc}") from None
    err.write(
        f"llmport: embedded {result.embedded} lines into {target}"
        f" (resumed after line {result.resumed_after}, {result.skipped_empty} empty lines skipped)\n"
    )
    return 0


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
