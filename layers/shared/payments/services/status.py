"""What the status API shows of a payment."""

from __future__ import annotations

from typing import Any

from payments.domain.events import rfc3339
from payments.store import repositories


def payment_status(tenant_id: str, payment_id: str) -> dict[str, Any] | None:
    """The payment with its refunds and history, or None when this tenant has no such payment."""
    details = repositories.get_payment_details(tenant_id, payment_id)
    if details is None:
        return None
    view = details.payment.public_view()
    view["refunds"] = [refund.public_view() for refund in details.refunds]
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
        for entry in details.history
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
