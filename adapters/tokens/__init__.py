"""Token counting: tiktoken with the encodings shipped in an installed package, never downloaded."""

from .tiktoken_counter import TiktokenCounter

__all__ = ["TiktokenCounter"]
