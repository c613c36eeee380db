"""RedisStateStore: a batch job's state in the Redis already configured, shared by every worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...domain.errors import ServiceUnavailableError
from ..redis_link import Trouble, connect, round_trip
from .job_state import JsonJobState

__all__ = ["RedisStateStore"]


class RedisStateStore(JsonJobState):
    """Each job in one Redis hash, ``{prefix}{job_id}``: the field ``state`` and the files kept.

    Unlike the reply cache, a job's state is not optional: a failed round trip raises
    ServiceUnavailableError (the job is not lost; resume it once Redis is back). Redis makes each
    HSET whole; make it durable with Redis's own persistence (AOF or snapshots).

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://``.
        prefix: put before each job's id in its key.
        timeout: seconds for each round trip (a 200 MB result file takes a while).
        client: a redis-py client to use instead of one made from ``url`` (tests).
    """

    def __init__(
        self, url: str, *, prefix: str = "llmport:batch:", timeout: float = 30.0, client: Any = None
    ) -> None:
        self._client = client if client is not None else connect(url, timeout, decode=False)
        self._prefix = prefix
        self._timeout = timeout

    def _run(self, *command: Any) -> Any:
        try:
            answer = round_trip(self._client, [command], self._timeout, setting="cache")[0]
        except Trouble as trouble:
            raise ServiceUnavailableError(
                f"the batch job's state store (Redis) failed: {trouble.message}", code=trouble.kind
            ) from None
        if isinstance(answer, Exception):
            raise ServiceUnavailableError(f"Redis refused the batch job's state: {answer}") from None
        return answer

    def put(self, job_id: str, name: str, data: bytes) -> None:
        """Keep ``data`` under ``name`` in the job's hash."""
        self._run("HSET", self.where(job_id), name, data)

    def get(self, job_id: str, name: str) -> bytes | None:
        """What was kept under ``name``, or None."""
        value = self._run("HGET", self.where(job_id), name)
        return None if value is None else bytes(value)

    def where(self, job_id: str) -> str:
        """The job's Redis key."""
        return f"{self._prefix}{job_id}"

    def __repr__(self) -> str:
        return f"RedisStateStore(prefix={self._prefix!r})"


if TYPE_CHECKING:
    from ...domain.ports import BatchStateStore

    _store: type[BatchStateStore] = RedisStateStore
