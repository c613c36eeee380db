"""JsonJobState: a job's state as one JSON entry among its kept files, for every state store."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ...domain.errors import ConfigurationError

__all__ = ["JsonJobState"]


class JsonJobState:
    """``load`` and ``save`` of ``BatchStateStore``, over a store's own ``get``, ``put`` and ``where``.

    A subclass names the entry the state is kept under (``STATE``).
    """

    __slots__ = ()
    #: The entry of a job that holds its state.
    STATE = "state"

    def get(self, job_id: str, name: str) -> bytes | None:
        """The bytes kept under ``name`` for the job, or None."""
        raise NotImplementedError

    def put(self, job_id: str, name: str, data: bytes) -> None:
        """Keep ``data`` under ``name`` for the job, whole."""
        raise NotImplementedError

    def where(self, job_id: str) -> str:
        """Where the job is kept, for messages."""
        raise NotImplementedError

    def load(self, job_id: str) -> dict[str, object] | None:
        """The job's state, or None when it has none.

        Raises:
            ConfigurationError: what is kept there is not a job's state.
        """
        raw = self.get(job_id, self.STATE)
        if raw is None:
            return None
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise ConfigurationError(f"{self.where(job_id)} is not a batch job's state")
        return value

    def save(self, job_id: str, state: Mapping[str, object]) -> None:
        """Replace the job's state (as durably as the store writes)."""
        self.put(job_id, self.STATE, json.dumps(state, separators=(",", ":")).encode())
