"""The payment state machine.

``created -> pending -> succeeded | failed | canceled | expired``;
``succeeded -> partially_refunded -> refunded``; ``succeeded -> disputed``; and, for providers
that clear a payment first and settle it days later (NEO Bank, T+2), ``succeeded -> settled``.

It is monotonic: a transition that is not allowed from the current state (a late ``pending``
after ``succeeded``, a duplicate ``succeeded``) is *recorded* in the payment's history but never
moves the payment. One deliberate exception to "terminal means terminal": a provider that
reports money captured after we gave up on a payment (``failed``/``expired``/``canceled``) moves
it to ``succeeded``, because the money really moved and the ledger must show it (see
docs/decisions.md). A provider that settles later gives the other answer: its ``failed`` is its
last word (a ``succeeded`` arriving after it is out of order, never a late capture), and it may
come after ``succeeded`` as a reversal of the cleared funds (``decide_transition(...,
settles_later=True)``). Either way every order of its notifications ends in the same state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PaymentStatus(StrEnum):
    CREATED = "created"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    # Cleared funds that reached the merchant (a provider that settles later: NEO Bank, T+2).
    SETTLED = "settled"


S = PaymentStatus

ALLOWED_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    # Settled straight from open: cleared and settled reported at once, or out of order.
    S.CREATED: frozenset({S.PENDING, S.SUCCEEDED, S.SETTLED, S.FAILED, S.CANCELED, S.EXPIRED}),
    S.PENDING: frozenset({S.SUCCEEDED, S.SETTLED, S.FAILED, S.CANCELED, S.EXPIRED}),
    # Late capture after we gave up: the money moved, so the payment must say so.
    S.FAILED: frozenset({S.SUCCEEDED, S.SETTLED}),
    S.CANCELED: frozenset({S.SUCCEEDED, S.SETTLED}),
    S.EXPIRED: frozenset({S.SUCCEEDED, S.SETTLED}),
    S.SUCCEEDED: frozenset({S.SETTLED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.SETTLED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    # A second partial refund keeps the state but changes the refunded amount.
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.DISPUTED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
}

# Statuses in which the customer's money is (or was) captured.
CAPTURED_STATUSES = frozenset(
    {S.SUCCEEDED, S.SETTLED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}
)
# Statuses the sweeper watches: the provider may still settle them.
OPEN_STATUSES = frozenset({S.CREATED, S.PENDING})


@dataclass(frozen=True, slots=True)
class TransitionDecision:
    """What to do with a requested transition."""

    current: PaymentStatus
    requested: PaymentStatus
    applies: bool
    reason: str

    @property
    def resulting(self) -> PaymentStatus:
        return self.requested if self.applies else self.current


# A provider that settles later: what its failure may follow, and what may not follow it.
_SETTLES_LATER_ADDED = {S.SUCCEEDED: frozenset({S.FAILED})}  # a reversal of cleared funds
_SETTLES_LATER_REMOVED = {S.FAILED: frozenset({S.SUCCEEDED, S.SETTLED})}


def allowed_transitions(
    current: PaymentStatus, *, settles_later: bool = False
) -> frozenset[PaymentStatus]:
    allowed = ALLOWED_TRANSITIONS[current]
    if settles_later:
        allowed = (allowed | _SETTLES_LATER_ADDED.get(current, frozenset())) - (
            _SETTLES_LATER_REMOVED.get(current, frozenset())
        )
    return allowed


def decide_transition(
    current: PaymentStatus, requested: PaymentStatus, *, settles_later: bool = False
) -> TransitionDecision:
    """Decide whether ``requested`` moves a payment that is ``current``; never raises.
    ``settles_later``: the payment's provider clears first and settles later (see above)."""
    if requested in allowed_transitions(current, settles_later=settles_later):
        return TransitionDecision(current, requested, True, "applied")
    if requested == current:
        return TransitionDecision(current, requested, False, "already_in_state")
    return TransitionDecision(current, requested, False, "out_of_order")


def can_transition(current: PaymentStatus, requested: PaymentStatus) -> bool:
    return requested in ALLOWED_TRANSITIONS[current]
