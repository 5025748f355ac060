"""The provider-agnostic path for what providers tell us: details a payment shows, and
captured references that count for one payment only (through moto)."""

from __future__ import annotations

from devstack.template import LocalStack
from payments.domain.states import PaymentStatus
from payments.providers.base import ProviderEvent
from payments.services.provider_events import EventOutcome, apply_provider_event
from payments.store import repositories
from tests.integration.helpers import items_of_type, new_payment, new_tenant


def _capture(tenant: str, payment_id: str, event_id: str, capture_ref: str) -> EventOutcome:
    event = ProviderEvent(
        event_id=event_id,
        event_type="payment.captured",
        payment_id=payment_id,
        requested_status=PaymentStatus.SUCCEEDED,
        capture_ref=capture_ref,
        details={"receipt_number": capture_ref},
    )
    return apply_provider_event(
        tenant_id=tenant, provider="stripe", event=event, raw_payload=f'{{"id": "{event_id}"}}'
    ).outcome


def test_a_captured_reference_counts_for_one_payment_of_a_tenant(aws: LocalStack) -> None:
    tenant = new_tenant()
    first, second = new_payment(tenant, payable_id="a"), new_payment(tenant, payable_id="b")
    assert _capture(tenant, first.payment_id, "evt_1", "RCPT0001") is EventOutcome.APPLIED
    # The same reference on another payment: refused, recorded, and no money moves.
    assert _capture(tenant, second.payment_id, "evt_2", "RCPT0001") is EventOutcome.REJECTED
    assert repositories.get_payment(tenant, second.payment_id).status is PaymentStatus.CREATED  # type: ignore[union-attr]
    [rejected] = [item for item in items_of_type("inbox") if item["status"] == "rejected"]
    assert rejected["reason"] == "capture_ref_taken"
    assert [entry["payment_id"] for entry in items_of_type("journal_entry")] == [first.payment_id]
    # Another tenant's payment may carry the same reference (its own provider account's).
    other = new_tenant("Other")
    third = new_payment(other)
    assert _capture(other, third.payment_id, "evt_3", "RCPT0001") is EventOutcome.APPLIED


def test_what_the_provider_reports_is_shown_on_the_payment(aws: LocalStack) -> None:
    tenant = new_tenant()
    payment = new_payment(tenant)
    _capture(tenant, payment.payment_id, "evt_1", "RCPT0002")
    stored = repositories.get_payment(tenant, payment.payment_id)
    assert stored is not None
    assert stored.public_view()["provider_details"] == {"receipt_number": "RCPT0002"}
    assert stored.capture_ref == "RCPT0002"


def _progress(tenant: str, payment_id: str, event_id: str, status: str) -> EventOutcome:
    """A notification that the payment is still open, with the provider's own status."""
    event = ProviderEvent(
        event_id=event_id,
        event_type="payment.progress",
        payment_id=payment_id,
        requested_status=PaymentStatus.PENDING,
        details={"provider_status": status},
    )
    return apply_provider_event(
        tenant_id=tenant, provider="stripe", event=event, raw_payload=f'{{"id": "{event_id}"}}'
    ).outcome


def test_an_open_payment_shows_its_providers_progress_without_new_events(
    aws: LocalStack,
) -> None:
    tenant = new_tenant()
    payment = new_payment(tenant)
    assert _progress(tenant, payment.payment_id, "evt_1", "waiting") is EventOutcome.APPLIED
    outbox_after_pending = len(items_of_type("outbox"))
    assert outbox_after_pending == 2  # payment.created, payment.pending
    assert _progress(tenant, payment.payment_id, "evt_2", "confirming") is EventOutcome.APPLIED
    stored = repositories.get_payment(tenant, payment.payment_id)
    assert stored is not None
    assert stored.status is PaymentStatus.PENDING
    assert stored.provider_details == {"provider_status": "confirming"}
    assert stored.version == 3  # created, pending, then the details
    # The status did not move: no event leaves for it.
    assert len(items_of_type("outbox")) == outbox_after_pending
    # The same news again changes nothing.
    assert _progress(tenant, payment.payment_id, "evt_3", "confirming") is EventOutcome.APPLIED
    assert repositories.get_payment(tenant, payment.payment_id).version == 3  # type: ignore[union-attr]
    # Once settled, a late progress notification never rewrites what the payment showed.
    _capture(tenant, payment.payment_id, "evt_4", "RCPT0003")
    assert _progress(tenant, payment.payment_id, "evt_5", "sending") is EventOutcome.APPLIED
    settled = repositories.get_payment(tenant, payment.payment_id)
    assert settled is not None
    assert settled.status is PaymentStatus.SUCCEEDED
    assert settled.provider_details == {
        "provider_status": "confirming",
        "receipt_number": "RCPT0003",
    }
