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
    captured = {S.SUCCEEDED, S.SETTLED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}
    reachable = set(captured)
    frontier = list(captured)
    while frontier:
        state = frontier.pop()
        for nxt in ALLOWED_TRANSITIONS[state]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == captured


# --- providers that clear first and settle later (NEO Bank) --------------------------------


def _final(sequence: tuple[PaymentStatus, ...], *, settles_later: bool) -> PaymentStatus:
    state = S.PENDING
    for requested in sequence:
        state = decide_transition(state, requested, settles_later=settles_later).resulting
    return state


@pytest.mark.parametrize(
    ("in_order", "final"),
    [
        ((S.SUCCEEDED, S.SETTLED), S.SETTLED),
        ((S.SUCCEEDED, S.FAILED), S.FAILED),  # a reversal of cleared funds
        ((S.FAILED,), S.FAILED),
        ((S.SETTLED,), S.SETTLED),
    ],
)
def test_every_order_and_repeat_of_a_settling_providers_statuses_ends_the_same(
    in_order: tuple[PaymentStatus, ...], final: PaymentStatus
) -> None:
    import itertools

    assert _final(in_order, settles_later=True) is final
    doubled = in_order + in_order
    for shuffled in set(itertools.permutations(doubled)):
        assert _final(shuffled, settles_later=True) is final, shuffled


def test_a_settling_providers_failure_is_final_and_may_reverse_a_clearing() -> None:
    assert not decide_transition(S.FAILED, S.SUCCEEDED, settles_later=True).applies
    assert not decide_transition(S.FAILED, S.SETTLED, settles_later=True).applies
    assert decide_transition(S.SUCCEEDED, S.FAILED, settles_later=True).applies
    assert not decide_transition(S.SETTLED, S.FAILED, settles_later=True).applies
    # Other providers keep the late capture and never fail a captured payment.
    assert decide_transition(S.FAILED, S.SUCCEEDED).applies
    assert not decide_transition(S.SUCCEEDED, S.FAILED).applies
    assert decide_transition(S.SUCCEEDED, S.SETTLED).applies
