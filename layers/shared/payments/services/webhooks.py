"""Receiving provider webhooks on a Lambda function URL (path ``/{tenant_id}``, or
``/{tenant_id}/{token}`` for a provider whose spec gives each payment its own URL).

Provider-agnostic: the adapter verifies and translates; everything else (size limit, tenant,
the provider's source allow-list, recording rejected deliveries with their raw payload within
bounds, applying) is the same for every provider. A provider whose notifications are unsigned
declares it in its spec, and each of them is then checked before it counts: its payment must
exist, the path's token must be that payment's (``webhook_path_token``), and the adapter must
confirm it with the provider (``webhook_confirmation``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from payments.config import get_settings
from payments.logs import function_logger
from payments.observability import Metric, bind, count
from payments.providers import get_spec, webhook_confirmer, webhooks
from payments.providers.base import (
    Credentials,
    ProviderError,
    ProviderEvent,
    ProviderUnavailableError,
    WebhookVerificationError,
)
from payments.providers.spec import ProviderSpec, WebhookAnswer
from payments.services.credentials import provider_credentials
from payments.services.provider_events import (
    EventOutcome,
    apply_provider_event,
    locate_payment,
)
from payments.store import rate_limits, webhook_stats
from payments.store.state_change import InboxRecord, record_inbox

MAX_BODY_BYTES = 256 * 1024
_TENANT_PATH = re.compile(r"^/(ten_[A-Za-z0-9]{1,64})(?:/([A-Za-z0-9_-]{32,128}))?/?$")
# The fixed-window counter (store/rate_limits.py) that bounds stored rejections per tenant.
REJECTION_STORAGE_OPERATION = "webhook_rejection_storage"
REJECTION_STORAGE_WINDOW_SECONDS = 3600


def new_webhook_token() -> tuple[str, str]:
    """A single-purpose token for one payment's notification URL, and the digest to store
    (Payment.webhook_token_hash): 256 random bits, so it cannot be guessed."""
    token = secrets.token_urlsafe(32)
    return token, webhook_token_digest(token)


def webhook_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def payment_webhook_url(provider: str, tenant_id: str, token: str) -> str | None:
    """The notification URL of one payment (``webhook_path_token`` providers); None when this
    deployment does not say where the provider's webhook function is."""
    base = get_settings().provider_webhook_url(provider)
    return f"{base.rstrip('/')}/{tenant_id}/{token}" if base else None


@dataclass(slots=True)
class _Delivery:
    """One delivery while it is handled: what _answer needs to count it."""

    spec: ProviderSpec
    started: float  # time.monotonic() when receive_webhook began
    tenant_id: str | None = None  # from the path, once it matched
    # Whether the tenant has this provider set up (None: not looked up yet). Only such a
    # tenant's deliveries are counted in its statistics: made-up tenant paths write nothing.
    configured: bool | None = None
    reason: str | None = None  # why it was rejected, as recorded (the adapter's words)


