"""GET /v1/payments/{id}/activity: everything that happened to one payment, on one page.

The payment with its refunds and history (one Query of its item collection), its ledger
entries (one filtered Query per ledger shard its entries can be in), the provider events that
moved it (their inbox records, in one BatchGetItem, without payloads), its outbox events (one
Query of the log index) and each event's callback deliveries with their attempts
(services.callbacks.deliveries_of_events). Bounded: a handful of calls plus one per delivery.
"""

from __future__ import annotations

from typing import Any

from payments.domain.events import rfc3339
from payments.domain.payment import render_amount
from payments.domain.refunds import refundable_amount
from payments.providers import get_spec
from payments.services import status
from payments.services.callbacks import deliveries_of_events
from payments.store import activity_log, repositories
from payments.store.inbox import inbox_id
from payments.store.mapping import stored_amount
from payments.store.models import InboxItem

_INBOX_FIELDS = [
    "provider",
    "event_id",
    "event_type",
    "status",
    "reason",
    "received_at",
    "tenant_id",
]
MAX_PROVIDER_EVENTS = 100


def payment_activity(tenant_id: str, payment_id: str) -> dict[str, Any] | None:
    """The activity page of the tenant's payment; None when it has no such payment."""
    details = repositories.get_payment_details(tenant_id, payment_id)
    if details is None:
        return None
    payment = details.payment
    customer = payment.customer
    spec = get_spec(payment.provider)
    shard_keys = [payment.payment_id]
    if spec.settlement is not None:
        party = spec.settlement.party(payment)
        if party:
            shard_keys.append(party)
    entries = repositories.payment_journal_entries(
        tenant_id, payment_id, since=payment.created_at, shard_keys=shard_keys
    )
    event_ids = [entry.provider_event_id for entry in details.history if entry.provider_event_id]
    events = activity_log.payment_events(tenant_id, payment_id)
    deliveries = deliveries_of_events(tenant_id, [event.event_id for event in events])
    return {
        "payment": status.details_view(details),
        "customer": {"name": customer.name, "email": customer.email, "phone": customer.phone}
        if (customer.name or customer.email or customer.phone)
        else None,
        "amounts": {
            "amount": render_amount(payment.amount),
            "captured": render_amount(payment.amount_captured),
            "refunded": render_amount(payment.amount_refunded),
            "refund_pending": render_amount(payment.amount_refund_pending),
            "refundable": render_amount(refundable_amount(payment)),
        },
        "ledger": [
            {
                "entry_id": entry.entry_id,
                "description": entry.description,
                "created_at": rfc3339(entry.created_at),
                "lines": [
                    {
                        "account": line.account,
                        "currency": line.currency,
                        "debit": render_amount(stored_amount(line.currency, line.debit)),
                        "credit": render_amount(stored_amount(line.currency, line.credit)),
                    }
                    for line in entry.lines
                ],
            }
            for entry in entries
        ],
        "provider_events": _provider_events(tenant_id, payment.provider, event_ids),
        "events": [
            {
                "event_id": event.event_id,
                "type": event.event_type,
                "occurred_at": rfc3339(event.created_at),
                "deliveries": deliveries.get(event.event_id, []),
            }
            for event in events
        ],
    }


def _provider_events(tenant_id: str, provider: str, event_ids: list[str]) -> list[dict[str, Any]]:
    """The inbox records of the provider events that moved the payment, oldest first."""
    unique = list(dict.fromkeys(event_ids))[:MAX_PROVIDER_EVENTS]
    if not unique:
        return []
    keys = [InboxItem.key(provider, tenant_id, event_id) for event_id in unique]
    records = [
        item
        for item in InboxItem.batch_get(keys, attributes_to_get=["pk", "sk", *_INBOX_FIELDS])
        if item.tenant_id == tenant_id
    ]
    records.sort(key=lambda item: (item.received_at, item.event_id))
    return [
        {
            "id": inbox_id(item.provider, item.event_id),
            "provider": item.provider,
            "event_id": item.event_id,
            "event_type": item.event_type,
            "status": item.status,
            "reason": item.reason,
            "received_at": rfc3339(item.received_at),
        }
        for item in records
    ]


__all__ = ["payment_activity"]
