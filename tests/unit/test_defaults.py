"""The defaults several floors share are written once, in ``domain/defaults.py``, and agree everywhere."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from llmport.adapters.budget.memory import MemoryBudgetStore
from llmport.adapters.cache.memory import MemoryCacheStore
from llmport.adapters.cache.redis_cache import RedisCacheStore
from llmport.adapters.llm.azure import AzureClassicAdapter, AzureV1Adapter
from llmport.adapters.llm.openai import OpenAIAdapter
from llmport.domain import defaults
from llmport.services.embeddings import EmbeddingService
from llmport.services.token_cache import TokenCache
from llmport.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# The package's own modules: the repository root is the package; these folders are not installed.
OUTSIDE = {"tests", "benchmarks", "examples", "build", "docs"}
SOURCES = [
    path
    for path in sorted(ROOT.rglob("*.py"))
    if (top := path.relative_to(ROOT).parts[0]) not in OUTSIDE and not top.startswith(".")
]

# A parameter or field of one of these names must not write its default as one of these numbers:
# it names the constant of domain/defaults.py instead.
SHARED = {
    "timeout": defaults.DEFAULT_TIMEOUT,
    "batch_size": defaults.MAX_EMBEDDING_BATCH,
    "embedding_batch_size": defaults.MAX_EMBEDDING_BATCH,
    "refresh_margin": defaults.TOKEN_REFRESH_MARGIN,
    "token_refresh_margin": defaults.TOKEN_REFRESH_MARGIN,
    "assumed_lifetime": defaults.TOKEN_REFRESH_MARGIN,
    "lease_seconds": defaults.LEASE_SECONDS,
    "cache_ttl": defaults.CACHE_TTL,
    "max_bytes": defaults.CACHE_MAX_BYTES,
    "cache_max_bytes": defaults.CACHE_MAX_BYTES,
    "max_entry_bytes": defaults.CACHE_MAX_ENTRY_BYTES,
}


def _numbers(default: ast.expr) -> set[object]:
    """The numbers ``default`` writes: its constants, and its value when it is arithmetic on them
    (``64 * 1024 * 1024``)."""
    numbers = {c.value for c in ast.walk(default) if isinstance(c, ast.Constant)}
    if all(isinstance(node, (ast.Constant, ast.BinOp, ast.operator)) for node in ast.walk(default)):
        # Only constants and operators: evaluating it runs nothing but arithmetic.
        numbers.add(eval(compile(ast.Expression(default), "<default>", "eval")))  # noqa: S307
    return numbers


def _literal_defaults(path: Path) -> list[str]:
    """``name = <a shared default as a literal>`` in a signature or a class body of ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        pairs: list[tuple[str, ast.expr]] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args
            positional = [*arguments.posonlyargs, *arguments.args]
            pairs += zip(
                [a.arg for a in positional[len(positional) - len(arguments.defaults) :]],
                arguments.defaults,
                strict=True,
            )
            pairs += [
                (a.arg, d)
                for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
                if d is not None
            ]
        elif isinstance(node, ast.ClassDef):
            pairs += [
                (item.target.id, item.value)
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value
            ]
        for name, default in pairs:
            if name in SHARED and SHARED[name] in _numbers(default):
                found.append(f"{path.name}:{default.lineno} {name} = {ast.unparse(default)}")
    return found


def test_no_module_writes_a_shared_default_as_a_number() -> None:
    found = [
        line
        for path in SOURCES
        if path != ROOT / "domain" / "defaults.py"
        for line in _literal_defaults(path)
    ]
    assert found == []


def _default(function: object, name: str) -> object:
    return inspect.signature(function).parameters[name].default  # type: ignore[arg-type]


def test_the_settings_and_the_parts_they_configure_default_alike() -> None:
    settings = Settings(provider="fake")
    assert {_default(cls, "timeout") for cls in (OpenAIAdapter, AzureClassicAdapter, AzureV1Adapter)} == {
        settings.timeout
    }
    assert _default(EmbeddingService, "batch_size") == settings.embedding_batch_size
    assert _default(TokenCache, "refresh_margin") == settings.token_refresh_margin
    assert _default(MemoryBudgetStore, "lease_seconds") == defaults.LEASE_SECONDS
    assert _default(MemoryCacheStore, "max_bytes") == settings.cache_max_bytes == defaults.CACHE_MAX_BYTES
    assert {_default(cls, "max_entry_bytes") for cls in (MemoryCacheStore, RedisCacheStore)} == {
        defaults.CACHE_MAX_ENTRY_BYTES
    }
    assert settings.cache_ttl == defaults.CACHE_TTL
