"""The sandbox's state: accounts and their objects, and the rules of Stripe's amounts and ids."""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from devstack.http_server import Response
from devstack.sandboxes.kit import Json, Switches
from devstack.sandboxes.stripe.errors import no_such
from devstack.sandboxes.stripe.params import Params

API_VERSION = "2025-06-30.basil"  # the account's default version, stamped on every event
MAX_AMOUNT = 99_999_999  # Stripe's ceiling for one amount in minor units

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
# Stripe refuses Checkout totals below its minimum charge; only the currencies we are sure of.
MINIMUM_CHARGE = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "cad": 50,
    "aud": 50,
    "chf": 50,
    "jpy": 50,
    "sgd": 50,
    "nzd": 50,
    "hkd": 400,
    "mxn": 1000,
}
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
DISPUTE_REASONS = frozenset(
    {
        "bank_cannot_process",
        "check_returned",
        "credit_not_processed",
        "customer_initiated",
        "debit_not_authorized",
        "duplicate",
        "fraudulent",
        "general",
        "incorrect_account_details",
        "insufficient_funds",
        "product_not_received",
        "product_unacceptable",
        "subscription_canceled",
        "unrecognized",
    }
)


_ID_ALPHABET = string.ascii_letters + string.digits
OBJECT_PREFIXES = {
    "checkout.session": "cs_test_",
    "customer": "cus_",
    "payment_intent": "pi_",
    "charge": "ch_",
    "refund": "re_",
    "dispute": "dp_",
    "event": "evt_",
    "webhook_endpoint": "we_",
}


def random_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def format_amount(amount: int, currency: str) -> str:
    """``1234, "usd"`` -> ``"12.34 USD"``, with the currency's own number of decimals."""
    code = currency.lower()
    decimals = (
        0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
    )
    major = Decimal(amount).scaleb(-decimals)
    return f"{major:,.{decimals}f} {code.upper()}"


@dataclass
class ChaosSettings(Switches):
    """Knobs that make webhook delivery as unfriendly as Stripe is allowed to be. Mutable live."""

    duplicate_deliveries: int = 0  # send every event this many extra times
    shuffle: bool = False  # deliver the events of one action in random order, duplicates mixed in
    reverse: bool = False  # deliver the events of one action newest first
    refund_delay_seconds: float = 0  # > 0: refunds are "pending" this long before they succeed
    stale_signature: bool = False  # sign with a timestamp 10 minutes old


@dataclass(frozen=True)
class Account:
    """A Stripe account of the sandbox; its secret key authenticates API calls."""

    id: str
    secret_key: str


@dataclass(frozen=True)
class RequestContext:
    """What an event's ``request`` says: the API request that caused it (None: automatic)."""

    request_id: str | None
    idempotency_key: str | None


@dataclass
class SessionExtras:
    """What a Checkout Session knows but does not show: its items and the PaymentIntent recipe."""

    line_items: list[Json]
    payment_intent_data: Json
    payment_intent_id: str | None = None


@dataclass
class EndpointDelivery:
    outstanding: int = 0
    succeeded: bool = False
    failed: bool = False


@dataclass
class StoredResponse:
    fingerprint: tuple[str, str, tuple[tuple[str, str], ...]]
    response: Response
    request_id: str
    stored_at: float


@dataclass
class AccountState:
    account: Account
    objects: dict[str, dict[str, Json]] = field(
        default_factory=lambda: {object_type: {} for object_type in OBJECT_PREFIXES}
    )
    webhook_secrets: dict[str, str] = field(default_factory=dict)
    session_extras: dict[str, SessionExtras] = field(default_factory=dict)
    charge_refunds: dict[str, list[str]] = field(default_factory=dict)
    deliveries: dict[str, dict[str, EndpointDelivery]] = field(default_factory=dict)
    idempotency: dict[str, StoredResponse] = field(default_factory=dict)
    idempotency_locks: dict[str, threading.Lock] = field(default_factory=dict)

    def lookup(self, object_id: str) -> Json | None:
        for object_type, prefix in OBJECT_PREFIXES.items():
            if object_id.startswith(prefix):
                return self.objects[object_type].get(object_id)
        return None

    def get(
        self, object_type: str, object_id: str, *, param: str = "id", status: int = 404
    ) -> Json:
        found = self.objects[object_type].get(object_id)
        if found is None:
            no_such(object_type, object_id, param=param, status=status)
        return found


@dataclass
class ApiCall:
    state: AccountState
    params: Params
    context: RequestContext
    path_id: str
    expand: list[str]
