"""Stripe: hosted Checkout, refunds and webhooks, through the official SDK.

Every call uses a ``StripeClient`` bound to the tenant's own secret key (never the global
``stripe.api_key``, which would leak across tenants in a warm container) and carries an
idempotency key derived from ours, so a retried request never creates a second object.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import stripe

from payments.domain.payment import Payment
from payments.domain.refunds import RefundStatus
from payments.domain.states import PaymentStatus
from payments.money import Amount
from payments.providers.base import (
    CheckoutRequest,
    CheckoutSession,
    Credentials,
    CredentialTestResult,
    ProviderError,
    ProviderEvent,
    ProviderRejectedError,
    ProviderUnavailableError,
    ProviderUnreachableError,
    RefundObservation,
    WebhookVerificationError,
    check_signed_timestamp,
)
from payments.providers.spec import AmountNotSupportedError
from payments.providers.stripe_spec import NAME, SPEC

# Stripe's published webhook source addresses (https://stripe.com/files/ips/ips_webhooks.txt,
# https://docs.stripe.com/ips#webhook-notifications; as of May 2026). Not applied by default:
# the ready value for the StripeWebhookSourceCidrs template parameter (docs/providers/stripe.md).
PUBLISHED_WEBHOOK_SOURCE_IPS = (
    "3.18.12.63",
    "3.69.109.8",
    "3.120.168.93",
    "3.130.192.231",
    "13.235.14.237",
    "13.235.122.149",
    "18.211.135.69",
    "35.154.171.200",
    "35.157.207.129",
    "52.15.183.38",
    "54.88.130.119",
    "54.88.130.237",
    "54.187.174.169",
    "54.187.205.235",
    "54.187.216.72",
)

# Stripe refund status -> ours. requires_action is still open.
_REFUND_STATUSES = {
    "succeeded": RefundStatus.SUCCEEDED,
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
}


class StripeProvider:
    name = NAME

    def __init__(self) -> None:
        self._clients: dict[str, stripe.StripeClient] = {}

    # --- outbound --------------------------------------------------------------------------

    def _client(self, credentials: Credentials) -> stripe.StripeClient:
        secret_key = credentials.require("secret_key")
        client = self._clients.get(secret_key)
        if client is None:
            client = stripe.StripeClient(
                secret_key,
                base_addresses={"api": SPEC.api_base(credentials.values)},
                max_network_retries=2,
            )
            self._clients[secret_key] = client
        return client

    def create_customer(
        self,
        credentials: Credentials,
        *,
        email: str,
        name: str | None,
        phone: str | None,
        idempotency_key: str,
    ) -> str:
        params: dict[str, Any] = {"email": email}
        if name:
            params["name"] = name
        if phone:
            params["phone"] = phone
        with _translated_errors():
            customer = self._client(credentials).v1.customers.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        return str(customer.id)

    def create_checkout_session(
        self, credentials: Credentials, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutSession:
        payment = request.payment
        ours = {"payment_id": payment.payment_id, "tenant_id": payment.tenant_id}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": payment.currency.lower(),
                        "unit_amount": SPEC.units.to_provider(
                            int(payment.amount), payment.currency
                        ),
                        "product_data": {"name": payment.description or payment.payable_type},
                    },
                    "quantity": 1,
                }
            ],
            "client_reference_id": payment.payment_id,
            # Session metadata is not copied to the PaymentIntent or its Charge, which is what
            # refund and dispute events carry: our ids go on both.
            "metadata": {**payment.metadata, **ours},
            "payment_intent_data": {"metadata": ours},
            "expires_at": int(request.expires_at.timestamp()),
        }
        if request.success_url:
            params["success_url"] = request.success_url
        if request.cancel_url:
            params["cancel_url"] = request.cancel_url
        if request.customer.provider_customer_id:
            params["customer"] = request.customer.provider_customer_id
        elif request.customer.email:
            params["customer_email"] = request.customer.email
        with _translated_errors():
            session = self._client(credentials).v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        return CheckoutSession(
            session_id=str(session.id),
            url=str(session.url),
            expires_at=datetime.fromtimestamp(int(session.expires_at), tz=UTC),
        )

    def create_refund(
        self,
        credentials: Credentials,
        payment: Payment,
        *,
        refund_id: str,
        amount: Amount,
        reason: str | None,
        idempotency_key: str,
    ) -> RefundObservation:
        if not payment.capture_ref:
            raise ProviderRejectedError("the payment has no captured Stripe PaymentIntent")
        params: dict[str, Any] = {
            "payment_intent": payment.capture_ref,
            "amount": SPEC.units.to_provider(int(amount), payment.currency),
            "metadata": {
                "refund_id": refund_id,
                "payment_id": payment.payment_id,
                "tenant_id": payment.tenant_id,
            },
        }
        if reason:
            params["reason"] = reason
        with _translated_errors():
            refund = self._client(credentials).v1.refunds.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        return _refund_observation(refund.to_dict())

    def check_payment(
        self, credentials: Credentials, payment: Payment
    ) -> tuple[ProviderEvent, dict[str, Any]] | None:
        """What Stripe says about an open payment's session, as an event; None if still open.

        An open session past its expiry is expired at Stripe first, so that it cannot be paid
        after we have given up on it.
        """
        if not payment.provider_ref:
            return None
        with _translated_errors():
            sessions = self._client(credentials).v1.checkout.sessions
            session = sessions.retrieve(payment.provider_ref)
            if session.status == "open" and int(session.expires_at) <= int(time.time()):
                session = sessions.expire(payment.provider_ref)
        raw = session.to_dict()
        if raw.get("status") == "open":
            return None
        suffix = f"{raw.get('status')}:{raw.get('payment_status')}"
        event = translate_event(
            {
                "id": f"sweep:{payment.provider_ref}:{suffix}",
                "type": "checkout.session.expired"
                if raw.get("status") == "expired"
                else "checkout.session.completed",
                "data": {"object": raw},
            }
        )
        return event, raw

    def test_credentials(self, credentials: Credentials) -> CredentialTestResult:
        """Read the account's balance with the secret key: cheap, authenticated, and open to
        any secret key (a restricted one needs Balance: read). The webhook secret cannot be
        tried this way: the first signed delivery checks it."""
        try:
            balance = self._client(credentials).v1.balance.retrieve()
        except stripe.AuthenticationError:
            return CredentialTestResult(
                False, "invalid_credentials", "Stripe rejected the secret key (unknown or revoked)"
            )
        except stripe.PermissionError:
            return CredentialTestResult(
                False,
                "permission_denied",
                "Stripe accepted the key but it may not read the balance (a restricted key "
                "needs Balance: read)",
            )
        except stripe.StripeError:
            return CredentialTestResult(
                False, "provider_unreachable", "Stripe did not answer; test again later"
            )
        mode = "live" if balance.livemode else "test"
        return CredentialTestResult(True, "ok", f"Stripe accepted the secret key ({mode} mode)")

    # --- inbound ---------------------------------------------------------------------------

    def verify_webhook(
        self, credentials: Credentials, payload: bytes, headers: Mapping[str, str]
    ) -> ProviderEvent:
        signature = next((v for k, v in headers.items() if k.lower() == "stripe-signature"), None)
        if not signature:
            raise WebhookVerificationError("missing Stripe-Signature header")
        try:
            # The SDK checks the signature only (no tolerance): the time window, both ways, is
            # the one rule every provider shares.
            stripe.WebhookSignature.verify_header(
                payload.decode("utf-8"), signature, credentials.require("webhook_secret")
            )
        except stripe.SignatureVerificationError as error:
            raise WebhookVerificationError(str(error.user_message or error)) from None
        except UnicodeDecodeError:
            raise WebhookVerificationError("payload is not UTF-8") from None
        check_signed_timestamp(_signed_timestamp(signature), time.time())
        try:
            event = json.loads(payload)
        except ValueError:
            raise WebhookVerificationError("payload is not JSON") from None
        return translate_event(event)


def _signed_timestamp(signature_header: str) -> int:
    """The ``t=`` of a Stripe-Signature header the SDK has just verified, read as the SDK
    reads it (the first ``t`` entry), so it is the timestamp the signature covers."""
    stamps = [item.split("=", 2) for item in signature_header.split(",")]
    try:
        return int(next(parts[1] for parts in stamps if parts[0] == "t"))
    except (StopIteration, IndexError, ValueError):
        raise WebhookVerificationError("Unable to extract timestamp from header") from None


def translate_event(event: Mapping[str, Any]) -> ProviderEvent:
    """A verified Stripe event in our terms. Pure: unit-tested on Stripe's own shapes."""
    event_id = str(event.get("id", ""))
    event_type = str(event.get("type", ""))
    obj: Mapping[str, Any] = (event.get("data") or {}).get("object") or {}
    metadata: Mapping[str, Any] = obj.get("metadata") or {}
    payment_id = metadata.get("payment_id")
    base: dict[str, Any] = {
        "event_id": event_id,
        "event_type": event_type,
        "payment_id": str(payment_id) if payment_id else None,
    }
    if event_type.startswith("checkout.session."):
        base["payment_id"] = base["payment_id"] or obj.get("client_reference_id")
        refs = _refs(obj.get("id"), obj.get("payment_intent"))
        paid = obj.get("payment_status") in {"paid", "no_payment_required"}
        requested = {
            "checkout.session.completed": PaymentStatus.SUCCEEDED
            if paid
            else PaymentStatus.PENDING,
            "checkout.session.async_payment_succeeded": PaymentStatus.SUCCEEDED,
            "checkout.session.async_payment_failed": PaymentStatus.FAILED,
            "checkout.session.expired": PaymentStatus.EXPIRED,
        }.get(event_type)
        succeeded = requested is PaymentStatus.SUCCEEDED
        return ProviderEvent(
            **base,
            provider_refs=refs,
            requested_status=requested,
            capture_ref=_str(obj.get("payment_intent")) if succeeded else None,
            amount=_amount(obj.get("amount_total"), obj.get("currency")) if succeeded else None,
            currency=_currency(obj.get("currency")) if succeeded else None,
        )
    if event_type in {"payment_intent.succeeded", "payment_intent.payment_failed"}:
        succeeded = event_type == "payment_intent.succeeded"
        return ProviderEvent(
            **base,
            provider_refs=_refs(obj.get("id")),
            requested_status=PaymentStatus.SUCCEEDED if succeeded else PaymentStatus.FAILED,
            capture_ref=_str(obj.get("id")) if succeeded else None,
            amount=_amount(obj.get("amount_received"), obj.get("currency")) if succeeded else None,
            currency=_currency(obj.get("currency")) if succeeded else None,
        )
    if event_type == "charge.refunded":
        refunds = ((obj.get("refunds") or {}).get("data")) or []
        return ProviderEvent(
            **base,
            provider_refs=_refs(obj.get("payment_intent"), obj.get("id")),
            capture_ref=_str(obj.get("payment_intent")),
            refunds=tuple(_refund_observation(refund) for refund in refunds),
        )
    if event_type in {"refund.created", "refund.updated", "refund.failed"}:
        # Since API version 2022-11-15 a Charge no longer lists its refunds: these events,
        # one per refund, are what carries them (charge.refunded still does on older versions).
        return ProviderEvent(
            **base,
            provider_refs=_refs(obj.get("payment_intent"), obj.get("charge")),
            capture_ref=_str(obj.get("payment_intent")),
            refunds=(_refund_observation(obj),),
        )
    if event_type == "charge.dispute.created":
        return ProviderEvent(
            **base,
            provider_refs=_refs(obj.get("payment_intent"), obj.get("charge")),
            requested_status=PaymentStatus.DISPUTED,
        )
    return ProviderEvent(**base)


