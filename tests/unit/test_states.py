from __future__ import annotations

import pytest

from payments.domain.states import (
    ALLOWED_TRANSITIONS,
    PaymentStatus,
    decide_transition,
)

S = PaymentStatus


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        (S.CREATED, S.PENDING),
        (S.PENDING, S.SUCCEEDED),
        (S.PENDING, S.FAILED),
        (S.PENDING, S.CANCELED),
        (S.PENDING, S.EXPIRED),
        (S.SUCCEEDED, S.PARTIALLY_REFUNDED),
        (S.PARTIALLY_REFUNDED, S.REFUNDED),
        (S.SUCCEEDED, S.REFUNDED),
        (S.SUCCEEDED, S.DISPUTED),
        (S.EXPIRED, S.SUCCEEDED),  # late capture: money moved, the payment must say so
    ],
)
def test_forward_transitions_apply(current: PaymentStatus, requested: PaymentStatus) -> None:
    decision = decide_transition(current, requested)
    assert decision.applies
    assert decision.resulting is requested


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        (S.SUCCEEDED, S.PENDING),  # a late "pending" after success
        (S.SUCCEEDED, S.FAILED),
        (S.SUCCEEDED, S.EXPIRED),
        (S.REFUNDED, S.SUCCEEDED),
        (S.REFUNDED, S.PARTIALLY_REFUNDED),
        (S.PARTIALLY_REFUNDED, S.SUCCEEDED),
        (S.FAILED, S.PENDING),
        (S.EXPIRED, S.PENDING),
        (S.PENDING, S.CREATED),
        (S.PENDING, S.REFUNDED),  # nothing captured yet
    ],
)
def test_backward_or_skipping_transitions_are_recorded_not_applied(
    current: PaymentStatus, requested: PaymentStatus
) -> None:
    decision = decide_transition(current, requested)
    assert not decision.applies
    assert decision.resulting is current
    assert decision.reason == "out_of_order"


def test_repeating_the_current_state_is_a_recorded_no_op() -> None:
    decision = decide_transition(S.SUCCEEDED, S.SUCCEEDED)
    assert not decision.applies
    assert decision.reason == "already_in_state"


def test_refunded_is_terminal_and_every_state_is_covered() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(PaymentStatus)
    assert ALLOWED_TRANSITIONS[S.REFUNDED] == frozenset()


def test_no_sequence_of_allowed_transitions_returns_to_pending_after_capture() -> None:
    # Monotonic: from any captured state, pending/created are unreachable.
    captured = {S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}
    reachable = set(captured)
    frontier = list(captured)
    while frontier:
        state = frontier.pop()
        for nxt in ALLOWED_TRANSITIONS[state]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == captured
