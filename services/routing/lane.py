"""A router's lanes: where a kind's calls go with no plan while nothing changes, and whose turn it is.

A lane opens when a call went to the first deployment of its plan with no deployment failing on
it; it spans that deployment's priority group and lasts until the plan could change
(:func:`opened`). A kind with one deployment has a lane for good (:func:`alone`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ...domain.budget import Lease, Remaining, Reservation
from .plan import VIEW_LIFETIME, Deployment, Kind, Plan

__all__ = ["FOREVER", "Lane", "alone", "opened"]

#: A lane's end when it is its kind's one deployment.
FOREVER = math.inf


@dataclass(slots=True)
class Lane:
    """Calls of a kind go straight to ``members`` from ``since`` until ``until`` (the store's
    clock), each taking from the lease its store last lent for that member (``leases``), else
    reserving one by one; within a group, by the budget ``left`` as the lane counts it."""

    members: tuple[Deployment, ...]
    since: float
    until: float
    leases: list[Lease | None] = field(init=False)
    left: list[list[int | None]] = field(default_factory=list)  # per member: requests, tokens, rpm, tpm
    spilled: bool = False  # logged on every call: its priority is not the best

    def __post_init__(self) -> None:
        self.leases = [None] * len(self.members)

    def next_turn(self, tokens: int) -> int:
        """The member with the most budget left (the first on a tie), which this call then spends.

        As ``plan._room`` counts it, inline: it runs before every call. Threads may race on the
        counts: they stay near, and the store still grants every call.
        """
        best, most = 0, -1.0
        for index, counts in enumerate(self.left):
            requests, left_tokens, rpm, tpm = counts
            room = 1.0
            if requests is not None and rpm is not None:
                room = requests / rpm
            if left_tokens is not None and tpm is not None and left_tokens / tpm < room:
                room = left_tokens / tpm
            if room > most:
                best, most = index, room
        counts = self.left[best]
        if counts[0] is not None:
            counts[0] -= 1
        if counts[1] is not None:
            counts[1] -= tokens
        return best


def alone(serving: Mapping[Kind, tuple[Deployment, ...]]) -> dict[Kind, Lane]:
    """The lanes that never end: to the one deployment of a kind that has one."""
    return {
        kind: Lane((deployments[0],), -FOREVER, FOREVER)
        for kind, deployments in serving.items()
        if len(deployments) == 1
    }


def opened(
    order: Plan,
    answer: Reservation,
    served: Deployment,
    *,
    view: Mapping[str, Remaining],
    elapsed: float,
    waits: Sequence[float],
    clock: Callable[[], float],
    best_priority: int,
) -> Lane | None:
    """The lane a call served by ``served`` opens to it and its priority group, or None.

    Only when the plan (from a ``view`` ``elapsed`` seconds old) put ``served`` first and its
    reservation was no probe. It lasts until the plan would be made again: when the view is
    ``VIEW_LIFETIME`` old, or a deployment skipped for a while (a better one cooling, full or
    ejected: the call's ``waits`` and the plan's) may serve again. Within a group, each call goes
    to the one with the most budget left as the lane counts it (:meth:`Lane.next_turn`): what the
    view said, less the calls the lane has sent since, as a plan for each call would choose while
    only this router spends them; a refusal ends the lane, and the next plan reads them again.
    """
    if not order.order or order.order[0] is not served or answer.probe:
        return None
    lasts = min((VIEW_LIFETIME - elapsed, *waits, *order.waits))
    if lasts <= 0:
        return None
    members = tuple(d for d in order.order if d.priority == served.priority)
    now = clock()
    lane = Lane(members, now, now + lasts)
    lane.leases[0] = answer.lease
    lane.spilled = served.priority > best_priority
    if len(members) > 1:  # what each has left, the call just served counted (by the read)
        lane.left = [_counts(member, view.get(member.name)) for member in members]
    return lane


def _counts(deployment: Deployment, left: Remaining | None) -> list[int | None]:
    """A lane's count of what a deployment has left: requests, tokens, and its limits."""
    budget = deployment.limits
    if left is None:
        return [None, None, budget.rpm, budget.tpm]
    return [left.requests, left.tokens, budget.rpm, budget.tpm]
