"""chat.completion.chunk events into ChatChunks, as the SDK reads them and a little more."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ....domain.models import ChatChunk, TokenLogprob, ToolCallDelta, Usage
from .chat import filtered_error, logprobs_of, stream_error, usage_of

__all__ = ["ChatStreamReader"]


class ChatStreamReader:
    """Turns chat.completion.chunk events into ChatChunks.

    Chunks with nothing in them (the role-only opening delta) are skipped. Azure's opening
    chunk has no choices, only ``prompt_filter_results``: it is not yielded, its results ride
    on the next chunk that is. Filter results accumulate, and every chunk that brings new ones carries
    the whole picture so far, so ``fold_stream`` (last one wins) ends with all of them.

    Some OpenAI-compatible servers put ``finish_reason`` inside the delta; it is read from there
    when the choice has none. Each chunk keeps its event's JSON as ``raw`` (by reference).

    Args:
        request_id: the reply's request id.
        apim_request_id: Azure API Management's request id, when sent.
        parser: the structured-output parser, handed to ``fold_stream`` on finishing chunks.
    """

    def __init__(
        self,
        request_id: str | None,
        apim_request_id: str | None = None,
        parser: Callable[[str], Any] | None = None,
    ) -> None:
        self.request_id = request_id
        self.apim_request_id = apim_request_id
        self.finished = False  # chat.completions streams end with [DONE], not with an event
        self._parser = parser
        self._filters: dict[str, Any] = {}
        self._filters_pending = False

    def feed(self, data: Mapping[str, Any]) -> ChatChunk | None:
        """Read one event's JSON; return the chunk to yield, if any.

        Raises:
            ContentFilteredError: the filter cut the reply (finish_reason ``content_filter``).
            StreamInterruptedError: the provider sent an error event mid-stream.
        """
        if "error" in data:
            raise stream_error(data["error"], self.request_id)
        if data.get("prompt_filter_results"):
            self._filters["prompt_filter_results"] = data["prompt_filter_results"]
            self._filters_pending = True
        usage = usage_of(data["usage"]) if data.get("usage") else None
        choices = data.get("choices")
        if choices:
            return self._choice(data, choices[0], usage)
        return None if usage is None else self._chunk(data, usage=usage)

    def _choice(
        self, data: Mapping[str, Any], choice: Mapping[str, Any], usage: Usage | None
    ) -> ChatChunk | None:
        """The chunk of an event's first choice; None when it brings nothing."""
        delta = choice.get("delta") or {}
        finish = choice.get("finish_reason") or delta.get("finish_reason")
        brought_filters = self._keep_filters(choice, finish)
        logprobs = logprobs_of(choice["logprobs"].get("content")) if choice.get("logprobs") else None
        text = delta.get("content") or ""
        refusal = delta.get("refusal") or ""
        reasoning = delta.get("reasoning_content") or ""
        calls = delta.get("tool_calls")
        deltas = tuple(_tool_delta(i, d) for i, d in enumerate(calls)) if calls else ()
        # any() of a tuple, not a chain of `or`: one branch, and as fast for a text delta.
        if not any((text, refusal, reasoning, deltas, finish, usage, brought_filters, logprobs)):
            return None
        return self._chunk(
            data,
            text=text,
            tool_calls=deltas,
            finish_reason=finish,
            usage=usage,
            refusal=refusal,
            reasoning=reasoning,
            logprobs=logprobs,
            index=choice.get("index") or 0,
        )

    def _keep_filters(self, choice: Mapping[str, Any], finish: str | None) -> bool:
        """Keep the choice's content filter results; whether it brought some.

        Raises:
            ContentFilteredError: the filter cut the reply.
        """
        results = choice.get("content_filter_results")
        if results:
            self._filters["content_filter_results"] = results
            self._filters_pending = True
        if finish == "content_filter":
            raise filtered_error(results, self.request_id)
        return bool(results)

    def _chunk(
        self,
        data: Mapping[str, Any],
        *,
        text: str = "",
        tool_calls: tuple[ToolCallDelta, ...] = (),
        finish_reason: str | None = None,
        usage: Usage | None = None,
        refusal: str = "",
        reasoning: str = "",
        logprobs: tuple[TokenLogprob, ...] | None = None,
        index: int = 0,
    ) -> ChatChunk:
        """The chunk to yield, carrying the filter results gathered since the last one that did."""
        content_filter = dict(self._filters) if self._filters_pending else None
        self._filters_pending = False
        return ChatChunk(
            text=text,
            tool_calls=tool_calls,
            finish_reason=finish_reason,
            usage=usage,
            model=data.get("model") or "",
            request_id=self.request_id,
            content_filter=content_filter,
            refusal=refusal,
            reasoning=reasoning,
            logprobs=logprobs,
            index=index,
            id=data.get("id") or None,
            created=data.get("created") or None,
            system_fingerprint=data.get("system_fingerprint"),
            service_tier=data.get("service_tier"),
            apim_request_id=self.apim_request_id,
            parse=self._parser if finish_reason else None,
            raw=data,
        )


def _tool_delta(position: int, delta: Mapping[str, Any]) -> ToolCallDelta:
    function = delta.get("function") or {}
    return ToolCallDelta(
        index=delta.get("index", position),
        id=delta.get("id"),
        name=function.get("name"),
        arguments=function.get("arguments") or "",
    )
