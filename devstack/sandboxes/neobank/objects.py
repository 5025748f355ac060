"""The NEO Bank sandbox's state: clients (a tenant's registered public key and webhook URL),
registrations (CPRNs), payments (TXNs), the webhooks sent and the requests seen; the switches;
NEO Bank's ids, times and the currencies' ISO 4217 decimals."""

from __future__ import annotations

import re
import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.sandboxes.kit import Json, SwitchError, Switches, is_loopback_url
from devstack.sandboxes.kit.switches import check_loopback_address

# Registration statuses as the API answers them, and as webhooks tell them.
PENDING_REGISTRATION = "pending"
VERIFIED = "verified"
REJECTED = "rejected"
REGISTRATION_WEBHOOK_STATUS = {VERIFIED: "VERIFIED", REJECTED: "REJECTED"}

# Payment statuses (the same in answers and webhooks).
PENDING = "PENDING"
SUCCESS = "SUCCESS"
SETTLED = "SETTLED"
FAILED = "FAILED"
PAYMENT_STATUSES = (PENDING, SUCCESS, SETTLED, FAILED)

_UPPER_ALNUM = string.ascii_uppercase + string.digits

# ISO 4217 minor-unit digits of the currencies that do not have 2 (any other three upper-case
# letters are taken as a currency of 2 decimals).
CURRENCY_DECIMALS: Mapping[str, int] = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}
CURRENCY = re.compile(r"[A-Z]{3}")


def currency_decimals(code: str) -> int:
    return CURRENCY_DECIMALS.get(code, 2)


