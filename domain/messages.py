"""The turns of a conversation: messages, their text and image parts, and the tool calls they carry."""

from __future__ import annotations

import base64
import mimetypes
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ._checks import check_sequence, check_text, freeze, short
from .errors import ValidationError

__all__ = ["ROLES", "ContentPart", "ImagePart", "Message", "Role", "TextPart", "ToolCall"]

Role = Literal["system", "developer", "user", "assistant", "tool"]
ROLES: frozenset[str] = frozenset(("system", "developer", "user", "assistant", "tool"))
_IMAGE_URL_SCHEMES = ("https://", "http://", "data:image/")
_DETAILS = ("auto", "low", "high")
_NAME_FORBIDDEN = frozenset("<|\\/>")  # OpenAI's pattern for a participant name: ^[^\s<|\\/>]+$


@dataclass(frozen=True, slots=True)
class TextPart:
    """A text segment of a message's content."""

    text: str

    def __post_init__(self) -> None:
        check_text("TextPart.text", self.text)


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image in a message: a URL (https or data:) or raw bytes with their media type."""

    url: str | None = None
    data: bytes | None = field(default=None, repr=False)
    media_type: str = "image/png"
    detail: Literal["auto", "low", "high"] = "auto"

    def __post_init__(self) -> None:
        if (self.url is None) == (self.data is None):
            raise ValidationError("ImagePart needs exactly one of url= or data=")
        if self.url is not None:
            check_text("ImagePart.url", self.url)
            if not self.url.startswith(_IMAGE_URL_SCHEMES):
                raise ValidationError(
                    f"ImagePart.url must start with https://, http:// or data:image/, got {self.url!r:.60}"
                )
        if self.data is not None and (not isinstance(self.data, bytes) or not self.data):
            raise ValidationError("ImagePart.data must be non-empty bytes; pass url= for a link")
        check_text("ImagePart.media_type", self.media_type)
        if not self.media_type.startswith("image/") or not self.media_type.isascii():
            raise ValidationError(f"ImagePart.media_type must be image/..., got {self.media_type!r:.40}")
        if not isinstance(self.detail, str) or self.detail not in _DETAILS:
            raise ValidationError(f"ImagePart.detail must be auto, low or high, got {short(self.detail)}")

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, detail: Literal["auto", "low", "high"] = "auto"
    ) -> ImagePart:
        """Read a local image file; its media type comes from the file name (``.png``, ``.jpg``...).

        Args:
            path: the image file.
            detail: how closely the model looks at it: auto, low or high.

        Raises:
            ValidationError: the file cannot be read, is empty, or its name is not an image type's.
        """
        media_type, _encoding = mimetypes.guess_type(os.fspath(path))
        if media_type is None or not media_type.startswith("image/"):
            raise ValidationError(
                f"ImagePart.from_file: {os.fspath(path)!r:.80} does not name an image file "
                f"(.png, .jpg, .gif, .webp); pass ImagePart(data=..., media_type=...) instead"
            )
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as exc:
            raise ValidationError(
                f"ImagePart.from_file: cannot read {os.fspath(path)!r:.80}: {exc.strerror}"
            ) from None
        if not data:
            raise ValidationError(f"ImagePart.from_file: {os.fspath(path)!r:.80} is empty")
        return cls(data=data, media_type=media_type, detail=detail)

    def as_url(self) -> str:
        """Return the image as a URL, encoding bytes as a base64 ``data:`` URL."""
        if self.url is not None:
            return self.url
        assert self.data is not None  # guaranteed by __post_init__
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


ContentPart = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asks the application to make; ``arguments`` is the raw JSON text."""

    id: str
    name: str
    arguments: str = "{}"

    def __post_init__(self) -> None:
        # Types only: replies build ToolCalls too, so blank ids are refused where a request is built.
        check_text("ToolCall.id", self.id)
        check_text("ToolCall.name", self.name)
        check_text("ToolCall.arguments", self.arguments)


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of a conversation.

    ``content`` is a string or a sequence of TextPart / ImagePart; assistant turns may carry
    ``tool_calls`` instead of content, and tool turns answer one ``tool_call_id``.
    """

    role: Role
    content: str | tuple[ContentPart, ...] | None = None
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def __post_init__(self) -> None:
        role = self.role
        if not isinstance(role, str) or role not in ROLES:
            raise ValidationError(
                f"Message.role {short(role)} is unknown; use one of system, user, assistant, tool, developer"
            )
        content = self.content
        if isinstance(content, str):
            check_text("Message.content", content)
        elif content is not None:
            freeze(self, "content", _parts(content, role))
        if self.tool_calls:
            freeze(self, "tool_calls", _tool_calls(role, self.tool_calls))
        elif not isinstance(self.tool_calls, tuple):
            freeze(self, "tool_calls", ())
        if content is None and not (role == "assistant" and self.tool_calls):
            raise ValidationError(f"Message.content: a {role} message needs content")
        if self.name is not None:
            _check_participant(self.name)
        if role == "tool":
            check_text(
                "Message.tool_call_id",
                "" if self.tool_call_id is None else self.tool_call_id,
                blank="a tool message needs tool_call_id: the id of the call it answers",
            )
        elif self.tool_call_id is not None:
            raise ValidationError(f"Message.tool_call_id is for tool messages only, not {role}")

    @property
    def text(self) -> str:
        """The message's text: the content string, or its text parts joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))

    @classmethod
    def system(cls, text: str) -> Message:
        """A system (instructions) message."""
        return cls("system", text)

    @classmethod
    def developer(cls, text: str) -> Message:
        """A developer message: instructions that reasoning models rank above the user's."""
        return cls("developer", text)

    @classmethod
    def user(cls, content: str | Sequence[ContentPart]) -> Message:
        """A user message: text, or text and image parts."""
        return cls("user", content if isinstance(content, str) else tuple(content))

    @classmethod
    def assistant(cls, text: str | None = None, tool_calls: Sequence[ToolCall] = ()) -> Message:
        """An assistant message: a previous reply, or the tool calls it asked for."""
        return cls("assistant", text, tool_calls=tuple(tool_calls))

    @classmethod
    def tool(cls, tool_call_id: str, content: str) -> Message:
        """The result of a tool call, answering ``tool_call_id``."""
        return cls("tool", content, tool_call_id=tool_call_id)


