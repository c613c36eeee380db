"""Embed a text file line by line into JSON Lines: batched, resumable, safe to interrupt."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, TextIO

from ...domain.models import EmbeddingResponse

__all__ = ["EmbedFileResult", "NotAVectorsFile", "check_target", "count_lines", "embed_file", "write_records"]


class _Embedder(Protocol):
    def embed(
        self, texts: list[str], *, model: str | None = ..., dimensions: int | None = ...
    ) -> EmbeddingResponse:
        """The Client's embed method."""
        ...


@dataclass(frozen=True, slots=True)
class EmbedFileResult:
    """What one run did: lines embedded now, lines found done already, empty lines skipped."""

    embedded: int
    resumed_after: int
    skipped_empty: int


def embed_file(
    client: _Embedder,
    source: Path,
    target: Path,
    *,
    chunk_size: int = 256,
    model: str | None = None,
    dimensions: int | None = None,
    progress: Callable[[int], object] = lambda _: None,
) -> EmbedFileResult:
    """Embed each non-empty line of ``source`` and append ``{"line", "embedding"}`` to ``target``.

    Every chunk is written whole and flushed before the next is sent, so an interruption leaves
    a valid file; a rerun keeps the complete records, drops a torn last line if any, and goes on
    after the last line written.

    Args:
        client: the llmport Client (anything with its ``embed``).
        source: a UTF-8 text file, one text per line; line numbers start at 1.
        target: the JSON Lines file to create or resume.
        chunk_size: lines per ``embed`` call (the client batches further by its own limits).
        model, dimensions: passed to ``embed``.
        progress: told the number of source lines done after each chunk (and skipped lines).

    Raises:
        LLMPortError: a chunk failed after the retries; the records before it are kept.
        NotAVectorsFile: ``target`` exists and holds something else; it is left as it is.
        UnicodeDecodeError: ``source`` is not UTF-8 text; the records before the bad line are kept.
        OSError: a file cannot be read or written.
    """
    done = _resume_point(target)
    if done:
        progress(done)
    with target.open("a", encoding="utf-8") as out:
        return write_records(
            client,
            source,
            out,
            after=done,
            chunk_size=chunk_size,
            model=model,
            dimensions=dimensions,
            progress=progress,
        )


def write_records(
    client: _Embedder,
    source: Path,
    out: TextIO,
    *,
    after: int = 0,
    chunk_size: int = 256,
    model: str | None = None,
    dimensions: int | None = None,
    progress: Callable[[int], object] = lambda _: None,
) -> EmbedFileResult:
    """Embed each non-empty line of ``source`` after line ``after`` and write ``{"line", "embedding"}``
    records to ``out`` (a file, or standard output), each chunk whole and flushed.

    Raises:
        LLMPortError: a chunk failed after the retries; the records before it were written.
        UnicodeDecodeError: ``source`` is not UTF-8 text.
        OSError: ``source`` cannot be read or ``out`` written.
    """
    embedded = skipped = 0
    for chunk in _chunks(source, after=after, size=chunk_size):
        numbers = [number for number, text in chunk if text]
        skipped += len(chunk) - len(numbers)
        if numbers:
            texts = [text for _, text in chunk if text]
            vectors = client.embed(texts, model=model, dimensions=dimensions).vectors
            lines = (
                json.dumps({"line": number, "embedding": list(vector)}, separators=(",", ":"))
                for number, vector in zip(numbers, vectors, strict=True)
            )
            out.write("\n".join(lines) + "\n")
            out.flush()
            embedded += len(numbers)
        progress(len(chunk))
    return EmbedFileResult(embedded=embedded, resumed_after=after, skipped_empty=skipped)


def count_lines(path: Path) -> int:
    """The number of lines in a text file (for a progress bar's total)."""
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def _chunks(source: Path, *, after: int, size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    with source.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if number <= after:
                continue
            chunk.append((number, line.rstrip("\r\n")))
            if len(chunk) == size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


class NotAVectorsFile(ValueError):
    """The output file exists and holds something else than ``{"line", "embedding"}`` records."""


def check_target(target: Path) -> int:
    """Return the last source line recorded in ``target`` (0 when it is absent or empty), changing nothing.

    Raises:
        NotAVectorsFile: ``target`` holds something else than this job's records.
        OSError: ``target`` cannot be read.
    """
    if not target.exists():
        return 0
    with target.open("rb") as handle:
        return _inspect(handle)[0]


def _resume_point(target: Path) -> int:
    """Return the last source line recorded in ``target``, truncating a torn last record."""
    if not target.exists():
        return 0
    with target.open("rb+") as handle:
        done, torn_at = _inspect(handle)
        if torn_at is not None:
            handle.truncate(torn_at)
            handle.flush()
            os.fsync(handle.fileno())
    return done


_RECORD_START = b'{"line":'
_RECORD = 'a {"line": N, "embedding": [...]} record'


def _inspect(handle: BinaryIO) -> tuple[int, int | None]:
    """The last line recorded and where a torn last record starts, after checking the file is ours.

    The first and the last complete lines must be records and a torn tail the start of one, so
    that a rerun never truncates or appends to a file this job did not write.
    """
    first = handle.readline()
    if first.endswith(b"\n"):
        _line_number(first, "first line")
    last, torn, torn_at = _last_line(handle)
    if torn and not _starts_a_record(torn):
        raise NotAVectorsFile(f"its last line is not {_RECORD}")
    return (_line_number(last, "last line") if last else 0), torn_at


def _starts_a_record(data: bytes) -> bool:
    compact = data.replace(b" ", b"")
    return compact.startswith(_RECORD_START) or _RECORD_START.startswith(compact)


def _line_number(line: bytes, which: str) -> int:
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not (
        isinstance(record, dict)
        and isinstance(record.get("line"), int)
        and isinstance(record.get("embedding"), list)
    ):
        raise NotAVectorsFile(f"its {which} is not {_RECORD}")
    return int(record["line"])


def _last_line(handle: BinaryIO) -> tuple[bytes, bytes, int | None]:
    """The last complete line, a torn write after it, and that write's offset (None without one)."""
    size = handle.seek(0, os.SEEK_END)
    block = 1 << 16
    while True:
        start = max(0, size - block)
        handle.seek(start)
        data = handle.read()
        keep = data.rfind(b"\n") + 1  # everything after the last newline is a torn write
        body = data[:keep].rstrip(b"\n")
        cut = body.rfind(b"\n")
        if cut >= 0 or start == 0:  # a whole line is in the block, or the block is the whole file
            return body[cut + 1 :], data[keep:], (start + keep if keep < len(data) else None)
        block *= 4