def random_text(length: int, alphabet: str = _UPPER_ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def client_id() -> str:
    return "cli_" + secrets.token_hex(12)


def cprn() -> str:
    return "CPRN-" + random_text(12)


def tx_id() -> str:
    return "TXN-" + random_text(16)


def rfc3339(epoch: float | None) -> str | None:
    """``2026-12-02T10:00:00Z`` (UTC, whole seconds), or None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> float:
    return time.time()


def check_webhook_url(name: str, value: Any) -> None:
    """Empty (no webhooks) or an http(s) URL on a loopback host: the sandbox posts nowhere else."""
    if not isinstance(value, str):
        raise SwitchError(name, f"{name} must be a string")
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or not is_loopback_url(value):
        raise SwitchError(name, f"{name} must be an http(s) URL on a loopback host")


@dataclass
class Settings(Switches):
    """The sandbox's own settings (``/_sandbox/settings``)."""

    # A signed request's X-Neo-Timestamp may be this far from the bank's clock, either way.
    timestamp_window_seconds: int = 300
    # Where webhooks come from (any 127.0.0.0/8 address; empty: the system's choice).
    webhook_source_address: str = ""

    def update(self, changes: Mapping[str, Any]) -> None:
        check_loopback_address("webhook_source_address", changes.get("webhook_source_address"))
        super().update(changes)


@dataclass
class ClientSettings(Switches):
    """A client's settings (``/_sandbox/clients/{id}/settings``); each delay is read when the
    object it moves is created (a registration, a payment, a payment's clearing)."""

    # A registration is pending this long, then VERIFIED (REJECTED with reject_registrations),
    # with a webhook; 0: it answers "verified" at once (the webhook is still sent).
    verify_after_seconds: float = 0.5
    reject_registrations: bool = False
    # A PENDING payment moves to SUCCESS by itself after this delay (null: only by the admin).
    auto_clear_after_seconds: float | None = None
    # T+2 compressed: a payment SETTLED by itself this long after SUCCESS (null: only by admin).
    settle_after_seconds: float | None = None


@dataclass
class ChaosSettings(Switches):
    """What may go wrong with a client's webhooks (``/_sandbox/clients/{id}/chaos``). Every bad
    copy goes before the genuine one, which is always sent as well."""

    duplicate_webhooks: bool = False  # every webhook sent twice, both genuine
    # A payment cleared is settled at once: SETTLED's webhook is sent before SUCCESS's.
    settled_before_success: bool = False
    unsigned_webhook: bool = False  # one extra copy without X-Neo-Timestamp / X-Neo-Signature
    forged_signature: bool = False  # one extra copy signed with a key that is not the bank's
    stale_timestamp: bool = False  # one extra copy, signed by the bank, 301 s old


@dataclass
class Client:
    """A client of the bank (one tenant): the public key its requests are verified with, where
    its webhooks go, and the bank's public key it verifies them with."""

    client_id: str
    name: str
    public_key_pem: str
    public_key: rsa.RSAPublicKey = field(repr=False)
    webhook_url: str
    bank_public_key_pem: str
    created_at: float
    settings: ClientSettings = field(default_factory=ClientSettings)
    chaos: ChaosSettings = field(default_factory=ChaosSettings)
    # Request ids seen (X-Neo-Request-Id -> when), forgotten two windows later.
    request_ids: dict[str, float] = field(default_factory=dict, repr=False)

    def view(self) -> Json:
        return {
            "client_id": self.client_id,
            "name": self.name,
            "public_key_pem": self.public_key_pem,
            "webhook_url": self.webhook_url,
            "bank_public_key_pem": self.bank_public_key_pem,
            "created_at": rfc3339(self.created_at),
            "settings": self.settings.as_dict(),
            "chaos": self.chaos.as_dict(),
        }


@dataclass
class Webhook:
    """One webhook copy: what it told, how it was signed, and each attempt's answer."""

    kind: str  # genuine, duplicate, unsigned, forged, stale
    status: str  # the status it tells (SUCCESS, VERIFIED, ...)
    url: str
    body: str
    timestamp: str | None = None  # X-Neo-Timestamp of the last attempt
    signature: str | None = None  # X-Neo-Signature of the last attempt
    delivered: bool | None = None  # None while queued or being retried
    attempts: int = 0
    answers: list[int | None] = field(default_factory=list)

    def view(self) -> Json:
        return {
            "kind": self.kind,
            "status": self.status,
            "url": self.url,
            "body": self.body,
            "x-neo-timestamp": self.timestamp,
            "x-neo-signature": self.signature,
            "delivered": self.delivered,
            "attempts": self.attempts,
            "answers": list(self.answers),
        }


@dataclass
class Registration:
    cprn: str
    client_id: str
    reference: str
    email: str
    name: str
    wallet_address: str
    status: str
    created_at: float
    decided_at: float | None = None
    webhooks: list[Webhook] = field(default_factory=list)
    # Cancels the scheduled decision (a decision made sooner, by the admin, cancels it).
    cancel_scheduled: Callable[[], bool] | None = field(default=None, repr=False)

    def fields(self) -> Json:
        """What the client sent, to tell a repeat from a conflict."""
        return {
            "reference": self.reference,
            "email": self.email,
            "name": self.name,
            "wallet_address": self.wallet_address,
        }

    def answer(self) -> Json:
        return {"cprn": self.cprn, "status": self.status, "reference": self.reference}

    def view(self) -> Json:
        return {
            **self.answer(),
            "client_id": self.client_id,
            "email": self.email,
            "name": self.name,
            "wallet_address": self.wallet_address,
            "created_at": rfc3339(self.created_at),
            "decided_at": rfc3339(self.decided_at),
            "webhooks": [webhook.view() for webhook in self.webhooks],
        }


@dataclass
class Payment:
    tx_id: str
    client_id: str
    reference: str
    cprn: str
    amount: str  # exactly the currency's decimals, as sent
    currency: str
    description: str | None
    token: Json
    status: str
    created_at: float
    cleared_at: float | None = None
    settled_at: float | None = None
    failed_at: float | None = None
    webhooks: list[Webhook] = field(default_factory=list)
    # Cancels the scheduled move (auto clear or settlement); any other move cancels it.
    cancel_scheduled: Callable[[], bool] | None = field(default=None, repr=False)

    def fields(self) -> Json:
        return {
            "reference": self.reference,
            "cprn": self.cprn,
            "amount": self.amount,
            "currency": self.currency,
            "description": self.description,
            "token": self.token,
        }

    def created(self) -> Json:
        return {
            "tx_id": self.tx_id,
            "status": self.status,
            "reference": self.reference,
            "cprn": self.cprn,
            "amount": self.amount,
            "currency": self.currency,
        }

    def answer(self) -> Json:
        return {
            **self.created(),
            "cleared_at": rfc3339(self.cleared_at),
            "settled_at": rfc3339(self.settled_at),
        }

    def view(self) -> Json:
        return {
            **self.answer(),
            "client_id": self.client_id,
            "description": self.description,
            "token": self.token,
            "created_at": rfc3339(self.created_at),
            "failed_at": rfc3339(self.failed_at),
            "webhooks": [webhook.view() for webhook in self.webhooks],
        }


@dataclass
class RequestRecord:
    """One /v1 request and what became of it (``refusal``: the signed-request check that
    refused it; ``error``: the code of any error answer)."""

    method: str
    path: str
    client_id: str | None
    request_id: str | None
    timestamp: str | None
    at: float
    signature_valid: bool = False  # made by the registered key over this message
    verified: bool = False  # passed every check (signature, timestamp window, request id)
    refusal: str | None = None
    status: int | None = None
    error: str | None = None

    def view(self) -> Json:
        return {
            "method": self.method,
            "path": self.path,
            "client_id": self.client_id,
            "request_id": self.request_id,
            "timestamp": self.timestamp,
            "at": rfc3339(self.at),
            "signature_valid": self.signature_valid,
            "verified": self.verified,
            "refusal": self.refusal,
            "status": self.status,
            "error": self.error,
        }