def _refund_observation(refund: Mapping[str, Any]) -> RefundObservation:
    metadata = refund.get("metadata") or {}
    return RefundObservation(
        provider_refund_id=str(refund["id"]),
        amount=SPEC.units.from_provider(int(refund["amount"]), str(refund.get("currency", ""))),
        status=_REFUND_STATUSES.get(str(refund.get("status")), RefundStatus.PENDING),
        our_refund_id=_str(metadata.get("refund_id")),
    )


def _refs(*values: object) -> tuple[str, ...]:
    return tuple(str(value) for value in values if isinstance(value, str) and value)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _amount(value: object, currency: object) -> int | None:
    """A Stripe amount in our minor units (Stripe counts ISK in hundredths)."""
    amount = _int(value)
    if amount is None or not isinstance(currency, str):
        return amount
    try:
        return SPEC.units.from_provider(amount, currency)
    except AmountNotSupportedError:
        # Not an amount we can have asked for: left as Stripe said it, it cannot equal the
        # payment's, so the amount check refuses the event.
        return amount


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _currency(value: object) -> str | None:
    return value.upper() if isinstance(value, str) else None


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Stripe's exceptions -> ours: rejected (final), unavailable (credentials), unreachable."""
    try:
        yield
    except (stripe.AuthenticationError, stripe.PermissionError):
        raise ProviderUnavailableError("Stripe rejected this tenant's credentials") from None
    except (stripe.InvalidRequestError, stripe.CardError) as error:
        message = str(error.user_message or "Stripe refused the request")
        raise ProviderRejectedError(message, provider_code=error.code) from None
    except stripe.IdempotencyError:
        raise ProviderRejectedError(
            "Stripe saw this idempotency key with other parameters",
            provider_code="idempotency_error",
        ) from None
    except stripe.StripeError:
        raise ProviderUnreachableError("Stripe did not answer; retry with the same key") from None


__all__ = ["NAME", "ProviderError", "StripeProvider", "translate_event"]
