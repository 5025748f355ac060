"""The bookings reference app's "Pay with crypto" over HTTP in the devstack: a booking makes a
NOWPayments invoice (POST /v1/crypto/invoices), the customer chooses a coin and pays on the
sandbox's hosted invoice page, the signed IPNs are confirmed with GET /v1/payment, the payment
moves into the coin and is captured there, and our signed callback (the same one a Stripe or
M-PESA payment sends) confirms the booking by its price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from tests.e2e.conftest import RunningDevStack, eventually

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _book(devstack: RunningDevStack, amount: int) -> dict[str, Any]:
    return devstack.booked(
        service="Deep tissue massage",
        amount=amount,
        currency="USD",
        customer_email="satoshi@example.com",
        payment_method="crypto",
    )


def _on_invoice_page(booking: dict[str, Any], action: str) -> requests.Response:
    """A button on the hosted invoice page: a coin's code, then ``pay`` or ``expire``."""
    return requests.post(f"{booking['checkout_url']}/{action}", allow_redirects=False, timeout=10)


def _ipns_sent(devstack: RunningDevStack) -> None:
    sandbox = devstack.info["sandbox_urls"]["nowpayments"]
    idle = requests.post(f"{sandbox}/_sandbox/wait_for_ipns", json={"timeout": 20}, timeout=30)
    assert idle.json() == {"idle": True}


def _settled(devstack: RunningDevStack, booking_id: str) -> dict[str, Any] | None:
    current = devstack.booking(booking_id)
    return current if current["status"] != "PENDING_PAYMENT" else None


def test_a_booking_paid_in_bitcoin_on_the_invoice_page_is_confirmed_by_our_callback(
    devstack: RunningDevStack,
) -> None:
    booking = _book(devstack, 4500)  # USD 45.00
    assert (booking["status"], booking["payment_method"]) == ("PENDING_PAYMENT", "crypto")
    sandbox = devstack.info["sandbox_urls"]["nowpayments"]
    assert booking["checkout_url"].startswith(f"{sandbox}/invoice/")
    # The customer's booking page links the invoice page while the booking is due.
    bookings = devstack.info["bookings_app_url"]
    page = requests.get(f"{bookings}/bookings/{booking['id']}", headers=HTML, timeout=10)
    assert "Go to payment" in page.text
    assert booking["checkout_url"] in page.text

    invoice_page = requests.get(booking["checkout_url"], timeout=10)
    assert invoice_page.status_code == 200
    assert "45 USD" in invoice_page.text
    assert _on_invoice_page(booking, "btc").status_code == 303  # Bitcoin chosen
    paid = _on_invoice_page(booking, "pay")
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"{bookings}/bookings/{booking['id']}?checkout=success"
    _ipns_sent(devstack)

    settled = eventually(lambda: _settled(devstack, booking["id"]), timeout=20)
    assert settled, f"booking {booking['id']} was not settled in 20 s"
    assert settled["status"] == "CONFIRMED"

    # The payment moved into the coin: 45 USD at the sandbox's 50000 is 0.0009 BTC, captured
    # exactly, the price kept beside it; the demo tenant's ledger verifies.
    payment = devstack.payment(booking["payment_id"])
    assert (payment["status"], payment["provider"]) == ("succeeded", "nowpayments")
    assert (payment["amount"], payment["currency"]) == ("0.0009", "BTC")
    assert (payment["price_amount"], payment["price_currency"]) == (4500, "USD")
    assert Decimal(payment["amount_captured"]) == Decimal("0.0009")
    assert payment["provider_details"]["provider_status"] == "finished"
    deliveries = requests.get(f"{bookings}/_test/deliveries", timeout=10).json()["data"]
    [delivery] = [d for d in deliveries if booking["id"] in (d.get("detail") or "")]
    assert (delivery["outcome"], delivery["type"], delivery["provider"]) == (
        "verified",
        "payment.succeeded",
        "nowpayments",
    )
    verified = devstack.payctl("ledger", "verify", "--tenant", devstack.info["tenant_id"])
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_crypto_invoice_left_to_expire_cancels_the_booking(devstack: RunningDevStack) -> None:
    booking = _book(devstack, 2000)
    assert _on_invoice_page(booking, "ltc").status_code == 303
    assert _on_invoice_page(booking, "expire").status_code == 303
    _ipns_sent(devstack)
    settled = eventually(lambda: _settled(devstack, booking["id"]), timeout=20)
    assert settled, f"booking {booking['id']} was not settled in 20 s"
    assert settled["status"] == "CANCELLED"
    payment = devstack.payment(booking["payment_id"])
    assert (payment["status"], payment["currency"]) == ("expired", "LTC")
    assert payment["amount_captured"] == "0"
