"""The one state-change transaction: all or nothing, deduplicated, one AWS call."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from devstack.template import LocalStack
from payments.domain.states import PaymentStatus
from payments.services.transitions import apply_transition
from payments.store import repositories
from payments.store.state_change import (
    CommitOutcome,
    HistoryRecord,
    InboxRecord,
    StateChange,
    commit_state_change,
)
from tests.integration.conftest import AwsCallCounter
from tests.integration.helpers import all_items, items_of_type, new_payment, new_tenant

S = PaymentStatus


def _inbox(tenant_id: str, event_id: str = "evt_stripe_1") -> InboxRecord:
    return InboxRecord(
        provider="stripe",
        event_id=event_id,
        tenant_id=tenant_id,
        event_type="checkout.session.completed",
        payload=json.dumps({"id": event_id}),
    )


def _key(item: dict[str, object]) -> tuple[object, object]:
    return item["pk"], item["sk"]


def test_creating_a_payment_is_one_transaction_with_history_and_event(
    aws: LocalStack, aws_calls: AwsCallCounter
) -> None:
    tenant_id = new_tenant()
    aws_calls.reset()
    payment = new_payment(tenant_id)
    assert aws_calls() == {"TransactWriteItems": 1}
    [outbox] = items_of_type("outbox")
    envelope = json.loads(outbox["envelope"])
    assert envelope["type"] == "payment.created"
    assert envelope["tenant_id"] == tenant_id
    assert envelope["data"]["payment"]["payment_id"] == payment.payment_id
    assert envelope["data"]["payment"]["amount"] == 2500
    assert len(items_of_type("payment_history")) == 1


def test_capture_writes_payment_history_journal_balances_and_outbox_in_one_call(
    aws: LocalStack, aws_calls: AwsCallCounter
) -> None:
    tenant_id = new_tenant()
    payment = new_payment(tenant_id)
    aws_calls.reset()
    result = apply_transition(
        tenant_id=tenant_id,
        payment_id=payment.payment_id,
        requested=S.SUCCEEDED,
        source="provider",
        inbox=_inbox(tenant_id),
    )
    # One read to decide, exactly one write call for the whole change.
    assert aws_calls() == {"GetItem": 1, "TransactWriteItems": 1}
    assert result.outcome is CommitOutcome.COMMITTED
    assert result.payment.status is S.SUCCEEDED
    stored = repositories.get_payment(tenant_id, payment.payment_id)
    assert stored is not None
    assert (stored.status, stored.version, stored.amount_captured) == (S.SUCCEEDED, 2, 2500)
    [entry] = items_of_type("journal_entry")
    assert {(line["account"], line["debit"], line["credit"]) for line in entry["lines"]} == {
        ("provider_clearing:stripe", Decimal(2500), Decimal(0)),
        ("merchant_sales", Decimal(0), Decimal(2500)),
    }
    balances = {b["account"]: (b["debits"], b["credits"]) for b in items_of_type("account_balance")}
    assert balances == {
        "provider_clearing:stripe": (Decimal(2500), Decimal(0)),
        "merchant_sales": (Decimal(0), Decimal(2500)),
    }
    [inbox] = items_of_type("inbox")
    assert inbox["payload"] == '{"id": "evt_stripe_1"}'
    assert {json.loads(o["envelope"])["type"] for o in items_of_type("outbox")} == {
        "payment.created",
        "payment.succeeded",
    }
    # The payment left the sparse pending index when it stopped being open.
    [item] = [i for i in all_items() if i["item_type"] == "payment"]
    assert "gsi3pk" not in item


def test_a_lost_race_writes_nothing_at_all(aws: LocalStack) -> None:
    tenant_id = new_tenant()
    payment = new_payment(tenant_id)
    apply_transition(
        tenant_id=tenant_id, payment_id=payment.payment_id, requested=S.PENDING, source="api"
    )
    before = sorted(map(_key, all_items()))
    now = datetime.now(UTC)
    stale = StateChange(
        # Decided against version 1 / created, but the payment is at version 2 / pending.
        payment=payment.with_status(S.SUCCEEDED, now, amount_captured=2500),
        history=HistoryRecord(S.CREATED, S.SUCCEEDED, True, "applied", "provider"),
        occurred_at=now,
        expected_version=1,
        expected_status=S.CREATED,
        inbox=_inbox(tenant_id, "evt_late"),
    )
    from payments.domain.ledger import capture_entry

    stale = replace(
        stale,
        journal=[
            capture_entry(
                entry_id="je_stale",
                tenant_id=tenant_id,
                payment_id=payment.payment_id,
                provider="stripe",
                amount=2500,
                currency="KES",
            )
        ],
    )
    assert commit_state_change(stale) is CommitOutcome.CONFLICT
    assert sorted(map(_key, all_items())) == before
    assert items_of_type("journal_entry") == []
    assert items_of_type("account_balance") == []
    assert items_of_type("inbox") == []


def test_a_duplicate_inbox_id_changes_nothing(aws: LocalStack) -> None:
    tenant_id = new_tenant()
    payment = new_payment(tenant_id)
    first = apply_transition(
        tenant_id=tenant_id,
        payment_id=payment.payment_id,
        requested=S.SUCCEEDED,
        source="provider",
        inbox=_inbox(tenant_id),
    )
    assert first.outcome is CommitOutcome.COMMITTED
    snapshot = sorted(all_items(), key=_key)
    again = apply_transition(
        tenant_id=tenant_id,
        payment_id=payment.payment_id,
        requested=S.SUCCEEDED,
        source="provider",
        inbox=_inbox(tenant_id),
    )
    assert again.outcome is CommitOutcome.DUPLICATE
    assert sorted(all_items(), key=_key) == snapshot


def test_late_transitions_are_recorded_but_never_move_a_payment_back(aws: LocalStack) -> None:
    tenant_id = new_tenant()
    payment = new_payment(tenant_id)
    apply_transition(
        tenant_id=tenant_id,
        payment_id=payment.payment_id,
        requested=S.SUCCEEDED,
        source="provider",
    )
    late = apply_transition(
        tenant_id=tenant_id,
        payment_id=payment.payment_id,
        requested=S.PENDING,
        source="provider",
        inbox=_inbox(tenant_id, "evt_late_pending"),
    )
    assert late.outcome is CommitOutcome.COMMITTED
    assert not late.applied
    stored = repositories.get_payment(tenant_id, payment.payment_id)
    assert stored is not None
    assert (stored.status, stored.version) == (S.SUCCEEDED, 2)
    history = repositories.payment_history(payment.payment_id)
    assert [(h.requested_status, h.applied, h.reason) for h in history] == [
        ("created", True, "created"),
        ("succeeded", True, "applied"),
        ("pending", False, "out_of_order"),
    ]
    assert len(items_of_type("journal_entry")) == 1
    # Not applied -> no event for it.
    assert len(items_of_type("outbox")) == 2


def test_concurrent_deliveries_capture_exactly_once(aws: LocalStack) -> None:
    tenant_id = new_tenant()
    payment = new_payment(tenant_id)
    outcomes: list[CommitOutcome] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(10)

    def deliver(event_id: str) -> None:
        try:
            barrier.wait()
            result = apply_transition(
                tenant_id=tenant_id,
                payment_id=payment.payment_id,
                requested=S.SUCCEEDED,
                source="provider",
                inbox=_inbox(tenant_id, event_id),
            )
            outcomes.append(result.outcome)
        except BaseException as error:  # surfaced below
            errors.append(error)

    # Five deliveries of one event and five distinct events all saying "succeeded".
    threads = [threading.Thread(target=deliver, args=("evt_same",)) for _ in range(5)]
    threads += [threading.Thread(target=deliver, args=(f"evt_{i}",)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert outcomes.count(CommitOutcome.DUPLICATE) == 4
    assert outcomes.count(CommitOutcome.COMMITTED) == 6
    assert len(items_of_type("journal_entry")) == 1
    balances = {b["account"]: b["credits"] for b in items_of_type("account_balance")}
    assert balances["merchant_sales"] == Decimal(2500)
    assert len(items_of_type("inbox")) == 6
    applied = [h for h in repositories.payment_history(payment.payment_id) if h.applied]
    assert [h.requested_status for h in applied] == ["created", "succeeded"]