def _parts(content: object, role: str) -> tuple[ContentPart, ...]:
    if isinstance(content, (bytes, bytearray)) or not isinstance(content, Sequence):
        raise ValidationError(
            f"Message.content must be a str or a list of parts, got {type(content).__name__}"
        )
    parts = tuple(content)
    if not parts:
        raise ValidationError("Message.content is an empty list; pass a str or at least one part")
    for part in parts:
        if isinstance(part, ImagePart):
            if role != "user":
                # Both APIs take images in user turns only; anything else would be dropped or refused.
                raise ValidationError(
                    f"Message.content: a {role} message cannot carry an image; put the ImagePart "
                    f"in a user message"
                )
        elif not isinstance(part, TextPart):
            raise ValidationError(
                f"Message.content parts must be TextPart or ImagePart, got {type(part).__name__}"
            )
    return parts


def _tool_calls(role: str, calls: object) -> tuple[ToolCall, ...]:
    if role != "assistant":
        raise ValidationError(f"Message.tool_calls: only assistant messages carry tool calls, not {role}")
    frozen = check_sequence("Message.tool_calls", calls, "ToolCall")
    for call in frozen:
        if not isinstance(call, ToolCall):
            raise ValidationError(f"Message.tool_calls must hold ToolCall objects, got {type(call).__name__}")
    return frozen


def _check_participant(name: object) -> None:
    check_text("Message.name", name, blank="pass a participant name or leave it unset")
    assert isinstance(name, str)  # checked just above
    if any(ch.isspace() or ch in _NAME_FORBIDDEN for ch in name):
        raise ValidationError("Message.name must not contain spaces or any of < | \\ / >")
