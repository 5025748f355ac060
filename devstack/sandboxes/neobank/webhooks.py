"""How registrations and payments move, and the webhook the bank signs for every move.

A webhook is a POST of compact UTF-8 JSON to the client's ``webhook_url`` (loopback only) with
``X-Neo-Timestamp`` (unix seconds) and ``X-Neo-Signature`` (base64 RSASSA-PKCS1-v1_5 / SHA-256
by the bank's key over ``TIMESTAMP "." BODY``), signed afresh at every attempt. One not
answered 2xx is sent again after each pause of ``WEBHOOK_RETRY_BACKOFF``, then given up; every
copy is recorded on its object with each attempt's answer.

A payment: ``PENDING`` -> ``SUCCESS`` (cleared) -> ``SETTLED`` (T+2); ``FAILED`` from
``PENDING`` (refused) or ``SUCCESS`` (a reversal). ``SETTLED`` from ``PENDING`` only when forced
(then no ``SUCCESS`` is told). A registration: ``pending`` -> ``verified`` or ``rejected``.

The client's ``ChaosSettings`` add copies, each queued before the genuine one (which is always
sent): unsigned, signed with another key, or signed by the bank 301 s in the past; with
``duplicate_webhooks`` a second genuine copy follows; with ``settled_before_success`` a payment
cleared is settled at once and SETTLED's webhook goes before SUCCESS's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.sandboxes.kit import Delivery, Json, Outbox, Signer
from devstack.sandboxes.neobank.core import NeoBankCore
from devstack.sandboxes.neobank.errors import INVALID_TRANSITION, NeoBankError, invalid, not_found
from devstack.sandboxes.neobank.objects import (
    FAILED,
    PENDING,
    PENDING_REGISTRATION,
    REGISTRATION_WEBHOOK_STATUS,
    REJECTED,
    SETTLED,
    SUCCESS,
    VERIFIED,
    Client,
    Payment,
    Registration,
    Webhook,
    now,
    rfc3339,
)
from devstack.sandboxes.neobank.signing import new_private_key, sign, webhook_message

WEBHOOK_RETRY_BACKOFF = (0.2, 0.5)  # seconds before each retry; then the webhook is given up
WEBHOOK_TIMEOUT_SECONDS = 10.0
STALE_WEBHOOK_AGE_SECONDS = 301
_HEADERS = {"Content-Type": "application/json", "User-Agent": "NEO-Bank-Webhooks/1.0 (sandbox)"}


def payment_body(payment: Payment, status: str, at: float) -> Json:
    return {
        "type": "payment.status",
        "tx_id": payment.tx_id,
        "cprn": payment.cprn,
        "status": status,
        "amount": payment.amount,
        "currency": payment.currency,
        "reference": payment.reference,
        "occurred_at": rfc3339(at),
    }


def registration_body(registration: Registration) -> Json:
    return {
        "type": "registration.status",
        "cprn": registration.cprn,
        "status": REGISTRATION_WEBHOOK_STATUS[registration.status],
        "reference": registration.reference,
    }


def _unschedule(payment: Payment) -> None:
    """Cancel the payment's scheduled move (a move made sooner makes it pointless)."""
    if payment.cancel_scheduled is not None:
        payment.cancel_scheduled()
        payment.cancel_scheduled = None


def _conflict(message: str) -> NeoBankError:
    return NeoBankError(409, INVALID_TRANSITION, message)


