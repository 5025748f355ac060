"""Domain events and their envelope (see docs/events.md).

Every event that leaves the system has the same envelope: ``id`` (unique, the consumers'
dedupe key), ``type``, ``tenant_id``, ``occurred_at`` (RFC 3339, UTC) and ``data``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from payments.domain.states import PaymentStatus


class EventType(StrEnum):
    PAYMENT_CREATED = "payment.created"
    PAYMENT_PENDING = "payment.pending"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_CANCELED = "payment.canceled"
    PAYMENT_EXPIRED = "payment.expired"
    PAYMENT_PARTIALLY_REFUNDED = "payment.partially_refunded"
    PAYMENT_REFUNDED = "payment.refunded"
    PAYMENT_DISPUTED = "payment.disputed"
    PAYMENT_SETTLED = "payment.settled"
    # NEO Bank: customer profiles and the security-token trades paid through them (each trade
    # is a payment; its trade.* events go out beside the payment's, in the same transaction).
    PROFILE_REGISTERED = "profile.registered"
    PROFILE_VERIFIED = "profile.verified"
    PROFILE_REJECTED = "profile.rejected"
    TRADE_SUCCEEDED = "trade.succeeded"
    TRADE_SETTLED = "trade.settled"
    TRADE_FAILED = "trade.failed"
    TRADE_SETTLEMENT_OVERDUE = "trade.settlement_overdue"


EVENT_SOURCE = "payments"


def payment_event_type(status: PaymentStatus) -> EventType:
    """The event announcing that a payment reached ``status``."""
    return EventType(f"payment.{status.value}")


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    id: str
    type: EventType
    tenant_id: str
    occurred_at: datetime
    data: dict[str, Any]

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type.value,
            "tenant_id": self.tenant_id,
            "occurred_at": rfc3339(self.occurred_at),
            "data": self.data,
        }

    def to_json(self) -> str:
        # Amounts in data are ints (minor units) or strings (crypto decimals): never floats.
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)


def rfc3339(moment: datetime) -> str:
    """UTC timestamp with millisecond precision and a ``Z`` suffix."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
