"""The payments API's callbacks: verified with ``standardwebhooks``, applied once per
``webhook-id``, every delivery recorded, and the test switches that play an unhealthy endpoint."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from standardwebhooks import Webhook, WebhookVerificationError

Json = dict[str, Any]

# (type, the object the callback is about, e.g. data.payment) from a verified payload; raises
# InvalidWebhookError when the payload is not a callback the app can read.
Parse = Callable[[Json], tuple[str, Json | None]]
# Acts on a parsed callback with the app's lock held; returns what happened, for the record.
Apply = Callable[[str, Json | None], str]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class InvalidWebhookError(Exception):
    """Not a callback from the payments API: bad or missing signature, stale timestamp, ..."""


class WebhookVerifier:
    """Verifies callbacks with any of the endpoint's secrets (two during a secret rotation).

    During a rotation the API signs every callback with the old and the new secret
    (``webhook-signature: v1,<old> v1,<new>``); ``standardwebhooks`` accepts the message when any
    ``v1`` entry matches its one secret, so whichever secret this app has, it verifies.
    """

    def __init__(self, secrets_in_use: list[str]) -> None:
        if not secrets_in_use:
            raise ValueError("at least one webhook secret (whsec_...) is needed")
        self._webhooks = [Webhook(secret) for secret in secrets_in_use]

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Json:
        """The verified payload; raises InvalidWebhookError. ``body``: the exact bytes received."""
        plain_headers = {name.lower(): value for name, value in headers.items()}
        problem = "no secret matched"
        for webhook in self._webhooks:
            try:
                payload = webhook.verify(body, plain_headers)
            except WebhookVerificationError as error:
                problem = str(error)  # wrong secret, stale timestamp or missing headers
                continue
            except ValueError as error:
                # standardwebhooks 1.1 raises ValueError (not WebhookVerificationError) for a
                # malformed webhook-signature entry, a non-UTF-8 body or a body that is not JSON.
                raise InvalidWebhookError(f"malformed callback: {error}") from None
            if not isinstance(payload, dict):
                raise InvalidWebhookError("the callback body is not a JSON object")
            return cast(Json, payload)
        raise InvalidWebhookError(problem)


class CallbackInbox:
    """One app's callback endpoint: verify, dedupe on ``webhook-id``, apply, record.

    ``lock`` is the app's own lock, the one that guards its objects: the check of the id, the
    change ``apply`` makes and the record of the id happen under it in one step, so two
    concurrent deliveries of one id apply once. (A real app keeps the ids in its database, in
    the same transaction as the change.)
    """

    def __init__(self, webhook_secrets: list[str], lock: threading.Lock) -> None:
        self._verifier = WebhookVerifier(webhook_secrets)
        self._lock = lock  # guards everything below, and the app's objects
        self._processed_webhook_ids: set[str] = set()
        self._deliveries: list[Json] = []
        self._fail_next: tuple[int, int] = (0, 500)  # (count, status)
        self._gone = False

    def receive(self, body: bytes, headers: Mapping[str, str], parse: Parse, apply: Apply) -> int:
        """Handle one delivery; returns the HTTP status to answer: 204 when handled (or a
        duplicate), 400 when not verifiable, or what a test switch forces."""
        headers = {name.lower(): value for name, value in headers.items()}
        webhook_id = headers.get("webhook-id")
        with self._lock:
            forced = self._forced_failure_locked()
            if forced is not None:
                self._record_locked(webhook_id, "forced_failure", forced)
                return forced
        try:
            payload = self._verifier.verify(body, headers)  # needs a non-empty webhook-id
            event_type, subject = parse(payload)
        except InvalidWebhookError as error:
            with self._lock:
                self._record_locked(webhook_id, "rejected", 400, detail=str(error))
            return 400
        message_id = headers["webhook-id"]
        with self._lock:  # check, apply and remember the id in one step: never applied twice
            if message_id in self._processed_webhook_ids:
                self._record_locked(message_id, "duplicate", 204, event_type=event_type)
                return 204
            detail = apply(event_type, subject)
            self._processed_webhook_ids.add(message_id)
            self._record_locked(
                message_id,
                "verified",
                204,
                event_type=event_type,
                detail=detail,
                provider=str(subject["provider"]) if subject and "provider" in subject else None,
            )
        return 204

    # ----------------------------------------------------------------- test switches

    def set_fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._fail_next = (count, status)

    def set_gone(self, gone: bool = True) -> None:
        with self._lock:
            self._gone = gone

    def deliveries(self) -> list[Json]:
        with self._lock:
            return [dict(delivery) for delivery in self._deliveries]

    def _forced_failure_locked(self) -> int | None:
        if self._gone:
            return 410
        count, status = self._fail_next
        if count > 0:
            self._fail_next = (count - 1, status)
            return status
        return None

    def _record_locked(
        self,
        webhook_id: str | None,
        outcome: str,
        status: int,
        *,
        event_type: str | None = None,
        detail: str | None = None,
        provider: str | None = None,
    ) -> None:
        self._deliveries.append(
            {
                "webhook_id": webhook_id,
                "outcome": outcome,  # verified | duplicate | rejected | forced_failure
                "status": status,
                "type": event_type,
                "detail": detail,
                "provider": provider,  # the verified callback's subject's provider, if any
                "received_at": now(),
            }
        )
