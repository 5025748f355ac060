"""The payment state machine.

``created -> pending -> succeeded | failed | canceled | expired``;
``succeeded -> partially_refunded -> refunded``; ``succeeded -> disputed``.

It is monotonic: a transition that is not allowed from the current state (a late ``pending``
after ``succeeded``, a duplicate ``succeeded``) is *recorded* in the payment's history but never
moves the payment. One deliberate exception to "terminal means terminal": a provider that
reports money captured after we gave up on a payment (``failed``/``expired``/``canceled``) moves
it to ``succeeded``, because the money really moved and the ledger must show it (see
docs/decisions.md).
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


S = PaymentStatus

ALLOWED_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.CREATED: frozenset({S.PENDING, S.SUCCEEDED, S.FAILED, S.CANCELED, S.EXPIRED}),
    S.PENDING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELED, S.EXPIRED}),
    # Late capture after we gave up: the money moved, so the payment must say so.
    S.FAILED: frozenset({S.SUCCEEDED}),
    S.CANCELED: frozenset({S.SUCCEEDED}),
    S.EXPIRED: frozenset({S.SUCCEEDED}),
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    # A second partial refund keeps the state but changes the refunded amount.
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.DISPUTED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
}

# Statuses in which the customer's money is (or was) captured.
CAPTURED_STATUSES = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED})
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


def decide_transition(current: PaymentStatus, requested: PaymentStatus) -> TransitionDecision:
    """Decide whether ``requested`` moves a payment that is ``current``; never raises."""
    if requested in ALLOWED_TRANSITIONS[current]:
        return TransitionDecision(current, requested, True, "applied")
    if requested == current:
        return TransitionDecision(current, requested, False, "already_in_state")
    return TransitionDecision(current, requested, False, "out_of_order")


def can_transition(current: PaymentStatus, requested: PaymentStatus) -> bool:
    return requested in ALLOWED_TRANSITIONS[current]
