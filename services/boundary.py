"""Where the services turn a missing model into ConfigurationError and foreign failures into domain errors."""

from __future__ import annotations

from ..domain.errors import ConfigurationError, LLMPortError, ProviderError

__all__ = ["missing_model", "unexpected_error"]

# The setting and the environment variable that name each operation's model.
_MODEL_SETTINGS = {
    "chat": ("chat_model", "LLMPORT_CHAT_MODEL"),
    "embed": ("embedding_model", "LLMPORT_EMBEDDING_MODEL"),
}


def missing_model(kind: str) -> ConfigurationError:
    """Return the error for a request without a model on a service configured without one.

    Args:
        kind: ``chat`` or ``embed``.
    """
    setting, env = _MODEL_SETTINGS[kind]
    return ConfigurationError(
        f"no model for {kind}: set {setting} (environment {env}; on Azure, the deployment name) "
        f"or pass model= with the request"
    )


def unexpected_error(
    exc: Exception, *, provider: str, operation: str, error_type: type[LLMPortError] = ProviderError
) -> LLMPortError:
    """Wrap an exception an adapter should have translated, so callers only see domain errors.

    The caller raises the result ``from exc``. The original message is kept (shortened): adapters
    never put secrets in exceptions, and the type name alone rarely says what broke.
    """
    return error_type(
        f"unexpected {type(exc).__name__} from the {provider} adapter during {operation}: {str(exc)[:200]}",
        provider=provider,
        retryable=False,
    )
