"""The bookings reference app's M-PESA option over HTTP in the devstack: a booking prompts the
customer's (sandbox) phone, the customer answers on the phone, and our signed callback, the same
one a Stripe payment sends, confirms the booking or leaves it unconfirmed."""

from __future__ import annotations

import secrets
from typing import Any

import requests

from tests.e2e.conftest import RunningDevStack, eventually

CONFIRM_TIMEOUT_SECONDS = 15.0
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _new_phone() -> str:
    """A Safaricom number of its own, so that no other push holds it (Daraja's 2-minute window)."""
    return "07" + "".join(secrets.choice("0123456789") for _ in range(8))


def _mpesa_booking(**overrides: Any) -> dict[str, Any]:
    return {
        "service": "Haircut",
        "amount": 5000,  # KES 50.00
        "currency": "KES",
        "customer_email": "wanjiru@example.com",
        "payment_method": "mpesa",
        "phone_number": _new_phone(),
        **overrides,
    }


def _book(devstack: RunningDevStack, **overrides: Any) -> requests.Response:
    return devstack.book(**_mpesa_booking(**overrides))


def _booked(devstack: RunningDevStack, **overrides: Any) -> dict[str, Any]:
    return devstack.booked(**_mpesa_booking(**overrides))


def _phone_url(devstack: RunningDevStack, booking: dict[str, Any]) -> str:
    return (
        f"{devstack.info['sandbox_urls']['daraja']}/_sandbox/phone/{booking['checkout_request_id']}"
    )


def _press(devstack: RunningDevStack, booking: dict[str, Any], button: str) -> requests.Response:
    """What the customer does on the handset: ``pay`` (the right PIN) or ``cancel``."""
    return requests.post(
        f"{_phone_url(devstack, booking)}/{button}", allow_redirects=False, timeout=10
    )


def _settled(devstack: RunningDevStack, booking_id: str) -> dict[str, Any] | None:
    current = devstack.booking(booking_id)
    return current if current["status"] != "PENDING_PAYMENT" else None


def _verified_deliveries(devstack: RunningDevStack, booking_id: str) -> list[dict[str, Any]]:
    deliveries = requests.get(
        f"{devstack.info['bookings_app_url']}/_test/deliveries", timeout=10
    ).json()["data"]
    return [d for d in deliveries if booking_id in (d.get("detail") or "")]


def test_an_mpesa_booking_paid_on_the_phone_is_confirmed_by_our_verified_callback(
    devstack: RunningDevStack,
) -> None:
    booking = _booked(devstack, service="Braids & beads")
    assert (booking["status"], booking["payment_method"]) == ("PENDING_PAYMENT", "mpesa")
    assert (booking["amount"], booking["currency"]) == (5000, "KES")
    assert booking["payment_id"].startswith("pay_")
    assert booking["checkout_request_id"].startswith("ws_CO_")
    assert "Check your phone" in booking["customer_message"]
    assert "checkout_url" not in booking

    # The prompt on the customer's phone: KES 50 to the demo tenant's PayBill.
    prompt = requests.get(_phone_url(devstack, booking), timeout=10)
    assert prompt.status_code == 200
    assert "Ksh50.00" in prompt.text
    assert f"to {devstack.info['demo_mpesa_shortcode']}" in prompt.text
    assert "waiting for the customer" in prompt.text

    # Until the callback comes, the booking's page waits for the phone, refreshing itself.
    bookings = devstack.info["bookings_app_url"]
    page = requests.get(f"{bookings}/bookings/{booking['id']}", headers=HTML, timeout=10)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Waiting for M-PESA confirmation on your phone" in page.text
    assert 'http-equiv="refresh"' in page.text

    paid = _press(devstack, booking, "pay")
    assert paid.status_code == 303
    settled = eventually(lambda: _settled(devstack, booking["id"]), CONFIRM_TIMEOUT_SECONDS)
    assert settled, f"booking {booking['id']} was not settled in {CONFIRM_TIMEOUT_SECONDS} s"
    assert settled["status"] == "CONFIRMED"
    assert settled["payment_id"] == booking["payment_id"]

    # Confirmed by our callback, verified with standardwebhooks, naming the M-PESA payment.
    [delivery] = _verified_deliveries(devstack, booking["id"])
    assert (delivery["outcome"], delivery["type"], delivery["provider"]) == (
        "verified",
        "payment.succeeded",
        "mpesa",
    )
    assert delivery["detail"] == f"booking {booking['id']} CONFIRMED"
    payment = devstack.payment(booking["payment_id"])
    assert (payment["provider"], payment["status"]) == ("mpesa", "succeeded")
    assert (payment["payable_type"], payment["payable_id"]) == ("booking", booking["id"])
    assert payment["provider_reference"] == booking["checkout_request_id"]

    page = requests.get(f"{bookings}/bookings/{booking['id']}", headers=HTML, timeout=10)
    assert '<p id="status" class="CONFIRMED">CONFIRMED</p>' in page.text
    assert "Waiting for M-PESA" not in page.text
    assert 'http-equiv="refresh"' not in page.text


def test_a_push_cancelled_on_the_phone_leaves_the_booking_unconfirmed(
    devstack: RunningDevStack,
) -> None:
    booking = _booked(devstack)
    assert _press(devstack, booking, "cancel").status_code == 303

    settled = eventually(lambda: _settled(devstack, booking["id"]), CONFIRM_TIMEOUT_SECONDS)
    assert settled, f"booking {booking['id']} was not settled in {CONFIRM_TIMEOUT_SECONDS} s"
    assert settled["status"] == "CANCELLED"
    [delivery] = _verified_deliveries(devstack, booking["id"])
    assert (delivery["type"], delivery["provider"]) == ("payment.canceled", "mpesa")
    assert devstack.payment(booking["payment_id"])["status"] == "canceled"
    # The prompt is gone: there is nothing left to pay, and the booking stays unconfirmed.
    assert _press(devstack, booking, "pay").status_code == 409
    assert devstack.booking(booking["id"])["status"] == "CANCELLED"


def test_a_second_booking_while_the_phone_has_a_prompt_is_409_with_retry_after(
    devstack: RunningDevStack,
) -> None:
    phone = _new_phone()
    first = _booked(devstack, phone_number=phone)
    second = _book(devstack, phone_number=phone)
    assert second.status_code == 409, second.text
    assert second.json()["error"]["code"] == "duplicate_push"
    assert 1 <= int(second.headers["Retry-After"]) <= 120
    # Once the first prompt is answered, the phone takes a new one.
    assert _press(devstack, first, "cancel").status_code == 303
    assert eventually(lambda: _settled(devstack, first["id"]), CONFIRM_TIMEOUT_SECONDS)
    assert _book(devstack, phone_number=phone).status_code == 201


def test_a_bad_phone_number_is_a_clear_4xx_from_the_app(devstack: RunningDevStack) -> None:
    not_safaricom = _book(devstack, phone_number="0812345678")
    assert not_safaricom.status_code == 422, not_safaricom.text
    error = not_safaricom.json()["error"]
    assert (error["code"], error["api_status"]) == ("invalid_phone_number", 422)
    assert "Safaricom" in error["message"]
    assert "booking" not in not_safaricom.json()  # nothing was booked: book again

    missing = _book(devstack, phone_number=None)
    assert missing.status_code == 400
    assert "phone_number is required" in missing.json()["error"]["message"]
    dollars = _book(devstack, currency="USD")
    assert dollars.status_code == 400
    assert "M-PESA takes KES only" in dollars.json()["error"]["message"]
