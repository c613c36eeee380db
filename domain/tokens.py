"""Token counts: what a prompt or a text costs in tokens before it is sent, and how sure that is."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TextTokenCounts", "TokenCount"]


@dataclass(frozen=True, slots=True)
class TokenCount:
    """The prompt tokens a chat request costs: what the provider's ``usage.prompt_tokens`` reports.

    Args:
        tokens: the count.
        exact: True when counted with the model's own encoding and the service's rules; False
            for an estimate (a model whose encoding is unknown, e.g. on an OpenAI-compatible server).
        encoding: the tiktoken encoding counted with (``"o200k_base"``...), None for an estimate.
        model: the model the count is for (on Azure, the model behind the deployment when known).
    """

    tokens: int
    exact: bool
    encoding: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class TextTokenCounts:
    """The tokens of each text of an embeddings request, in input order.

    Args:
        counts: one count per text.
        exact: as :class:`TokenCount`'s.
        encoding: as :class:`TokenCount`'s.
        model: as :class:`TokenCount`'s.
    """

    counts: tuple[int, ...]
    exact: bool
    encoding: str | None = None
    model: str | None = None

    @property
    def total(self) -> int:
        """The sum over every text."""
        return sum(self.counts)
