"""Stripe-shaped events and signed function-URL deliveries for the webhook tests.

Signatures come from the stripe SDK's own signing routine, not from our code.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import stripe

from payments.domain.states import PaymentStatus
from payments.services.credentials import set_provider_credentials
from payments.services.transitions import apply_transition, create_payment

WEBHOOK_SECRET = "whsec_test_integration_secret_0123456789"
SECRET_KEY = "sk_test_integration_0123456789"


def configure_stripe(tenant_id: str) -> None:
    set_provider_credentials(
        tenant_id, "stripe", {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
    )


@dataclass(frozen=True)
class OpenCheckout:
    tenant_id: str
    payment_id: str
    session_id: str
    intent_id: str
    charge_id: str
    amount: int
    currency: str = "usd"


def open_checkout(tenant_id: str, *, amount: int = 5000, suffix: str = "1") -> OpenCheckout:
    """A payment in `pending` with a Checkout session, as POST /v1/checkout leaves it."""
    payment = create_payment(
        tenant_id=tenant_id,
        payable_type="booking",
        payable_id=f"bk_{suffix}",
        amount=amount,
        currency="USD",
        provider="stripe",
        description="Massage",
    )
    apply_transition(
        tenant_id=tenant_id,
        payment_id=payment.payment_id,
        requested=PaymentStatus.PENDING,
        source="api",
        changes={"provider_ref": f"cs_test_{suffix}"},
    )
    return OpenCheckout(
        tenant_id, payment.payment_id, f"cs_test_{suffix}", f"pi_{suffix}", f"ch_{suffix}", amount
    )


def _event(event_id: str, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def _ours(checkout: OpenCheckout) -> dict[str, str]:
    return {"payment_id": checkout.payment_id, "tenant_id": checkout.tenant_id}


def session_completed(
    checkout: OpenCheckout, *, paid: bool = True, amount: int | None = None
) -> dict[str, Any]:
    return _event(
        f"evt_cs_completed_{checkout.session_id}",
        "checkout.session.completed",
        {
            "id": checkout.session_id,
            "object": "checkout.session",
            "amount_total": checkout.amount if amount is None else amount,
            "currency": checkout.currency,
            "client_reference_id": checkout.payment_id,
            "metadata": _ours(checkout),
            "mode": "payment",
            "payment_intent": checkout.intent_id,
            "payment_status": "paid" if paid else "unpaid",
            "status": "complete",
        },
    )


def intent_succeeded(checkout: OpenCheckout) -> dict[str, Any]:
    return _event(
        f"evt_pi_succeeded_{checkout.intent_id}",
        "payment_intent.succeeded",
        {
            "id": checkout.intent_id,
            "object": "payment_intent",
            "amount": checkout.amount,
            "amount_received": checkout.amount,
            "currency": checkout.currency,
            "latest_charge": checkout.charge_id,
            "metadata": _ours(checkout),
            "status": "succeeded",
        },
    )


def refund(checkout: OpenCheckout, refund_id: str, amount: int, **metadata: str) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "charge": checkout.charge_id,
        "currency": checkout.currency,
        "metadata": metadata,
        "payment_intent": checkout.intent_id,
        "status": "succeeded",
    }


def charge_refunded(
    checkout: OpenCheckout, event_id: str, refunds: list[dict[str, Any]]
) -> dict[str, Any]:
    return _event(
        event_id,
        "charge.refunded",
        {
            "id": checkout.charge_id,
            "object": "charge",
            "amount": checkout.amount,
            "amount_captured": checkout.amount,
            "amount_refunded": sum(r["amount"] for r in refunds),
            "currency": checkout.currency,
            "metadata": _ours(checkout),
            "payment_intent": checkout.intent_id,
            "refunded": sum(r["amount"] for r in refunds) == checkout.amount,
            "refunds": {"object": "list", "data": refunds, "has_more": False},
        },
    )


def dispute_created(checkout: OpenCheckout) -> dict[str, Any]:
    return _event(
        f"evt_dispute_{checkout.charge_id}",
        "charge.dispute.created",
        {
            "id": f"dp_{checkout.charge_id}",
            "object": "dispute",
            "amount": checkout.amount,
            "charge": checkout.charge_id,
            "currency": checkout.currency,
            "metadata": {},
            "payment_intent": checkout.intent_id,
            "status": "needs_response",
        },
    )


def signed_delivery(
    tenant_id: str,
    event: dict[str, Any] | bytes,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
) -> dict[str, Any]:
    """The function-URL event Lambda receives for one Stripe delivery."""
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    if signature is None:
        v1 = stripe.WebhookSignature._compute_signature(f"{stamp}.{body.decode()}", secret)
        signature = f"t={stamp},v1={v1}"
    headers = {"content-type": "application/json; charset=utf-8", "user-agent": "Stripe/1.0"}
    if signature:
        headers["stripe-signature"] = signature
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": f"/{tenant_id}",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "webhookstripe",
            "http": {
                "method": "POST",
                "path": f"/{tenant_id}",
                "protocol": "HTTP/1.1",
                "sourceIp": "3.18.12.63",
                "userAgent": "Stripe/1.0",
            },
            "requestId": "00000000-0000-0000-0000-000000000000",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }
