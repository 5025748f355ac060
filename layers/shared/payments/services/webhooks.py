"""Receiving provider webhooks on a Lambda function URL (path ``/{tenant_id}``).

Provider-agnostic: the adapter verifies and translates; everything else (size limit, tenant,
recording rejected deliveries with their raw payload, applying) is the same for every provider.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Any

from aws_lambda_powertools import Logger

from payments.providers import get_provider
from payments.providers.base import ProviderUnavailableError, WebhookVerificationError
from payments.services.credentials import provider_credentials
from payments.services.provider_events import EventOutcome, apply_provider_event
from payments.store.state_change import InboxRecord, record_inbox

logger = Logger(child=True)

MAX_BODY_BYTES = 256 * 1024
_TENANT_PATH = re.compile(r"^/(ten_[A-Za-z0-9]{1,64})/?$")


def receive_webhook(provider: str, event: dict[str, Any]) -> dict[str, Any]:
    """Handle one function-URL delivery; answers as the provider expects (2xx = stop retrying)."""
    request = event.get("requestContext", {}).get("http", {})
    if str(request.get("method", "POST")).upper() != "POST":
        return _answer(405, "method_not_allowed")
    match = _TENANT_PATH.match(str(event.get("rawPath", "")))
    if match is None:
        return _answer(404, "unknown_endpoint")
    tenant_id = match.group(1)
    try:
        body = _raw_body(event)
    except ValueError:
        return _answer(400, "malformed_body")
    if len(body) > MAX_BODY_BYTES:
        return _answer(413, "payload_too_large")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    adapter = get_provider(provider)
    try:
        credentials = provider_credentials(tenant_id, provider)
    except ProviderUnavailableError:
        # Unknown tenant or provider not set up: nothing to verify with. Not stored, so that
        # anonymous traffic to made-up tenant paths cannot fill the table.
        logger.warning("webhook for an unconfigured tenant", extra={"provider": provider})
        return _answer(400, "signature_verification_failed")
    try:
        translated = adapter.verify_webhook(credentials, body, headers)
    except WebhookVerificationError as error:
        _record_rejection(provider, tenant_id, body, error.reason)
        logger.warning("webhook rejected", extra={"provider": provider, "reason": error.reason})
        return _answer(400, "signature_verification_failed")
    result = apply_provider_event(
        tenant_id=tenant_id,
        provider=provider,
        event=translated,
        raw_payload=body.decode("utf-8"),
    )
    logger.info(
        "webhook processed",
        extra={
            "provider": provider,
            "event_id": translated.event_id,
            "event_type": translated.event_type,
            "outcome": result.outcome.value,
            "reason": result.reason,
        },
    )
    return _answer(200, "received", outcome=result.outcome)


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise ValueError("body is not base64") from error
    return str(body).encode("utf-8")


def _record_rejection(provider: str, tenant_id: str, body: bytes, reason: str) -> None:
    record_inbox(
        InboxRecord(
            provider=provider,
            event_id=f"rejected_{uuid.uuid4().hex}",
            tenant_id=tenant_id,
            event_type="unverified",
            payload=body.decode("utf-8", errors="replace"),
            status="rejected",
            reason=reason[:500],
        )
    )


def _answer(status: int, code: str, *, outcome: EventOutcome | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"received": True} if status == 200 else {"error": {"code": code}}
    if outcome is not None:
        body["outcome"] = outcome.value
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
