"""Issue 4 over HTTP in the devstack: a Stripe payment confirms a booking in the reference app
through a verified callback, the customer's receipt reaches Omnisend once, and the sweeper
settles a payment whose webhooks never came."""

from __future__ import annotations

import time
import uuid
from typing import Any

import requests

from tests.e2e.conftest import RunningDevStack, eventually


def _book(devstack: RunningDevStack, amount: int = 2500) -> dict[str, Any]:
    return devstack.booked(
        service="Haircut", amount=amount, currency="USD", customer_email="ann@example.com"
    )


def _receipts(devstack: RunningDevStack, payment_id: str) -> list[dict[str, Any]]:
    events = requests.get(
        f"{devstack.info['sandbox_urls']['omnisend']}/_sandbox/events", timeout=10
    )
    return [
        event
        for event in events.json()["data"]
        if event["body"]["eventName"] == "Payment Receipt"
        and event["body"]["properties"]["payment_id"] == payment_id
    ]


def test_a_paid_booking_is_confirmed_by_a_verified_callback_and_receipted_once(
    devstack: RunningDevStack,
) -> None:
    booking = _book(devstack)
    assert booking["status"] == "PENDING_PAYMENT"
    paid = requests.post(f"{booking['checkout_url']}/pay", allow_redirects=False, timeout=10)
    assert paid.status_code == 303
    bookings = devstack.info["bookings_app_url"]

    def confirmed() -> dict[str, Any] | None:
        current = requests.get(f"{bookings}/bookings/{booking['id']}", timeout=10).json()
        return current if current["status"] == "CONFIRMED" else None

    assert eventually(confirmed, timeout=30), "the booking was never confirmed"
    deliveries = requests.get(f"{bookings}/_test/deliveries", timeout=10).json()["data"]
    mine = [d for d in deliveries if booking["id"] in (d.get("detail") or "")]
    assert [d["outcome"] for d in mine] == ["verified"]  # verified with standardwebhooks
    receipts = eventually(lambda: _receipts(devstack, booking["payment_id"]), timeout=30)
    time.sleep(2)  # any duplicate would have arrived by now
    receipts = _receipts(devstack, booking["payment_id"])
    assert len(receipts) == 1
    assert receipts[0]["times_received"] == 1
    assert receipts[0]["body"]["contact"] == {"email": "ann@example.com"}


def test_a_failing_merchant_endpoint_gets_the_event_later_and_once(
    devstack: RunningDevStack,
) -> None:
    bookings = devstack.info["bookings_app_url"]
    switch = requests.post(
        f"{bookings}/_test/fail_next", json={"count": 1, "status": 500}, timeout=10
    )
    assert switch.status_code in (200, 204)
    booking = _book(devstack)
    requests.post(f"{booking['checkout_url']}/pay", allow_redirects=False, timeout=10)

    def confirmed() -> bool:
        current = requests.get(f"{bookings}/bookings/{booking['id']}", timeout=10).json()
        return bool(current["status"] == "CONFIRMED")

    # The first attempt fails; the retry comes 5 s (+-10 %) later.
    assert eventually(confirmed, timeout=40)
    outcomes = [
        d["outcome"]
        for d in requests.get(f"{bookings}/_test/deliveries", timeout=10).json()["data"]
        if d["outcome"] == "forced_failure" or booking["id"] in (d.get("detail") or "")
    ]
    assert outcomes[-2:] == ["forced_failure", "verified"]


def test_the_sweeper_settles_a_payment_whose_webhooks_were_lost(
    devstack: RunningDevStack,
) -> None:
    sandbox = devstack.info["sandbox_urls"]["stripe"]
    headers = {
        "Authorization": f"Bearer {devstack.info['api_key']}",
        "Idempotency-Key": f"lost-{uuid.uuid4().hex}",
    }
    checkout = requests.post(
        f"{devstack.base_url}/v1/checkout",
        headers=headers,
        json={
            "payable_type": "booking",
            "payable_id": "bk_lost",
            "amount": 1200,
            "currency": "USD",
            "description": "Nails",
            "success_url": "http://localhost:8080/paid",
        },
        timeout=30,
    ).json()
    # Stripe's webhooks for this payment never verify (so they are refused and given up)...
    requests.post(f"{sandbox}/_sandbox/chaos", json={"stale_signature": True}, timeout=10)
    try:
        requests.post(f"{checkout['checkout_url']}/pay", allow_redirects=False, timeout=10)
        idle = requests.post(
            f"{sandbox}/_sandbox/wait_for_deliveries", json={"timeout": 15}, timeout=20
        )
        assert idle.json()["idle"] is True
    finally:
        requests.post(f"{sandbox}/_sandbox/chaos", json={"stale_signature": False}, timeout=10)
    status = requests.get(
        f"{devstack.base_url}/v1/payments/{checkout['payment_id']}",
        headers={"Authorization": headers["Authorization"]},
        timeout=10,
    ).json()
    assert status["status"] in {"pending", "succeeded"}  # the sweeper may already have run

    # ...and the sweeper (every 2 s in this devstack, age 0) finds out from Stripe itself.
    def settled() -> bool:
        payment = requests.get(
            f"{devstack.base_url}/v1/payments/{checkout['payment_id']}",
            headers={"Authorization": headers["Authorization"]},
            timeout=10,
        ).json()
        return bool(payment["status"] == "succeeded")

    assert eventually(settled, timeout=30)
