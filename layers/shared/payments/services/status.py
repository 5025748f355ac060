"""What the status API shows of a payment."""

from __future__ import annotations

from typing import Any

from payments.domain.events import rfc3339
from payments.store import repositories


def payment_status(tenant_id: str, payment_id: str) -> dict[str, Any] | None:
    """The payment with its history, or None when this tenant has no such payment."""
    payment = repositories.get_payment(tenant_id, payment_id)
    if payment is None:
        return None
    history = repositories.payment_history(payment_id)
    view = payment.public_view()
    view["history"] = [
        {
            "from_status": entry.from_status,
            "requested_status": entry.requested_status,
            "to_status": entry.to_status,
            "applied": entry.applied,
            "reason": entry.reason,
            "source": entry.source,
            "occurred_at": rfc3339(entry.occurred_at),
        }
        for entry in history
    ]
    return view


def payments_for_payable(
    tenant_id: str, payable_type: str, payable_id: str, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    page = repositories.list_payments_for_payable(
        tenant_id, payable_type, payable_id, limit=limit, cursor=cursor
    )
    return {
        "data": [payment.public_view() for payment in page.payments],
        "next_cursor": page.next_cursor,
    }
