"""Our callbacks are accepted within 5 minutes of their signed ``webhook-timestamp``, in either
direction (docs/callbacks.md): the bookings example, which verifies with the Standard Webhooks
reference library, refuses one dated 10 minutes ahead and one 10 minutes old, and accepts one
4 minutes off either way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from examples.bookings import BookingsApp
from tests.integration.test_bookings_example import (  # noqa: F401 (fixtures)
    api,
    app,
    booked,
    callback_body,
    deliver,
    deliveries,
    get_booking,
    secret,
    signed_headers,
)


@pytest.mark.parametrize("minutes", [10, -10])
def test_a_callback_signed_10_minutes_off_is_refused(
    app: BookingsApp,  # noqa: F811
    secret: str,  # noqa: F811
    minutes: int,
) -> None:
    booking = booked(app)
    body = callback_body("payment.succeeded", booking)
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    response = deliver(app, body, signed_headers([secret], body, at=at))
    assert response.status_code == 400
    assert get_booking(app, booking["id"])["status"] == "PENDING_PAYMENT"
    assert [d["outcome"] for d in deliveries(app)] == ["rejected"]


@pytest.mark.parametrize("minutes", [4, -4])
def test_a_callback_signed_4_minutes_off_is_accepted(
    app: BookingsApp,  # noqa: F811
    secret: str,  # noqa: F811
    minutes: int,
) -> None:
    booking = booked(app)
    body = callback_body("payment.succeeded", booking)
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    assert deliver(app, body, signed_headers([secret], body, at=at)).status_code == 204
    assert get_booking(app, booking["id"])["status"] == "CONFIRMED"
