"""Deprecated path of the memory budget store, taught by an earlier README: use ``llmport.testing``."""

from __future__ import annotations

import warnings

from .budget.memory import MemoryBudgetStore

__all__ = ["MemoryBudgetStore"]

warnings.warn(
    "llmport.adapters.budget_memory is internal and moved; import MemoryBudgetStore from llmport.testing",
    DeprecationWarning,
    stacklevel=2,
)
