"""What a chat call tells its span when it succeeds: the reply's facts and, on opt-in, its content."""

from __future__ import annotations

from ..domain.messages import Message
from ..domain.models import ChatChunk, ChatRequest, ChatResponse, Usage
from ..domain.ports import CallSpan
from ..domain.telemetry import input_messages_json, output_messages_json

__all__ = ["StreamTrace", "reply_to_span"]


def reply_to_span(
    span: CallSpan, request: ChatRequest, response: ChatResponse, *, spent: bool = True
) -> None:
    """Record ``response`` on the call's span and end it; without its usage unless tokens were
    ``spent`` on it (a reply from the cache spent none)."""
    choices = response.choices
    span.chat_reply(
        model=response.model,
        response_id=response.id,
        finish_reasons=tuple(choice.finish_reason for choice in choices if choice.finish_reason),
        usage=response.usage if spent else None,
        request_id=response.request_id,
        system_fingerprint=response.system_fingerprint,
        service_tier=response.service_tier,
        deployment=response.deployment,
    )
    if span.capture_content:
        span.content(
            input_messages_json(request.messages),
            output_messages_json([(choice.message, choice.finish_reason) for choice in choices]),
        )
    span.end()


class StreamTrace:
    """Follows a stream's chunks for its span: time to first chunk, model, id, finish reasons, text."""

    __slots__ = (
        "_deployment",
        "_fingerprint",
        "_finish",
        "_id",
        "_model",
        "_request",
        "_seen",
        "_span",
        "_text",
        "_tier",
    )

    def __init__(self, span: CallSpan, request: ChatRequest) -> None:
        self._span = span
        self._request = request
        self._model = ""
        self._seen = False
        self._id: str | None = None
        self._fingerprint: str | None = None
        self._tier: str | None = None
        self._deployment: str | None = None
        self._finish: dict[int, str] = {}
        self._text: dict[int, list[str]] | None = {} if span.capture_content else None

    def chunk(self, chunk: ChatChunk) -> None:
        """Note one chunk handed to the caller."""
        if not self._seen:
            self._seen = True
            self._span.first_chunk()
        if not self._model:
            self._model = chunk.model
        if self._id is None:
            self._id = chunk.id
            self._deployment = chunk.deployment
        self._fingerprint = chunk.system_fingerprint or self._fingerprint
        self._tier = chunk.service_tier or self._tier
        if chunk.finish_reason:
            self._finish[chunk.index] = chunk.finish_reason
        if self._text is not None and chunk.text:
            self._text.setdefault(chunk.index, []).append(chunk.text)

    def end(self, *, usage: Usage | None, request_id: str | None, cancelled: bool) -> None:
        """The stream ran out (or the caller left it, ``cancelled``): record what was seen, end the span."""
        span = self._span
        span.chat_reply(
            model=self._model,
            response_id=self._id,
            finish_reasons=tuple(reason for _, reason in sorted(self._finish.items())),
            usage=usage,
            request_id=request_id,
            system_fingerprint=self._fingerprint,
            service_tier=self._tier,
            deployment=self._deployment,
        )
        if self._text is not None:
            replies = [
                (Message.assistant("".join(parts)), self._finish.get(index))
                for index, parts in sorted(self._text.items())
            ]
            span.content(input_messages_json(self._request.messages), output_messages_json(replies))
        span.end(cancelled=cancelled)
