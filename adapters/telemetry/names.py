"""The OpenTelemetry names llmport records, taken from opentelemetry-semantic-conventions.

Imported only when an ``OpenTelemetry`` is built (it loads opentelemetry): never typed by hand, so a
convention rename shows up as an import error here, not as a silent drift. The GenAI names live in
the package's ``_incubating`` modules (the conventions are still in development): this module is
the only one of llmport that imports them.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import attach, detach
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv._incubating.attributes import openai_attributes as _openai
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as _gen_ai_metrics
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.attributes import http_attributes as _http
from opentelemetry.semconv.attributes import server_attributes as _server
from opentelemetry.trace import INVALID_SPAN, SpanKind, Status, StatusCode, set_span_in_context

from ...domain.models import ChatRequest

__all__ = [
    "INVALID_SPAN",
    "attach",
    "chat_request_attributes",
    "detach",
    "error_status",
    "set_span_in_context",
]

CLIENT = SpanKind.CLIENT

OPERATION = _gen_ai.GEN_AI_OPERATION_NAME
CHAT = _gen_ai.GenAiOperationNameValues.CHAT.value
EMBEDDINGS = _gen_ai.GenAiOperationNameValues.EMBEDDINGS.value
PROVIDER = _gen_ai.GEN_AI_PROVIDER_NAME
REQUEST_MODEL = _gen_ai.GEN_AI_REQUEST_MODEL
RESPONSE_MODEL = _gen_ai.GEN_AI_RESPONSE_MODEL
RESPONSE_ID = _gen_ai.GEN_AI_RESPONSE_ID
FINISH_REASONS = _gen_ai.GEN_AI_RESPONSE_FINISH_REASONS
INPUT_TOKENS = _gen_ai.GEN_AI_USAGE_INPUT_TOKENS
OUTPUT_TOKENS = _gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS
CACHED_TOKENS = _gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
REASONING_TOKENS = _gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
TIME_TO_FIRST_CHUNK = _gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
STREAM = _gen_ai.GEN_AI_REQUEST_STREAM
#: The reply cache's outcome, "hit" or "miss" (no GenAI convention names one); absent when it is off.
CACHE = "llmport.cache"
INPUT_MESSAGES = _gen_ai.GEN_AI_INPUT_MESSAGES
OUTPUT_MESSAGES = _gen_ai.GEN_AI_OUTPUT_MESSAGES
DIMENSIONS = _gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT
TOKEN_TYPE = _gen_ai.GEN_AI_TOKEN_TYPE
INPUT = _gen_ai.GenAiTokenTypeValues.INPUT.value
OUTPUT = _gen_ai.GenAiTokenTypeValues.COMPLETION.value  # the value is "output"
PROVIDER_AZURE_OPENAI = _gen_ai.GenAiProviderNameValues.AZURE_AI_OPENAI.value
PROVIDER_OPENAI = _gen_ai.GenAiProviderNameValues.OPENAI.value
SYSTEM_FINGERPRINT = _openai.OPENAI_RESPONSE_SYSTEM_FINGERPRINT
SERVICE_TIER = _openai.OPENAI_RESPONSE_SERVICE_TIER
SERVER_ADDRESS = _server.SERVER_ADDRESS
SERVER_PORT = _server.SERVER_PORT
ERROR_TYPE = _error.ERROR_TYPE
HTTP_STATUS = _http.HTTP_RESPONSE_STATUS_CODE

OPERATION_DURATION_METRIC = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION
TOKEN_USAGE_METRIC = _gen_ai_metrics.GEN_AI_CLIENT_TOKEN_USAGE
TIME_TO_FIRST_CHUNK_METRIC = _gen_ai_metrics.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK

#: The attributes a metric point carries (the conventions' list for the client histograms).
METRIC_KEYS = (OPERATION, PROVIDER, REQUEST_MODEL, SERVER_ADDRESS, SERVER_PORT)

# The conventions' advised bucket boundaries for the two client histograms.
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]

_OUTPUT_TYPES = {"json_object": "json", "json_schema": "json", "text": "text"}


def chat_request_attributes(request: ChatRequest) -> dict[str, Any]:
    """The ``gen_ai.request.*`` attributes of a chat request (only those it sets)."""
    attrs: dict[str, Any] = {}
    if request.temperature is not None:
        attrs[_gen_ai.GEN_AI_REQUEST_TEMPERATURE] = request.temperature
    if request.top_p is not None:
        attrs[_gen_ai.GEN_AI_REQUEST_TOP_P] = request.top_p
    if request.max_tokens is not None:
        attrs[_gen_ai.GEN_AI_REQUEST_MAX_TOKENS] = request.max_tokens
    if request.seed is not None:
        attrs[_gen_ai.GEN_AI_REQUEST_SEED] = request.seed
    if request.stop:
        attrs[_gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = request.stop
    if request.n is not None and request.n != 1:
        attrs[_gen_ai.GEN_AI_REQUEST_CHOICE_COUNT] = request.n
    if request.response_format is not None:
        attrs[_gen_ai.GEN_AI_OUTPUT_TYPE] = _OUTPUT_TYPES.get(request.response_format.type, "text")
    return attrs


def error_status(error_type: str) -> Status:
    """An ERROR span status naming the error class (never its message: it may quote input)."""
    return Status(StatusCode.ERROR, error_type)
