"""BatchCalls: ``client.batch``, the Batch API behind one call (chat, embed, resume)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ...domain.batch import BatchKind
from ...domain.conversations import MessagesLike
from ...domain.errors import ConfigurationError, ValidationError
from ...domain.models import ChatRequest, EmbeddingRequest
from ..chat_request import chat_call, check_keywords
from .job import BatchJob, Recorder
from .service import BatchService, StateArg

__all__ = ["BatchCalls"]

# Per-call options of client.chat that shape a synchronous call, not a request in a file.
_CALL_ONLY = ("max_retries", "timeout", "deadline", "headers", "cache", "cache_namespace")


class BatchCalls:
    """The provider's Batch API (half price, its own quota, results within 24 h) behind one call.

    Each call writes the JSONL, splits it at the provider's limits into as many batches as it
    needs, uploads and creates them, and returns a :class:`BatchJob` running; ``job.results()``
    waits and gives each request's reply or error, in input order. The job's state is saved as it
    goes (``state=``: a directory; by default the client's batch store), so that
    :meth:`resume` after a crash, in any process, submits nothing twice and loses no result.
    """

    def __init__(
        self,
        service: BatchService,
        record: Callable[[str, Any], Any],
        chat_model: str | None,
        embedding_model: str | None,
    ) -> None:
        self._service = service
        self._record: Recorder = record
        self._chat_model = chat_model
        self._embedding_model = embedding_model

    def chat(
        self,
        prompts: Iterable[MessagesLike | ChatRequest],
        *,
        job_id: str | None = None,
        state: StateArg = None,
        keep_files: bool = False,
        max_enqueued_tokens: int | None = None,
        **options: Any,
    ) -> BatchJob:
        """Submit chat requests as a batch job and return it, running.

        Args:
            prompts: each a prompt as :meth:`Client.chat` takes it (a string, messages), or a
                ChatRequest (used as it is; ``options`` do not apply to it).
            job_id: your name for the job (letters, digits, ``-_.``); a new one by default.
            state: where the job's state is kept: a directory, or a store; the client's default
                otherwise (``job.where`` says where).
            keep_files: leave the uploaded and result files at the provider (deleted by default).
            max_enqueued_tokens: your enqueued-token quota: batches of the job are created only
                while those in the queue hold fewer prompt tokens (counted as in count_tokens), the
                others as room frees. Without it a batch the provider refuses for its limit
                (``token_limit_exceeded``) is created again later.
            options: :meth:`Client.chat`'s request options (model, system, temperature,
                max_tokens, response_format, api...), the same for every prompt; ``model`` is the
                deployment on Azure, the chat_model setting by default.

        Raises:
            ValidationError: a prompt or option is malformed, or there are no prompts.
            ConfigurationError: no model, a Batch API this client lacks, or ``job_id`` taken.
            LLMPortError: the provider refused the upload or the batch (raised before returning).
        """
        for name in _CALL_ONLY:
            if options.get(name) is not None:
                raise ValidationError(f"{name} is an option of a synchronous call; a batch request has none")
        options.setdefault("model", None)
        options["model"] = options["model"] or self._chat_model
        requests = [self._chat_request(prompt, options) for prompt in _listed(prompts)]
        if not options["model"] and any(request.model is None for request in requests):
            raise ConfigurationError("no model given: pass model= or set chat_model")
        kind: BatchKind = "responses" if requests and requests[0].api == "responses" else "chat"
        return self._service.submit(
            kind,
            requests,
            job_id=job_id,
            state=state,
            keep_files=keep_files,
            record=self._record,
            max_enqueued_tokens=max_enqueued_tokens,
        )

    def embed(
        self,
        texts: Iterable[str],
        *,
        model: str | None = None,
        dimensions: int | None = None,
        user: str | None = None,
        job_id: str | None = None,
        state: StateArg = None,
        keep_files: bool = False,
        max_enqueued_tokens: int | None = None,
    ) -> BatchJob:
        """Submit texts to embed as a batch job (one request per text) and return it, running.

        ``job.results()`` gives an EmbeddingResponse with one vector per text, or its error.
        ``job_id``, ``state``, ``keep_files`` and ``max_enqueued_tokens`` as for :meth:`chat`.

        Raises:
            ConfigurationError: the provider has no embeddings batches (Azure OpenAI: raised
                before anything is uploaded), or no model.
            ValidationError: a text is empty or not a string, or there are none.
        """
        model = model or self._embedding_model
        if not model:
            raise ConfigurationError("no model given: pass model= or set embedding_model")
        self._service.port().limits("embeddings")  # an unbatched kind fails before any work
        requests = [
            EmbeddingRequest((text,), model=model, dimensions=dimensions, user=user)
            for text in _listed(texts)
        ]
        return self._service.submit(
            "embeddings",
            requests,
            job_id=job_id,
            state=state,
            keep_files=keep_files,
            record=self._record,
            max_enqueued_tokens=max_enqueued_tokens,
        )

    def resume(self, job: str | os.PathLike[str], *, state: StateArg = None) -> BatchJob:
        """Pick up a job after a crash or in another process: the id, or its directory (``job.where``).

        What the saved state says is done is not done again: no batch is submitted twice, no
        downloaded result is fetched again; a batch created just before a crash is found by the
        marker in its metadata.

        Raises:
            ConfigurationError: no such job in that store.
        """
        return self._service.resume(job, state, self._record)

    def _chat_request(self, prompt: MessagesLike | ChatRequest, options: Mapping[str, Any]) -> ChatRequest:
        if isinstance(prompt, ChatRequest):
            return prompt if prompt.model else _with_model(prompt, options.get("model"))
        try:
            request, _ = chat_call(prompt, **options)
        except TypeError:
            check_keywords("client.batch.chat", options)
            raise
        return request


def _with_model(request: ChatRequest, model: str | None) -> ChatRequest:
    return request if model is None else dataclasses.replace(request, model=model)


def _listed(items: Iterable[Any]) -> Sequence[Any]:
    if isinstance(items, (str, bytes, Mapping)):
        raise ValidationError("pass a list of prompts (or texts), not a single one")
    return list(items)
