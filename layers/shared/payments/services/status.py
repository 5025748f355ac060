"""What the status API shows of a payment."""

from __future__ import annotations

from typing import Any

from payments.domain.events import rfc3339
from payments.domain.states import OPEN_STATUSES
from payments.providers import SPECS, get_spec
from payments.providers.base import ProviderError
from payments.providers.spec import Capability
from payments.store import repositories


def payment_status(tenant_id: str, payment_id: str) -> dict[str, Any] | None:
    """The payment with its refunds and history, or None when this tenant has no such payment."""
    details = repositories.get_payment_details(tenant_id, payment_id)
    if details is None:
        return None
    return details_view(details)


def details_view(details: repositories.PaymentDetails) -> dict[str, Any]:
    """The payment view with its refunds and history (GET /v1/payments/{id})."""
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


def refreshed_payment_status(tenant_id: str, payment_id: str) -> dict[str, Any] | None:
    """The payment after asking its provider what became of it (when it is open and the
    provider can be asked), with what that did under ``refresh``. Rate-limited per tenant."""
    payment = repositories.get_payment(tenant_id, payment_id)
    if payment is None:
        return None
    refresh: dict[str, Any]
    if payment.status not in OPEN_STATUSES:
        refresh = {"outcome": "not_open"}
    elif Capability.SWEEP not in get_spec(payment.provider).capabilities:
        refresh = {"outcome": "unavailable", "code": "refresh_not_supported"}
    else:
        # The refresh path's own modules (the provider event pipeline, credentials, rate
        # limits): loaded by the first refresh, so a plain read never pays for them.
        from payments.services.rate_limits import CostlyOperation, enforce_rate_limit
        from payments.services.sweeper import settle_from_provider

        enforce_rate_limit(tenant_id, CostlyOperation.PAYMENT_REFRESH)
        try:
            settled = settle_from_provider(payment)
        except ProviderError as error:
            refresh = {"outcome": "unavailable", "code": error.code}
        else:
            refresh = {"outcome": "still_open" if settled is None else "settled"}
    view = payment_status(tenant_id, payment_id)
    if view is not None:
        view["refresh"] = refresh
    return view


def payments_by_provider_reference(tenant_id: str, reference: str) -> dict[str, Any]:
    """The tenant's payment that a provider knows by ``reference`` (a Checkout Session id, an
    M-PESA CheckoutRequestID...), as a page of at most one."""
    for name in sorted(SPECS):
        payment = repositories.find_payment_by_provider_ref(tenant_id, name, reference)
        if payment is not None:
            return {"data": [payment.public_view()], "next_cursor": None}
    return {"data": [], "next_cursor": None}