def receive_webhook(provider: str, event: dict[str, Any]) -> dict[str, Any]:
    """Handle one function-URL delivery; answers as the provider expects (2xx = stop retrying),
    in the reply shape its spec declares."""
    delivery = _Delivery(get_spec(provider), time.monotonic())
    bind(provider=provider)
    request = event.get("requestContext", {}).get("http", {})
    if str(request.get("method", "POST")).upper() != "POST":
        return _answer(delivery, 405, "method_not_allowed")
    match = _TENANT_PATH.match(str(event.get("rawPath", "")))
    if match is None:
        return _answer(delivery, 404, "unknown_endpoint")
    tenant_id, path_token = match.group(1), match.group(2)
    delivery.tenant_id = tenant_id
    spec = delivery.spec
    if (path_token is not None) != spec.webhook_path_token:
        return _answer(delivery, 404, "unknown_endpoint")
    try:
        body = _raw_body(event)
    except ValueError:
        return _answer(delivery, 400, "malformed_body")
    if len(body) > MAX_BODY_BYTES:
        return _answer(delivery, 413, "payload_too_large")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    source_ip = str(request.get("sourceIp", ""))
    if not _source_allowed(provider, source_ip):
        function_logger().warning(
            "webhook from outside the provider's source networks",
            extra={"provider": provider, "tenant_id": tenant_id, "source_ip": source_ip},
        )
        delivery.configured = _credentials(tenant_id, provider) is not None
        if delivery.configured:
            _record_rejection(provider, tenant_id, body, f"source_not_allowed: {source_ip}")
        return _answer(delivery, 403, "source_not_allowed")
    credentials = _credentials(tenant_id, provider)
    delivery.configured = credentials is not None
    if credentials is None:
        # Unknown tenant or provider not set up: nothing to verify with. Not stored, so that
        # anonymous traffic to made-up tenant paths cannot fill the table.
        function_logger().warning(
            "webhook for an unconfigured tenant", extra={"provider": provider}
        )
        return _answer(delivery, 400, "signature_verification_failed")
    try:
        translated = webhooks(provider).verify_webhook(credentials, body, headers)
    except WebhookVerificationError as error:
        _record_rejection(provider, tenant_id, body, error.reason)
        function_logger().warning(
            "webhook rejected", extra={"provider": provider, "reason": error.reason}
        )
        delivery.reason = error.reason
        return _answer(delivery, 400, "signature_verification_failed")
    if spec.webhook_path_token or spec.webhook_confirmation is not None:
        try:
            translated = _confirmed(spec, tenant_id, credentials, translated, path_token)
        except WebhookVerificationError as error:
            _record_rejection(provider, tenant_id, body, error.reason)
            function_logger().warning(
                "webhook not confirmed", extra={"provider": provider, "reason": error.reason}
            )
            delivery.reason = error.reason
            return _answer(delivery, 400, "not_confirmed")
    bind(provider_event_id=translated.event_id)
    result = apply_provider_event(
        tenant_id=tenant_id,
        provider=provider,
        event=translated,
        raw_payload=body.decode("utf-8"),
    )
    function_logger().info(
        "webhook processed",
        extra={
            "provider": provider,
            "event_id": translated.event_id,
            "event_type": translated.event_type,
            "outcome": result.outcome.value,
            "reason": result.reason,
        },
    )
    delivery.reason = result.reason
    return _answer(delivery, 200, "received", outcome=result.outcome)


def _confirmed(
    spec: ProviderSpec,
    tenant_id: str,
    credentials: Credentials,
    event: ProviderEvent,
    path_token: str | None,
) -> ProviderEvent:
    """The event of an unsigned notification once it has passed every check, in order: its
    payment exists, the URL's token is that payment's, and the provider confirms it."""
    payment = locate_payment(tenant_id, spec.name, event)
    if payment is None:
        raise WebhookVerificationError("unknown_payment")
    if spec.webhook_path_token:
        expected = payment.webhook_token_hash
        if (
            expected is None
            or path_token is None
            or not hmac.compare_digest(expected, webhook_token_digest(path_token))
        ):
            raise WebhookVerificationError("token_mismatch")
    if spec.webhook_confirmation is None:
        return event
    try:
        return webhook_confirmer(spec.name).confirm_webhook(credentials, payment, event)
    except ProviderError as error:
        # No answer to confirm with: nothing moves now; the sweeper asks again later.
        raise WebhookVerificationError(f"not_confirmed: {error.code}") from None


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise ValueError("body is not base64") from error
    return str(body).encode("utf-8")


def _credentials(tenant_id: str, provider: str) -> Credentials | None:
    try:
        return provider_credentials(tenant_id, provider)
    except ProviderUnavailableError:
        return None


def _source_allowed(provider: str, source_ip: str) -> bool:
    """True when the provider declares no source networks, or ``source_ip`` is in one."""
    networks = get_settings().webhook_source_networks(provider)
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return False  # no usable source address: not from a listed network
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _record_rejection(provider: str, tenant_id: str, body: bytes, reason: str) -> None:
    """Keep a refused delivery for audit, within bounds an anonymous sender cannot push.

    The inbox id is the payload's hash, so the same body is stored once (the conditional put
    of a repeat is a no-op), and a per-tenant hourly counter, taken first with one conditional
    update, caps how many are stored. Beyond the cap the delivery is only logged.
    """
    digest = hashlib.sha256(body).hexdigest()
    cap = get_settings().webhook_rejections_per_tenant_hour
    allowance = rate_limits.take(
        tenant_id,
        REJECTION_STORAGE_OPERATION,
        capacity=cap,
        window_seconds=REJECTION_STORAGE_WINDOW_SECONDS,
    )
    if not allowance.allowed:
        function_logger().warning(
            "rejected webhook not stored: the tenant's hourly allowance is used up",
            extra={
                "provider": provider,
                "tenant_id": tenant_id,
                "payload_sha256": digest,
                "rejections_stored_per_hour": cap,
                "rejection_dropped": True,
            },
        )
        return
    record_inbox(
        InboxRecord(
            provider=provider,
            event_id=f"rejected_{digest}",
            tenant_id=tenant_id,
            event_type="unverified",
            payload=body.decode("utf-8", errors="replace"),
            status="rejected",
            reason=reason[:500],
        )
    )


