from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from payments.domain.events import EventEnvelope, EventType, payment_event_type, rfc3339
from payments.domain.states import PaymentStatus


def test_every_status_after_creation_has_its_event_type() -> None:
    for status in PaymentStatus:
        assert payment_event_type(status).value == f"payment.{status.value}"


def test_envelope_has_exactly_the_documented_fields() -> None:
    envelope = EventEnvelope(
        id="evt_1",
        type=EventType.PAYMENT_SUCCEEDED,
        tenant_id="ten_1",
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        data={"payment": {"amount": 2500}},
    )
    decoded = json.loads(envelope.to_json())
    assert decoded == {
        "id": "evt_1",
        "type": "payment.succeeded",
        "tenant_id": "ten_1",
        "occurred_at": "2026-01-02T03:04:05.678Z",
        "data": {"payment": {"amount": 2500}},
    }


def test_occurred_at_must_be_aware_and_is_rendered_in_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        EventEnvelope("e", EventType.PAYMENT_CREATED, "t", datetime(2026, 1, 1), {})
    nairobi = timezone(timedelta(hours=3))
    assert rfc3339(datetime(2026, 1, 1, 3, 0, tzinfo=nairobi)) == "2026-01-01T00:00:00.000Z"
