"""llmport: one typed, synchronous API for chat and embeddings on OpenAI and Azure OpenAI."""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

from .domain.conversations import fold_stream, to_messages
from .domain.errors import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConnectionFailedError,
    ContentFilteredError,
    ContextLengthExceededError,
    LLMPortError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServiceUnavailableError,
    StreamInterruptedError,
    ValidationError,
)
from .domain.models import (
    AccessToken,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    CodeInterpreterTool,
    EmbeddingRequest,
    EmbeddingResponse,
    FileSearchTool,
    HostedTool,
    ImagePart,
    McpTool,
    Message,
    Reasoning,
    ResponseFormat,
    TextPart,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
    WebSearchTool,
)
from .domain.ports import ChatPort, CredentialPort, EmbeddingPort
from .domain.replies import Cost
from .domain.responses_items import (
    FunctionCallItem,
    McpCall,
    McpListTools,
    OtherEvent,
    OtherItem,
    OutputMessage,
    ReasoningItem,
    UrlCitation,
)
from .domain.tokens import TextTokenCounts, TokenCount
from .domain.usage import ModelPrice, UsageReport, UsageTotals
from .services.client import Client
from .settings.model import Secret, Settings

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .container.root import (
        Clients,
        build_client,
        clients_from_file,
        from_dict,
        from_env,
        from_file,
    )

__all__ = [
    "AccessToken",
    "AuthenticationError",
    "BadRequestError",
    "ChatChunk",
    "ChatPort",
    "ChatRequest",
    "ChatResponse",
    "Choice",
    "Client",
    "ClientClosedError",
    "Clients",
    "CodeInterpreterTool",
    "ConfigurationError",
    "ConnectionFailedError",
    "ContentFilteredError",
    "ContextLengthExceededError",
    "Cost",
    "CredentialPort",
    "EmbeddingPort",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "FileSearchTool",
    "FunctionCallItem",
    "HostedTool",
    "ImagePart",
    "LLMPortError",
    "McpCall",
    "McpListTools",
    "McpTool",
    "Message",
    "ModelPrice",
    "NotFoundError",
    "OtherEvent",
    "OtherItem",
    "OutputMessage",
    "PermissionDeniedError",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitedError",
    "Reasoning",
    "ReasoningItem",
    "RequestTimeoutError",
    "ResponseFormat",
    "ResponseTooLargeError",
    "Secret",
    "ServiceUnavailableError",
    "Settings",
    "StreamInterruptedError",
    "TextPart",
    "TextTokenCounts",
    "TokenCount",
    "TokenLogprob",
    "ToolCall",
    "ToolCallDelta",
    "ToolSpec",
    "UrlCitation",
    "Usage",
    "UsageReport",
    "UsageTotals",
    "ValidationError",
    "WebSearchTool",
    "build_client",
    "clients_from_file",
    "fold_stream",
    "from_dict",
    "from_env",
    "from_file",
    "to_messages",
]

# The one logging call a library should make (logging HOWTO, "Configuring Logging for a Library"):
# an app that configured nothing must not get llmport's retry warnings on stderr through
# logging.lastResort. Checked first, so a re-import or importlib.reload adds no second handler.
_logger = logging.getLogger(__name__)
if not any(isinstance(handler, logging.NullHandler) for handler in _logger.handlers):
    _logger.addHandler(logging.NullHandler())
del _logger

# The composition root imports dependency_injector (tens of milliseconds, and more modules through its
# optional integrations); `import llmport` leaves it, like openai, until a client is built (PEP 562).
_FROM_CONTAINER = frozenset(
    ("Clients", "build_client", "clients_from_file", "from_dict", "from_env", "from_file")
)

if not TYPE_CHECKING:  # mypy sees the imports above; a typo stays an error for it

    def __getattr__(name: str) -> Any:
        if name == "Container":  # a test tool, exported here before (the README's container): still works
            warnings.warn(
                "llmport.Container is for tests; import Container (or container_of) from llmport.testing",
                DeprecationWarning,
                stacklevel=2,
            )
            from .container import Container

            return Container  # not cached: every use is told
        if name in _FROM_CONTAINER:
            from . import container

            value = getattr(container, name)
            globals()[name] = value  # the next lookup is a plain module attribute
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
