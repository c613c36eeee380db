"""Routing over several deployments: the Router and its lanes (router.py), its plans (plan.py).

``from llmport.services.routing import Deployment, Router`` was taught by an earlier README; it still
works, with a DeprecationWarning: ``llmport.testing`` exports both.
"""

from __future__ import annotations

import warnings
from typing import Any

_MOVED = frozenset(("Deployment", "Router"))


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(
            f"llmport.services.routing.{name} is internal and may move; import {name} from llmport.testing",
            DeprecationWarning,
            stacklevel=2,
        )
        from . import router

        return getattr(router, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