class Webhooks(NeoBankCore):
    """Moving registrations and payments, and sending their webhooks through the kit's outbox."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._outbox: Outbox[Webhook] = Outbox(
            "neobank-sandbox-webhooks",
            self._webhook_finished,
            retry_backoff=WEBHOOK_RETRY_BACKOFF,
            timeout=WEBHOOK_TIMEOUT_SECONDS,
        )
        self._forger_key: rsa.RSAPrivateKey | None = None

    def on_stop(self) -> None:
        self._outbox.stop()

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """True once no webhook is queued, in flight or waiting to be retried, and no move is
        scheduled (a pending verification, an auto clear or settlement)."""
        return self._outbox.wait_idle(timeout)

    # ----------------------------------------------------------------- registrations

    def decide_registration(self, cprn: str, status: str) -> Registration:
        """A pending registration ``VERIFIED`` or ``REJECTED`` now, with its webhook."""
        outcome = status.lower() if isinstance(status, str) else ""
        if outcome not in (VERIFIED, REJECTED):
            raise invalid("status", "must be VERIFIED or REJECTED")
        with self._lock:
            registration = self._registrations.get(cprn)
            if registration is None:
                raise not_found(f"no such registration: {cprn}")
            if registration.status != PENDING_REGISTRATION:
                raise _conflict(f"registration {cprn} is already {registration.status}")
            self._decide(registration, outcome)
            return registration

    def _decide(self, registration: Registration, outcome: str) -> None:
        """(under the lock)"""
        if registration.cancel_scheduled is not None:
            registration.cancel_scheduled()
            registration.cancel_scheduled = None
        registration.status = outcome
        registration.decided_at = now()
        client = self._clients[registration.client_id]
        self._send(client, registration.webhooks, [registration_body(registration)])

    def _decide_later(self, registration: Registration, delay: float, outcome: str) -> None:
        def decide() -> None:
            with self._lock:
                registration.cancel_scheduled = None
                if registration.status == PENDING_REGISTRATION:
                    self._decide(registration, outcome)

        registration.cancel_scheduled = self._outbox.later(delay, decide)

    # ----------------------------------------------------------------- payments

    def move_payment(self, tx_id: str, status: str, *, force: bool = False) -> Payment:
        """Move the payment to ``status`` (SUCCESS, SETTLED or FAILED) with its webhook(s);
        409 ``invalid_transition`` for a move it cannot make (see the module doc)."""
        if status not in (SUCCESS, SETTLED, FAILED):
            raise invalid("status", "must be SUCCESS, SETTLED or FAILED")
        with self._lock:
            payment = self._payments.get(tx_id)
            if payment is None:
                raise not_found(f"no such payment: {tx_id}")
            client = self._clients[payment.client_id]
            current = payment.status
            if status == SUCCESS and current == PENDING:
                self._clear(client, payment)
            elif status == SETTLED and current == SUCCESS:
                self._settle(client, payment)
            elif status == SETTLED and current == PENDING and force:
                self._settle(client, payment, forced=True)
            elif status == FAILED and current in (PENDING, SUCCESS):
                _unschedule(payment)
                payment.status, payment.failed_at = FAILED, now()
                self._send(client, payment.webhooks, [payment_body(payment, FAILED, now())])
            else:
                hint = " (force: true settles a PENDING one)" if current == PENDING else ""
                raise _conflict(f"payment {tx_id} cannot go from {current} to {status}{hint}")
            return payment

    def _clear(self, client: Client, payment: Payment) -> None:
        """(under the lock) PENDING -> SUCCESS, or straight to SETTLED under chaos."""
        _unschedule(payment)
        moment = now()
        payment.cleared_at = moment
        if client.chaos.settled_before_success:
            payment.status, payment.settled_at = SETTLED, moment
            bodies = [
                payment_body(payment, SETTLED, moment),
                payment_body(payment, SUCCESS, moment),
            ]
            self._send(client, payment.webhooks, bodies)
            return
        payment.status = SUCCESS
        self._send(client, payment.webhooks, [payment_body(payment, SUCCESS, moment)])
        delay = client.settings.settle_after_seconds
        if delay is not None:
            self._later(payment, SUCCESS, delay, lambda: self._settle(client, payment))

    def _settle(self, client: Client, payment: Payment, *, forced: bool = False) -> None:
        _unschedule(payment)
        moment = now()
        if forced:
            payment.cleared_at = moment
        payment.status, payment.settled_at = SETTLED, moment
        self._send(client, payment.webhooks, [payment_body(payment, SETTLED, moment)])

    def _clear_later(self, client: Client, payment: Payment, delay: float) -> None:
        self._later(payment, PENDING, delay, lambda: self._clear(client, payment))

    def _later(
        self, payment: Payment, expected: str, delay: float, move: Callable[[], None]
    ) -> None:
        """Run ``move`` under the lock after ``delay`` if the payment is still ``expected``."""

        def run() -> None:
            with self._lock:
                payment.cancel_scheduled = None
                if payment.status == expected:
                    move()

        payment.cancel_scheduled = self._outbox.later(delay, run)

    # ----------------------------------------------------------------- webhooks

    def _forger(self) -> rsa.RSAPrivateKey:
        if self._forger_key is None:
            self._forger_key = new_private_key()
        return self._forger_key

    def _signer(self, key: rsa.RSAPrivateKey, record: Webhook, age: int = 0) -> Signer:
        def sign_now(body: bytes) -> Mapping[str, str]:
            timestamp = str(int(time.time()) - age)
            signature = sign(key, webhook_message(timestamp, body))
            with self._lock:
                record.timestamp, record.signature = timestamp, signature
            return {"X-Neo-Timestamp": timestamp, "X-Neo-Signature": signature}

        return sign_now

    def _send(self, client: Client, sent: list[Webhook], bodies: list[Json]) -> None:
        """Queue each body's copies as the client's chaos wants (call under the lock); each
        copy is recorded in ``sent``."""
        url = client.webhook_url
        if not url:
            return
        chaos = client.chaos
        deliveries: list[Delivery[Webhook]] = []
        for body in bodies:
            raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            copies: list[tuple[str, rsa.RSAPrivateKey | None, int]] = []
            if chaos.unsigned_webhook:
                copies.append(("unsigned", None, 0))
            if chaos.forged_signature:
                copies.append(("forged", self._forger(), 0))
            if chaos.stale_timestamp:
                copies.append(("stale", self._bank_key, STALE_WEBHOOK_AGE_SECONDS))
            copies.append(("genuine", self._bank_key, 0))
            if chaos.duplicate_webhooks:
                copies.append(("duplicate", self._bank_key, 0))
            subject = body.get("tx_id") or body["cprn"]
            for kind, key, age in copies:
                record = Webhook(kind, str(body["status"]), url, raw.decode("utf-8"))
                sent.append(record)
                deliveries.append(
                    Delivery(
                        # One queue per receiving host: a slow receiver delays only its own.
                        queue=urlsplit(url).netloc,
                        url=url,
                        body=raw,
                        context=record,
                        headers=_HEADERS,
                        sign=None if key is None else self._signer(key, record, age),
                        label=f"{subject}:{body['status']}:{kind}",
                    )
                )
        self._outbox.source_address = self.settings.webhook_source_address or None
        self._outbox.dispatch(deliveries)

    def _webhook_finished(self, delivery: Delivery[Webhook], delivered: bool) -> None:
        with self._lock:
            record = delivery.context
            record.delivered = delivered
            record.attempts = delivery.attempts
            record.answers = list(delivery.answers)
