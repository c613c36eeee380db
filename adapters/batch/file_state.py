"""FileStateStore: a batch job's state as a directory of files, each written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ...domain.errors import ConfigurationError
from .job_state import JsonJobState

__all__ = ["FileStateStore"]


class FileStateStore(JsonJobState):
    """Each job in its own directory under ``root``: ``state.json`` and the files it keeps.

    Every write goes to a temporary file in the same directory, is flushed to disk (fsync), and
    replaces the old file in one step (``os.replace``); the directory is synced too, so a crash
    or ``kill -9`` at any moment leaves either the old file or the new one, never half of one.

    Args:
        root: the directory the jobs' directories are made in.
    """

    STATE = "state.json"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _dir(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or "\\" in job_id or job_id in (".", ".."):
            raise ConfigurationError(f"{job_id!r:.80} is not a batch job id")
        return self.root / job_id

    def put(self, job_id: str, name: str, data: bytes) -> None:
        """Write ``data`` to the job's file ``name``: whole, synced, then renamed into place."""
        folder = self._dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, folder / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _sync_dir(folder)

    def get(self, job_id: str, name: str) -> bytes | None:
        """The job's file ``name``, or None."""
        try:
            return (self._dir(job_id) / name).read_bytes()
        except FileNotFoundError:
            return None

    def where(self, job_id: str) -> str:
        """The job's directory."""
        return str(self._dir(job_id))

    def __repr__(self) -> str:
        return f"FileStateStore({str(self.root)!r})"


def _sync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); Windows has no directory handles to sync."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


if TYPE_CHECKING:
    from ...domain.ports import BatchStateStore

    _store: type[BatchStateStore] = FileStateStore
