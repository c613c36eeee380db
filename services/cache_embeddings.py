"""CachingEmbeddings: vectors per input from the reply cache; only the misses go to the service."""

from __future__ import annotations

import dataclasses
import hashlib
from array import array
from time import perf_counter
from typing import Any

from ..domain.call_options import CallOptions
from ..domain.deadline import Deadline
from ..domain.models import EmbeddingRequest, EmbeddingResponse
from .boundary import missing_model
from .cache_store import cache_outcome
from .caching import CacheFront, EmbeddingCalls, left_of_deadline

__all__ = ["CachingEmbeddings"]


class CachingEmbeddings(CacheFront[EmbeddingCalls]):
    """Vectors per input from the cache; only the misses go to ``inner`` (which batches them).
    Its arguments are :class:`CacheFront`'s; a call whose every input was a hit has a span of its
    own (``llmport.cache="hit"``), a call that sends is the inner service's (``"miss"``)."""

    __slots__ = ()
    _LOGGER = "llmport.embeddings"

    def embed(self, request: EmbeddingRequest, options: CallOptions | None = None) -> EmbeddingResponse:
        """One vector per input, in input order; ``cache_hits`` counts those from the cache.

        Raises:
            LLMPortError: what the inner service raises for the misses.
        """
        cache = self._cache
        if request.model is None:
            if self._model is None:
                raise missing_model("embed")
            request = dataclasses.replace(request, model=self._model)
        keys = self._keys(request, options) if cache.enabled(options) else None
        if keys is None:
            return self._inner.embed(request, options)
        started = perf_counter()
        deadline = cache.deadline_of(options)
        share = cache.share(deadline)
        vectors = [_vector(value) for value in cache.get_many(keys, share)]
        if all(vector is not None for vector in vectors):
            return self._all_hits(request, started, vectors)
        return self._flight(request, options, keys, deadline=deadline, vectors=vectors, started=started)

    def _flight(
        self,
        request: EmbeddingRequest,
        options: CallOptions | None,
        keys: list[str],
        *,
        deadline: Deadline | None,
        vectors: list[list[float] | None],
        started: float,
    ) -> EmbeddingResponse:
        # One flight for the set of inputs missing: identical calls at once send it once.
        cache = self._cache
        missing = [index for index, vector in enumerate(vectors) if vector is None]
        share = cache.share(deadline)
        flight = hashlib.sha256("flight:".join(keys[i] for i in missing).encode()).hexdigest()
        found, claimed = cache.flight([keys[i] for i in missing], flight, deadline, share)
        release = flight if claimed else None
        try:
            waited = [_vector(value) for value in found or ()]
            if len(waited) == len(missing) and all(vector is not None for vector in waited):
                for index, vector in zip(missing, waited, strict=True):
                    vectors[index] = vector
                return self._all_hits(request, started, vectors)
            sent = self._send(
                request, options, deadline, keys, vectors=vectors, missing=missing, release=release
            )
            release = None  # given back with the vectors stored
            return sent
        finally:
            if release is not None:
                cache.release(release, deadline)

    def _send(
        self,
        request: EmbeddingRequest,
        options: CallOptions | None,
        deadline: Deadline | None,
        keys: list[str],
        *,
        vectors: list[list[float] | None],
        missing: list[int],
        release: str | None,
    ) -> EmbeddingResponse:
        sent = dataclasses.replace(request, inputs=tuple(request.inputs[i] for i in missing))
        with cache_outcome("miss"):
            response = self._inner.embed(sent, left_of_deadline(options, deadline))
        fresh: dict[str, array[float]] = {}
        for index, vector in zip(missing, response.vectors, strict=True):
            vectors[index] = list(vector)
            fresh[keys[index]] = array("d", vector)  # stored as its doubles (cache_codec)
        self._cache.put_many(fresh, deadline, release=release)  # one round trip
        return dataclasses.replace(response, vectors=_whole(vectors), cache_hits=len(keys) - len(missing))

    def _keys(self, request: EmbeddingRequest, options: CallOptions | None) -> list[str] | None:
        # One key per input: the model and dimensions shape a vector, the other inputs do not.
        shape: dict[str, object] = {"model": request.model, "dimensions": request.dimensions}
        if request.truncate:  # an over-long input's vector is then its first tokens'
            shape["truncate"] = True
        return self._cache.input_keys("embedding", shape, request.inputs, options)

    def _all_hits(
        self, request: EmbeddingRequest, started: float, vectors: list[list[float] | None]
    ) -> EmbeddingResponse:
        model = request.model or ""
        response = EmbeddingResponse(vectors=_whole(vectors), model=model, cache_hits=len(vectors))
        if self._telemetry is not None:
            # No reply to record: no request went out and no token was spent.
            self._telemetry.start_call(request, cache="hit").end()
        self._log.call_ok(
            operation="embed",
            model=request.model,
            attempt=0,
            latency_ms=(perf_counter() - started) * 1000,
            usage=None,
            request_id=None,
            extra={"cache": "hit", "inputs": len(request.inputs)},
        )
        return response


def _whole(vectors: list[list[float] | None]) -> list[list[float]]:
    return [vector or [] for vector in vectors]


def _vector(value: Any) -> list[float] | None:
    if isinstance(value, array) and value.typecode == "d":
        return value.tolist()
    if isinstance(value, tuple) and all(isinstance(x, float) for x in value):  # as first stored
        return list(value)
    return None
