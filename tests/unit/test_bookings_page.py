"""The bookings app's page for people: what a browser gets, and what programs still get."""

from __future__ import annotations

import pytest

from examples.bookings.app import Booking, booking_page, format_amount, prefers_html


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        # Chromium's and Firefox's navigation requests.
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8", True),
        ("text/html", True),
        # curl, requests, fetch() without an Accept: JSON, as before.
        ("*/*", False),
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.5, application/json", False),
        ("text/*", True),
        ("text/html;q=oops, application/json", False),
    ],
)
def test_html_only_when_the_client_ranks_it_above_json(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (4500, "USD", "45.00 USD"),
        (5, "USD", "0.05 USD"),
        (123456789, "KES", "1,234,567.89 KES"),
        (4500, "JPY", "4,500 JPY"),
        (1500, "KWD", "1.500 KWD"),
    ],
)
def test_amounts_are_shown_in_major_units(amount: int, currency: str, shown: str) -> None:
    assert format_amount(amount, currency) == shown


def _booking(
    status: str, checkout_url: str | None = "http://127.0.0.1:12111/pay/cs_test_1"
) -> dict:
    return {
        "id": "bk_0123456789abcdef0123",
        "service": "Haircut <b>deluxe</b>",
        "amount": 2500,
        "currency": "USD",
        "status": status,
        "payment_id": "pay_1",
        "checkout_url": checkout_url,
    }


def test_a_pending_booking_refreshes_and_a_settled_one_does_not() -> None:
    refresh = '<meta http-equiv="refresh" content="2">'
    pending = booking_page(_booking("PENDING_PAYMENT"), "success")
    assert refresh in pending
    assert "confirming your payment" in pending
    for status in ("CONFIRMED", "CANCELLED"):
        settled = booking_page(_booking(status), "success")
        assert refresh not in settled
        assert f'<p id="status" class="{status}">{status}</p>' in settled


def test_the_page_escapes_what_the_customer_typed_and_links_to_the_payment() -> None:
    page = booking_page(_booking("PENDING_PAYMENT"), None)
    assert "Haircut &lt;b&gt;deluxe&lt;/b&gt;" in page
    assert "<b>deluxe" not in page
    assert '<a href="http://127.0.0.1:12111/pay/cs_test_1">Go to payment</a>' in page
    assert "25.00 USD" in page
    assert "Go to payment" in booking_page(_booking("PENDING_PAYMENT"), "cancel")
    assert "Go to payment" not in booking_page(_booking("CONFIRMED"), None)


def _mpesa_booking(status: str, checkout_request_id: str | None = "ws_CO_1") -> dict:
    return Booking(
        "bk_0123456789abcdef0123",
        "Haircut",
        2500,
        "KES",
        "ann@example.com",
        status=status,
        payment_id="pay_1",
        payment_method="mpesa",
        phone_number="0712345678",
        checkout_request_id=checkout_request_id,
    ).public()


def test_an_mpesa_booking_waits_for_the_phone_and_never_links_to_a_checkout() -> None:
    refresh = '<meta http-equiv="refresh" content="2">'
    pending = booking_page(_mpesa_booking("PENDING_PAYMENT"), None)
    assert refresh in pending
    assert "Waiting for M-PESA confirmation on your phone." in pending
    assert "Check your phone: enter your M-PESA PIN in the prompt to pay 25.00 KES." in pending
    assert "0712345678" not in pending
    assert "Go to payment" not in pending
    assert "<dt>Payment method</dt><dd>M-PESA</dd>" in pending
    unsent = booking_page(_mpesa_booking("PENDING_PAYMENT", None), None)
    assert "Waiting for M-PESA confirmation" not in unsent  # no prompt went out yet
    confirmed = booking_page(_mpesa_booking("CONFIRMED"), None)
    assert refresh not in confirmed
    assert "Waiting for M-PESA" not in confirmed
    assert "the booking is confirmed" in confirmed