# What each refusal tells the sender: enough to fix a misconfiguration, nothing about why a
# signature failed (that detail is in our log and the recorded rejection, not for a forger).
_REFUSALS = {
    "method_not_allowed": "webhooks are delivered with POST",
    "unknown_endpoint": "the path is not a webhook endpoint of this provider",
    "malformed_body": "the body is not valid base64",
    "payload_too_large": f"the body is larger than {MAX_BODY_BYTES} bytes",
    "source_not_allowed": "deliveries are not accepted from this address",
    "signature_verification_failed": "the signature could not be verified",
    "not_confirmed": "the notification could not be confirmed",
}


# Every delivery ends in _answer: it counts it once, as received and by how it ended, in the
# CloudWatch metrics and in the tenant's statistics (store/webhook_stats.py).
_OUTCOME_METRICS = {
    EventOutcome.APPLIED: Metric.WEBHOOKS_APPLIED,
    EventOutcome.DUPLICATE: Metric.WEBHOOKS_DUPLICATE,
    EventOutcome.IGNORED: Metric.WEBHOOKS_IGNORED,
}


def _answer(
    delivery: _Delivery, status: int, code: str, *, outcome: EventOutcome | None = None
) -> dict[str, Any]:
    spec = delivery.spec
    count(Metric.WEBHOOKS_RECEIVED, provider=spec.name)
    if outcome is None or outcome is EventOutcome.REJECTED:
        reason = code if outcome is None else "event_rejected"
        count(Metric.WEBHOOKS_REJECTED, provider=spec.name)
        count(Metric.WEBHOOKS_REJECTED_BY_REASON, provider=spec.name, reason=reason)
    else:
        count(_OUTCOME_METRICS[outcome], provider=spec.name)
    _count_for_tenant(delivery, code, outcome)
    reply = spec.webhook_reply(
        WebhookAnswer(
            status=status,
            code=code,
            message=_REFUSALS.get(code, code),
            outcome=outcome.value if outcome is not None else None,
        )
    )
    return {
        "statusCode": reply.status,
        "headers": {"Content-Type": reply.content_type},
        "body": reply.body,
    }


def _count_for_tenant(delivery: _Delivery, code: str, outcome: EventOutcome | None) -> None:
    """Add the delivery to its tenant's statistics: one UpdateItem, after everything else,
    that never changes the answer. Deliveries to no tenant, or to one that has not set the
    provider up, are counted only in the metrics above."""
    tenant_id = delivery.tenant_id
    if tenant_id is None:
        return
    provider = delivery.spec.name
    try:
        if delivery.configured is None:
            # Refused before the credentials were read (malformed, too large, wrong path form):
            # counted only for a tenant that has the provider set up.
            delivery.configured = _credentials(tenant_id, provider) is not None
        if not delivery.configured:
            return
        if outcome is None or outcome is EventOutcome.REJECTED:
            # A refusal counts under its code; an event we refused, under why (amount_mismatch).
            reason = code if outcome is None else (delivery.reason or "event_rejected")
            detail = f"{reason}: {delivery.reason}" if outcome is None and delivery.reason else None
            kind = EventOutcome.REJECTED.value
        else:
            reason, detail, kind = None, None, outcome.value
        webhook_stats.record_delivery(
            tenant_id,
            provider,
            outcome=kind,
            reason=reason,
            detail=detail,
            elapsed_ms=(time.monotonic() - delivery.started) * 1000,
            at=datetime.now(UTC),
        )
    except Exception:  # noqa: BLE001 - statistics must never fail a delivery
        count(Metric.WEBHOOK_STATS_FAILURES, provider=provider)
        function_logger().exception(
            "webhook statistics not recorded", extra={"provider": provider, "tenant_id": tenant_id}
        )
