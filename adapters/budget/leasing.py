"""What the budget stores share about leases: how large each is, and which one a deployment holds.

A lease (``domain.budget.Lease``) is room a store lends this process for a deployment's next calls,
counted in the store at once. Its size follows how fast the last one was used: the first asks
for ``LEASE_FIRST_CALLS``; one used up before its end asks twice as many next time, one that
ended with room left about twice what it served; never more than ``LEASE_MAX_CALLS`` nor
1/``LEASE_SHARE`` of any limit, and none smaller than ``LEASE_MIN_CALLS``.
"""

from __future__ import annotations

import math

from ...domain.budget import Budget, Lease
from ...domain.errors import ConfigurationError

__all__ = [
    "LEASE_FIRST_CALLS",
    "LEASE_MAX_CALLS",
    "LEASE_MIN_CALLS",
    "LEASE_SHARE",
    "LeaseBook",
    "checked_lease_seconds",
]

#: A lease takes at most 1/LEASE_SHARE of each limit (the stores grant it only below half of each).
LEASE_SHARE = 32
#: A lease holds room for at most this many calls ...
LEASE_MAX_CALLS = 128
#: ... and at least this many (a smaller one is not asked for) ...
LEASE_MIN_CALLS = 2
#: ... and for this many when a deployment has had none yet; then as its last one was used.
LEASE_FIRST_CALLS = 8


def checked_lease_seconds(value: object) -> float:
    """A store's ``lease_seconds``, checked: seconds >= 0 (0: no leases).

    Raises:
        ConfigurationError: not a finite number of seconds >= 0.
    """
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ConfigurationError("lease_seconds must be seconds >= 0")
    return float(value)


class LeaseBook:
    """The lease a store lent on each deployment, and the size of the next; its store's lock guards it.

    Args:
        seconds: how long a lease lasts (0: no leases).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.open: dict[str, Lease] = {}  # by deployment
        self._want: dict[str, int] = {}  # calls the next lease of a deployment asks for

    def ending(self, budget: Budget, tokens: int, now: float) -> tuple[Lease | None, int, int]:
        """End the deployment's lease before its store is asked: the lease to give back (None:
        none), the calls the next lease asks for (0: none) and the bucket it is charged to."""
        name = budget.deployment
        old = self.open.pop(name, None)
        if old is not None:
            if old.cut:  # the provider's hint said room is short (Lease.settle): ask as before
                pass
            elif old.until > now or old.requests == 0:  # used up before its end: ask for more
                self._want[name] = min(2 * old.calls, LEASE_MAX_CALLS)
            else:
                self._want[name] = max(2 * (old.calls - old.requests), LEASE_MIN_CALLS)
        if self.seconds <= 0 or (budget.rpm is None and budget.tpm is None):
            return old, 0, 0  # nothing to count ahead: every call asks the store (cooldowns, ejection)
        want = min(self._want.get(name, LEASE_FIRST_CALLS), LEASE_MAX_CALLS)
        if budget.rpm is not None:
            want = min(want, budget.rpm // LEASE_SHARE)
        if budget.tpm is not None and tokens > 0:
            want = min(want, budget.tpm // LEASE_SHARE // tokens)
        if want < LEASE_MIN_CALLS:
            return old, 0, 0
        return old, want, math.floor(now + self.seconds)

    def install(self, lease: Lease) -> Lease | None:
        """Keep ``lease`` as its deployment's; return the one it replaces (to give back), if any."""
        name = lease.budget.deployment
        replaced = self.open.get(name)
        self.open[name] = lease
        self._want[name] = lease.calls
        return replaced

    def pop(self, name: str) -> Lease | None:
        """Forget the deployment's lease (to give back), if it has one."""
        return self.open.pop(name, None)

    def clear(self) -> list[Lease]:
        """Forget every lease; return them (to give back or close)."""
        leases = list(self.open.values())
        self.open.clear()
        return leases
