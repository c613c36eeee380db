"""Every port of the domain is in ``domain/ports.py``; rate-limit headers are read in the adapters."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import llmport.domain
from llmport.adapters.llm.wire import rate_limits
from llmport.domain import budget


def _domain_modules() -> list[str]:
    return [f"llmport.domain.{info.name}" for info in pkgutil.iter_modules(llmport.domain.__path__)]


def test_every_port_of_the_domain_lives_in_ports_py() -> None:
    elsewhere = [
        f"{name}.{attribute}"
        for name in _domain_modules()
        for attribute, value in vars(importlib.import_module(name)).items()
        if inspect.isclass(value)
        and value.__module__ == name
        and getattr(value, "_is_protocol", False)
        and name != "llmport.domain.ports"
    ]
    assert elsewhere == []


def test_the_budget_values_read_no_http_headers() -> None:
    assert not hasattr(budget.RateHint, "from_headers")
    assert not hasattr(budget, "parse_reset")
    hint = rate_limits.rate_hint_from_headers({"X-RateLimit-Remaining-Requests": "7"})
    assert hint == budget.RateHint(remaining_requests=7)
