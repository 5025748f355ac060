"""Stripe `checkout.session.completed` deliveries, signed with the stripe SDK's own routine."""

from __future__ import annotations

import json
import time
from typing import Any

import stripe


def session_completed(
    *,
    event_id: str,
    session_id: str,
    payment_id: str,
    tenant_id: str,
    amount: int,
    currency: str,
    intent_id: str,
) -> bytes:
    """The body Stripe sends when a Checkout session of ours is paid (a paid card session)."""
    ours = {"payment_id": payment_id, "tenant_id": tenant_id}
    event = {
        "id": event_id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": amount,
                "amount_total": amount,
                "client_reference_id": payment_id,
                "currency": currency.lower(),
                "customer": None,
                "customer_details": {"email": "customer@example.com", "name": None},
                "livemode": False,
                "metadata": ours,
                "mode": "payment",
                "payment_intent": intent_id,
                "payment_status": "paid",
                "status": "complete",
                "url": None,
            }
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "checkout.session.completed",
    }
    return json.dumps(event).encode()


def signature_header(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for ``body``: t=<unix time>,v1=<HMAC-SHA256 of "t.body">."""
    stamp = int(time.time()) if timestamp is None else timestamp
    v1 = stripe.WebhookSignature._compute_signature(f"{stamp}.{body.decode()}", secret)
    return f"t={stamp},v1={v1}"


def delivery_headers(body: bytes, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "Stripe-Signature": signature_header(body, secret),
    }


def function_url_event(
    sample: dict[str, Any], tenant_id: str, body: bytes, secret: str
) -> dict[str, Any]:
    """``sample`` (events/webhook_stripe/...) delivering ``body`` to the tenant's path."""
    event = json.loads(json.dumps(sample))
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/{tenant_id}"
    event["headers"] = {k.lower(): v for k, v in delivery_headers(body, secret).items()}
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    event["body"] = body.decode()
    event["isBase64Encoded"] = False
    return event
