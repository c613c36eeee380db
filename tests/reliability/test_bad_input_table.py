"""Every public function, every field: bad input is a ValidationError or ConfigurationError that names
the field, raised before anything is sent (the loopback server sees no request), on every provider shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from harness import PROVIDERS, wire
from loopback import LoopbackServer

from llmport import (
    ChatChunk,
    ChatRequest,
    Client,
    ConfigurationError,
    EmbeddingRequest,
    ImagePart,
    LLMPortError,
    Message,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolSpec,
    ValidationError,
    fold_stream,
    to_messages,
)

NAN, INF = float("nan"), float("inf")
SURROGATE = "caf\ud800e"  # a lone high surrogate: what a broken UTF-16 decode leaves behind
TOOL = ToolSpec("lookup")
OK = [Message.user("hi")]
Call = Callable[[Client], object]


def user(content: Any, **fields: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content, **fields}]


def image(image_url: Any) -> list[dict[str, Any]]:
    return user([{"type": "image_url", "image_url": image_url}])


def called(calls: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": calls}]


def call_dict(call_id: Any = "c1", name: Any = "lookup", arguments: Any = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_reply(**fields: Any) -> list[dict[str, Any]]:
    return [*called([call_dict()]), {"role": "tool", "content": "42", **fields}]


# (id, the call, the field the message must name); ConfigurationError rows are marked in CONFIG_ERRORS.
CASES: list[tuple[str, Call, str]] = [
    # -- the prompt: chat(), stream() and to_messages() --------------------------------------------
    ("prompt-none", lambda c: c.chat(None), "prompt"),  # type: ignore[arg-type]
    ("prompt-int", lambda c: c.chat(42), "prompt"),  # type: ignore[arg-type]
    ("prompt-bytes", lambda c: c.chat(b"hi"), "prompt"),  # type: ignore[arg-type]
    ("prompt-empty-list", lambda c: c.chat([]), "messages"),
    ("prompt-surrogate", lambda c: c.chat(SURROGATE), "content"),
    ("stream-prompt-none", lambda c: c.stream(None), "prompt"),  # type: ignore[arg-type]
    ("to-messages-none", lambda c: to_messages(None), "prompt"),  # type: ignore[arg-type]
    ("to-messages-float", lambda c: to_messages(1.5), "prompt"),  # type: ignore[arg-type]
    ("message-none", lambda c: c.chat([None]), "messages[0]"),  # type: ignore[list-item]
    ("message-str-in-list", lambda c: c.chat([Message.user("hi"), "hello"]), "messages[1]"),  # type: ignore[list-item]
    ("message-no-role", lambda c: c.chat([{"content": "hi"}]), "role"),
    ("role-none", lambda c: c.chat([{"role": None, "content": "hi"}]), "role"),
    ("role-unhashable", lambda c: c.chat([{"role": ["user"], "content": "hi"}]), "role"),
    ("role-unknown", lambda c: c.chat([{"role": "wizard", "content": "hi"}]), "role"),
    ("content-int", lambda c: c.chat(user(42)), "content"),
    ("content-bytes", lambda c: c.chat(user(b"hi")), "content"),
    ("content-none", lambda c: c.chat(user(None)), "content"),
    ("content-empty-list", lambda c: c.chat(user([])), "content"),
    ("content-dict", lambda c: c.chat(user({"text": "hi"})), "content"),
    ("content-surrogate", lambda c: c.chat(user(SURROGATE)), "content"),
    ("part-int", lambda c: c.chat(user([42])), "content[0]"),
    ("part-unknown-type", lambda c: c.chat(user([{"type": "video"}])), "content[0]"),
    ("text-part-no-text", lambda c: c.chat(user([{"type": "text"}])), "text"),
    ("text-part-int", lambda c: c.chat(user([{"type": "text", "text": 5}])), "text"),
    ("text-part-surrogate", lambda c: c.chat(user([{"type": "text", "text": SURROGATE}])), "text"),
    ("image-url-as-str", lambda c: c.chat(image("https://x/a.png")), "image_url"),
    ("image-url-no-url", lambda c: c.chat(image({"detail": "low"})), "image_url"),
    ("image-url-none", lambda c: c.chat(image({"url": None})), "url"),
    ("image-url-int", lambda c: c.chat(image({"url": 7})), "url"),
    ("image-url-ftp", lambda c: c.chat(image({"url": "ftp://x/a.png"})), "url"),
    ("image-url-surrogate", lambda c: c.chat(image({"url": f"https://x/{SURROGATE}"})), "url"),
    ("image-detail-unknown", lambda c: c.chat(image({"url": "https://x/a.png", "detail": "max"})), "detail"),
    ("image-detail-list", lambda c: c.chat(image({"url": "https://x/a.png", "detail": ["low"]})), "detail"),
    ("name-int", lambda c: c.chat(user("hi", name=5)), "name"),
    ("name-blank", lambda c: c.chat(user("hi", name=" ")), "name"),
    ("name-with-space", lambda c: c.chat(user("hi", name="Ada Lovelace")), "name"),
    ("name-surrogate", lambda c: c.chat(user("hi", name=SURROGATE)), "name"),
    ("tool-calls-empty-dict", lambda c: c.chat(called([{}])), "tool_calls[0]"),
    ("tool-calls-str", lambda c: c.chat(called("c1")), "tool_calls"),
    ("tool-calls-no-function", lambda c: c.chat(called([{"id": "c1"}])), "tool_calls[0]"),
    ("tool-call-id-int", lambda c: c.chat(called([call_dict(call_id=1)])), "id"),
    ("tool-call-id-blank", lambda c: c.chat(called([call_dict(call_id=" ")])), "tool_calls[0]"),
    ("tool-call-name-empty", lambda c: c.chat(called([call_dict(name="")])), "tool_calls[0]"),
    ("tool-call-args-dict", lambda c: c.chat(called([call_dict(arguments={"q": 1})])), "arguments"),
    ("tool-call-args-surrogate", lambda c: c.chat(called([call_dict(arguments=SURROGATE)])), "arguments"),
    ("tool-calls-on-user", lambda c: c.chat(user("hi", tool_calls=[call_dict()])), "tool_calls"),
    (
        "tool-message-no-id",
        lambda c: c.chat([*called([call_dict()]), {"role": "tool", "content": "42"}]),
        "tool_call_id",
    ),
    ("tool-message-blank-id", lambda c: c.chat(tool_reply(tool_call_id="  ")), "tool_call_id"),
    ("tool-message-id-int", lambda c: c.chat(tool_reply(tool_call_id=1)), "tool_call_id"),
    ("tool-call-id-on-user", lambda c: c.chat(user("hi", tool_call_id="c1")), "tool_call_id"),
    ("system-int", lambda c: c.chat("hi", system=5), "system"),  # type: ignore[arg-type]
    ("system-surrogate", lambda c: c.chat("hi", system=SURROGATE), "system"),
    # -- chat() options ------------------------------------------------------------------------
    ("model-blank", lambda c: c.chat("hi", model="   "), "model"),
    ("model-empty", lambda c: c.chat("hi", model=""), "model"),
    ("model-int", lambda c: c.chat("hi", model=5), "model"),  # type: ignore[arg-type]
    ("model-surrogate", lambda c: c.chat("hi", model=SURROGATE), "model"),
    ("temperature-nan", lambda c: c.chat("hi", temperature=NAN), "temperature"),
    ("temperature-inf", lambda c: c.chat("hi", temperature=INF), "temperature"),
    ("temperature-negative", lambda c: c.chat("hi", temperature=-0.1), "temperature"),
    ("temperature-too-high", lambda c: c.chat("hi", temperature=2.5), "temperature"),
    ("temperature-bool", lambda c: c.chat("hi", temperature=True), "temperature"),
    ("temperature-str", lambda c: c.chat("hi", temperature="0.5"), "temperature"),  # type: ignore[arg-type]
    ("top-p-nan", lambda c: c.chat("hi", top_p=NAN), "top_p"),
    ("top-p-too-high", lambda c: c.chat("hi", top_p=1.5), "top_p"),
    ("top-p-bool", lambda c: c.chat("hi", top_p=False), "top_p"),
    ("max-tokens-bool", lambda c: c.chat("hi", max_tokens=True), "max_tokens"),
    ("max-tokens-zero", lambda c: c.chat("hi", max_tokens=0), "max_tokens"),
    ("max-tokens-huge", lambda c: c.chat("hi", max_tokens=10**30), "max_tokens"),
    ("max-tokens-2-pow-31", lambda c: c.chat("hi", max_tokens=2**31), "max_tokens"),
    ("max-tokens-float", lambda c: c.chat("hi", max_tokens=1.5), "max_tokens"),  # type: ignore[arg-type]
    ("max-tokens-str", lambda c: c.chat("hi", max_tokens="10"), "max_tokens"),  # type: ignore[arg-type]
    ("stop-int", lambda c: c.chat("hi", stop=5), "stop"),  # type: ignore[arg-type]
    ("stop-ints", lambda c: c.chat("hi", stop=[1, 2]), "stop[0]"),  # type: ignore[list-item]
    ("stop-empty-string", lambda c: c.chat("hi", stop=""), "stop[0]"),
    ("stop-empty-in-list", lambda c: c.chat("hi", stop=["END", ""]), "stop[1]"),
    ("stop-five", lambda c: c.chat("hi", stop=["a", "b", "c", "d", "e"]), "stop"),
    ("stop-dict", lambda c: c.chat("hi", stop={"END": 1}), "stop"),  # type: ignore[arg-type]
    ("stop-bytes", lambda c: c.chat("hi", stop=b"END"), "stop"),  # type: ignore[arg-type]
    ("stop-surrogate", lambda c: c.chat("hi", stop=[SURROGATE]), "stop[0]"),
    ("seed-str", lambda c: c.chat("hi", seed="abc"), "seed"),  # type: ignore[arg-type]
    ("seed-nan", lambda c: c.chat("hi", seed=NAN), "seed"),  # type: ignore[arg-type]
    ("seed-bool", lambda c: c.chat("hi", seed=True), "seed"),
    ("seed-float", lambda c: c.chat("hi", seed=1.5), "seed"),  # type: ignore[arg-type]
    ("seed-beyond-int64", lambda c: c.chat("hi", seed=2**63), "seed"),
    ("tools-str", lambda c: c.chat("hi", tools="lookup"), "tools"),  # type: ignore[arg-type]
    ("tools-none-item", lambda c: c.chat("hi", tools=[None]), "tools"),  # type: ignore[list-item]
    ("tools-dict-item", lambda c: c.chat("hi", tools=[{"type": "function"}]), "tools"),  # type: ignore[list-item]
    ("tools-duplicate-names", lambda c: c.chat("hi", tools=[TOOL, ToolSpec("lookup", "again")]), "tools"),
    ("tools-129", lambda c: c.chat("hi", tools=[ToolSpec(f"t{n}") for n in range(129)]), "tools"),
    ("tool-choice-required-no-tools", lambda c: c.chat("hi", tool_choice="required"), "tool_choice"),
    ("tool-choice-name-no-tools", lambda c: c.chat("hi", tool_choice="lookup"), "tool_choice"),
    ("tool-choice-unknown-name", lambda c: c.chat("hi", tools=[TOOL], tool_choice="other"), "tool_choice"),
    ("tool-choice-int", lambda c: c.chat("hi", tools=[TOOL], tool_choice=1), "tool_choice"),  # type: ignore[arg-type]
    ("tool-choice-dict", lambda c: c.chat("hi", tools=[TOOL], tool_choice={"type": "auto"}), "tool_choice"),  # type: ignore[arg-type]
    ("response-format-str", lambda c: c.chat("hi", response_format="json"), "response_format"),  # type: ignore[arg-type]
    (
        "response-format-dict",
        lambda c: c.chat("hi", response_format={"type": "json_object"}),  # type: ignore[arg-type]
        "response_format",
    ),
    ("user-int", lambda c: c.chat("hi", user=123), "user"),  # type: ignore[arg-type]
    ("user-empty", lambda c: c.chat("hi", user=""), "user"),
    ("user-blank", lambda c: c.chat("hi", user="   "), "user"),
    ("user-surrogate", lambda c: c.chat("hi", user=SURROGATE), "user"),
    ("extra-str", lambda c: c.chat("hi", extra="abc"), "extra"),  # type: ignore[arg-type]
    ("extra-list", lambda c: c.chat("hi", extra=[("a", 1)]), "extra"),  # type: ignore[arg-type]
    ("extra-int-key", lambda c: c.chat("hi", extra={1: True}), "extra"),
    ("extra-tuple-key", lambda c: c.chat("hi", extra={("a",): True}), "extra"),
    ("extra-nested-tuple-key", lambda c: c.chat("hi", extra={"a": {("b",): 1}}), "extra"),
    (
        "extra-messages",
        lambda c: c.chat("hi", extra={"messages": [{"role": "user", "content": "x"}]}),
        "messages",
    ),
    ("extra-model", lambda c: c.chat("hi", extra={"model": "other"}), "model"),
    ("extra-stream", lambda c: c.chat("hi", extra={"stream": True}), "stream"),
    ("extra-stream-options", lambda c: c.stream("hi", extra={"stream_options": {}}), "stream_options"),
    ("extra-temperature", lambda c: c.chat("hi", extra={"temperature": 0.3}), "temperature"),
    (
        "extra-max-completion-tokens",
        lambda c: c.chat("hi", extra={"max_completion_tokens": 5}),
        "max_completion_tokens",
    ),
    ("extra-max-output-tokens", lambda c: c.chat("hi", extra={"max_output_tokens": 5}), "max_output_tokens"),
    ("extra-tools", lambda c: c.chat("hi", extra={"tools": []}), "tools"),
    ("extra-response-format", lambda c: c.chat("hi", extra={"response_format": {}}), "response_format"),
    ("extra-input", lambda c: c.chat("hi", extra={"input": "x"}), "input"),
    ("extra-instructions", lambda c: c.chat("hi", extra={"instructions": "x"}), "instructions"),
    ("extra-seed", lambda c: c.chat("hi", extra={"seed": 1}), "seed"),
    ("extra-stop", lambda c: c.chat("hi", extra={"stop": ["x"]}), "stop"),
    ("extra-user", lambda c: c.chat("hi", extra={"user": "u"}), "user"),
    ("extra-tool-choice", lambda c: c.chat("hi", extra={"tool_choice": "auto"}), "tool_choice"),
    ("extra-top-p", lambda c: c.chat("hi", extra={"top_p": 0.5}), "top_p"),
    ("extra-max-tokens", lambda c: c.chat("hi", extra={"max_tokens": 5}), "max_tokens"),
    (
        "extra-text-with-response-format",
        lambda c: c.chat("hi", response_format=ResponseFormat.json(), extra={"text": {"verbosity": "low"}}),
        "text",
    ),
    ("extra-nan", lambda c: c.chat("hi", extra={"logit_bias": {"50256": NAN}}), "extra"),
    ("extra-inf", lambda c: c.chat("hi", extra={"presence_penalty": INF}), "extra"),
    ("extra-set", lambda c: c.chat("hi", extra={"metadata": {1, 2}}), "extra"),
    ("extra-object", lambda c: c.chat("hi", extra={"metadata": object()}), "extra"),
    ("extra-bytes", lambda c: c.chat("hi", extra={"metadata": b"x"}), "extra"),
    ("extra-surrogate-value", lambda c: c.chat("hi", extra={"metadata": {"k": SURROGATE}}), "extra"),
    ("extra-surrogate-key", lambda c: c.chat("hi", extra={SURROGATE: 1}), "extra"),
    ("stream-stop-int", lambda c: c.stream("hi", stop=5), "stop"),  # type: ignore[arg-type]
    ("stream-seed-nan", lambda c: c.stream("hi", seed=NAN), "seed"),  # type: ignore[arg-type]
    ("stream-extra-messages", lambda c: c.stream("hi", extra={"messages": []}), "messages"),
    ("stream-model-blank", lambda c: c.stream("hi", model=" "), "model"),
    # -- the model constructors, as callers build them for chat() ------------------------------
    (
        "toolspec-parameters-none",
        lambda c: c.chat("hi", tools=[ToolSpec("f", parameters=None)]),
        "parameters",
    ),  # type: ignore[arg-type]
    ("toolspec-parameters-list", lambda c: ToolSpec("f", parameters=[1]), "parameters"),  # type: ignore[arg-type]
    ("toolspec-parameters-nan", lambda c: ToolSpec("f", parameters={"default": NAN}), "parameters"),
    ("toolspec-parameters-set", lambda c: ToolSpec("f", parameters={"enum": {1, 2}}), "parameters"),
    ("toolspec-parameters-int-key", lambda c: ToolSpec("f", parameters={1: "x"}), "parameters"),
    ("toolspec-parameters-surrogate", lambda c: ToolSpec("f", parameters={"x": SURROGATE}), "parameters"),
    ("toolspec-name-space", lambda c: ToolSpec("get weather"), "ToolSpec.name"),
    ("toolspec-name-empty", lambda c: ToolSpec(""), "ToolSpec.name"),
    ("toolspec-name-65", lambda c: ToolSpec("f" * 65), "ToolSpec.name"),
    ("toolspec-name-int", lambda c: ToolSpec(5), "ToolSpec.name"),  # type: ignore[arg-type]
    ("toolspec-name-non-ascii", lambda c: ToolSpec("café"), "ToolSpec.name"),
    ("toolspec-description-int", lambda c: ToolSpec("f", description=5), "description"),  # type: ignore[arg-type]
    ("toolspec-description-surrogate", lambda c: ToolSpec("f", description=SURROGATE), "description"),
    ("toolspec-strict-str", lambda c: ToolSpec("f", strict="yes"), "strict"),  # type: ignore[arg-type]
    ("toolcall-id-none", lambda c: ToolCall(None, "f"), "ToolCall.id"),  # type: ignore[arg-type]
    ("toolcall-name-int", lambda c: ToolCall("c1", 5), "ToolCall.name"),  # type: ignore[arg-type]
    ("toolcall-arguments-dict", lambda c: ToolCall("c1", "f", {"q": 1}), "ToolCall.arguments"),  # type: ignore[arg-type]
    ("response-format-type", lambda c: ResponseFormat("xml"), "ResponseFormat.type"),  # type: ignore[arg-type]
    ("response-format-type-list", lambda c: ResponseFormat(["text"]), "ResponseFormat.type"),  # type: ignore[arg-type]
    ("response-format-no-schema", lambda c: ResponseFormat("json_schema", name="n"), "schema"),
    ("response-format-schema-list", lambda c: ResponseFormat.json_schema("n", [1]), "schema"),  # type: ignore[arg-type]
    ("response-format-schema-nan", lambda c: ResponseFormat.json_schema("n", {"x": NAN}), "schema"),
    ("response-format-name-space", lambda c: ResponseFormat.json_schema("my schema", {}), "name"),
    ("response-format-name-int", lambda c: ResponseFormat.json_schema(5, {}), "name"),  # type: ignore[arg-type]
    ("response-format-strict-str", lambda c: ResponseFormat.json_schema("n", {}, strict="no"), "strict"),  # type: ignore[arg-type]
    ("response-format-schema-on-json", lambda c: ResponseFormat("json_object", schema={}), "schema"),
    ("textpart-int", lambda c: TextPart(5), "TextPart.text"),  # type: ignore[arg-type]
    ("textpart-surrogate", lambda c: TextPart(SURROGATE), "TextPart.text"),
    ("image-part-nothing", lambda c: ImagePart(), "url"),
    ("image-part-both", lambda c: ImagePart(url="https://x/a.png", data=b"x"), "url"),
    ("image-part-url-int", lambda c: ImagePart(url=5), "ImagePart.url"),  # type: ignore[arg-type]
    ("image-part-data-str", lambda c: ImagePart(data="iVBOR"), "ImagePart.data"),  # type: ignore[arg-type]
    ("image-part-data-empty", lambda c: ImagePart(data=b""), "ImagePart.data"),
    ("image-part-media-type", lambda c: ImagePart(data=b"x", media_type="text/plain"), "media_type"),
    ("image-part-media-type-int", lambda c: ImagePart(data=b"x", media_type=5), "media_type"),  # type: ignore[arg-type]
    ("image-part-detail", lambda c: ImagePart(url="https://x/a.png", detail="ultra"), "detail"),  # type: ignore[arg-type]
    ("message-role-int", lambda c: Message(5, "hi"), "role"),  # type: ignore[arg-type]
    ("message-content-bytes", lambda c: Message("user", b"hi"), "content"),  # type: ignore[arg-type]
    ("message-parts-str", lambda c: Message("user", ["hi"]), "content"),  # type: ignore[list-item]
    ("message-tool-calls-dicts", lambda c: Message("assistant", tool_calls=[{}]), "tool_calls"),  # type: ignore[list-item]
    ("message-tool-calls-int", lambda c: Message("assistant", tool_calls=5), "tool_calls"),  # type: ignore[arg-type]
    ("message-tool-no-id", lambda c: Message("tool", "42"), "tool_call_id"),
    ("message-name-bracket", lambda c: Message("user", "hi", name="a<b"), "name"),
    ("chat-request-messages-none", lambda c: ChatRequest(None), "messages"),  # type: ignore[arg-type]
    ("chat-request-messages-dicts", lambda c: ChatRequest([{"role": "user"}]), "messages"),  # type: ignore[list-item]
    ("chat-request-temperature-nan", lambda c: ChatRequest(OK, temperature=NAN), "temperature"),  # type: ignore[arg-type]
    ("chat-request-extra-none-key", lambda c: ChatRequest(OK, extra={None: 1}), "extra"),  # type: ignore[arg-type, dict-item]
    ("fold-stream-none", lambda c: fold_stream(None), "fold_stream"),  # type: ignore[arg-type]
    ("fold-stream-ints", lambda c: fold_stream([ChatChunk("a"), 1]), "ChatChunk"),  # type: ignore[list-item]
    ("fold-stream-dicts", lambda c: fold_stream([{"text": "a"}]), "ChatChunk"),  # type: ignore[list-item]
    # -- embed() and EmbeddingRequest ----------------------------------------------------------
    ("embed-none", lambda c: c.embed(None), "inputs"),  # type: ignore[arg-type]
    ("embed-int", lambda c: c.embed(42), "inputs"),  # type: ignore[arg-type]
    ("embed-bytes", lambda c: c.embed(b"hi"), "inputs"),  # type: ignore[arg-type]
    ("embed-dict", lambda c: c.embed({"a": "b"}), "inputs"),  # type: ignore[arg-type]
    ("embed-empty-list", lambda c: c.embed([]), "inputs"),
    ("embed-empty-string", lambda c: c.embed(""), "input 0"),
    ("embed-none-item", lambda c: c.embed(["ok", None]), "input 1"),  # type: ignore[list-item]
    ("embed-int-item", lambda c: c.embed(["ok", 7]), "input 1"),  # type: ignore[list-item]
    ("embed-bytes-item", lambda c: c.embed([b"ok"]), "input 0"),  # type: ignore[list-item]
    ("embed-surrogate", lambda c: c.embed(["\ud800"]), "input 0"),
    ("embed-surrogate-later", lambda c: c.embed(["ok", f"x {SURROGATE}"]), "input 1"),
    ("embed-surrogate-str", lambda c: c.embed(SURROGATE), "input 0"),
    ("dimensions-zero", lambda c: c.embed(["ok"], dimensions=0), "dimensions"),
    ("dimensions-huge", lambda c: c.embed(["ok"], dimensions=10**12), "dimensions"),
    ("dimensions-65537", lambda c: c.embed(["ok"], dimensions=65537), "dimensions"),
    ("dimensions-bool", lambda c: c.embed(["ok"], dimensions=True), "dimensions"),
    ("dimensions-float", lambda c: c.embed(["ok"], dimensions=256.0), "dimensions"),  # type: ignore[arg-type]
    ("dimensions-str", lambda c: c.embed(["ok"], dimensions="256"), "dimensions"),  # type: ignore[arg-type]
    ("embed-model-blank", lambda c: c.embed(["ok"], model="  "), "model"),
    ("embed-model-int", lambda c: c.embed(["ok"], model=3), "model"),  # type: ignore[arg-type]
    ("embed-user-int", lambda c: c.embed(["ok"], user=123), "user"),  # type: ignore[arg-type]
    ("embed-user-blank", lambda c: c.embed(["ok"], user=" "), "user"),
    ("embed-user-surrogate", lambda c: c.embed(["ok"], user=SURROGATE), "user"),
    ("embedding-request-inputs-none", lambda c: EmbeddingRequest(None), "inputs"),  # type: ignore[arg-type]
    ("embedding-request-dimensions-nan", lambda c: EmbeddingRequest(("a",), dimensions=NAN), "dimensions"),  # type: ignore[arg-type]
]
# A blank model is a configuration mistake: leave model unset to use chat_model / embedding_model.
CONFIG_ERRORS = frozenset(("model-blank", "model-empty", "stream-model-blank", "embed-model-blank"))
# The provider shapes, plus the Responses API on one of them: validation must not depend on either.
SHAPES = [(provider, "chat") for provider in PROVIDERS] + [("azure_v1", "responses")]


@pytest.fixture(scope="module", params=SHAPES, ids=[f"{p}-{api}" for p, api in SHAPES])
def wired(request: pytest.FixtureRequest) -> Iterator[tuple[LoopbackServer, Client]]:
    """One loopback server and one real client per shape, shared by every row: nothing is ever sent."""
    provider, api = request.param
    with LoopbackServer() as server, wire(server, provider, api=api).client as client:
        yield server, client


def test_the_table_has_one_row_per_case() -> None:
    names = [case for case, _call, _field in CASES]
    assert len(names) == len(set(names)), "duplicate case ids"
    assert set(names) >= CONFIG_ERRORS


@pytest.mark.parametrize(("case", "call", "field"), CASES, ids=[row[0] for row in CASES])
def test_bad_input_is_refused_before_any_request_naming_the_field(
    wired: tuple[LoopbackServer, Client], case: str, call: Call, field: str
) -> None:
    server, client = wired
    before = server.count

    with pytest.raises(LLMPortError) as raised:
        call(client)

    error = raised.value
    expected = ConfigurationError if case in CONFIG_ERRORS else ValidationError
    assert type(error) is expected, (case, repr(error))
    assert field in str(error), (case, str(error))
    str(error).encode("utf-8")  # the message itself can be logged: it never echoes a lone surrogate
    assert server.count == before


def test_the_shared_clients_do_reach_the_server(wired: tuple[LoopbackServer, Client]) -> None:
    # The table proves nothing if its clients could not send at all.
    server, client = wired
    before = server.count

    client.chat("hi", tools=None, stop=[], extra={"metadata": {"k": "v"}})
    client.embed(["ok"], dimensions=65536)

    assert server.count == before + 2
