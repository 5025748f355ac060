"""What a new user does first, in a real browser: book, pay on the sandbox's hosted page, land
on a real page; and the devstack under a burst of webhooks.

The browser is Debian's chromium, driven by Playwright (`make e2e` installs chromium when it is
missing; Playwright never downloads a browser here).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import RunningDevStack

CONFIRM_TIMEOUT_MS = 20_000  # the callback arrives within seconds; the page refreshes every 2 s
CONCURRENT_WEBHOOKS = 64


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 900, "height": 700})
    yield context.new_page()
    context.close()


def _meta_refresh(page: Page) -> int:
    return page.locator('meta[http-equiv="refresh"]').count()


def test_a_booking_paid_in_the_browser_ends_on_a_page_that_shows_confirmed(
    devstack: RunningDevStack, page: Page, tmp_path: Path
) -> None:
    bookings = devstack.info["bookings_app_url"]
    created = requests.post(
        f"{bookings}/bookings",
        json={
            "service": "Haircut",
            "amount": 2500,
            "currency": "USD",
            "customer_email": "ann@example.com",
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    booking = created.json()

    # Before paying, the booking's page waits for the payment, refreshing itself.
    page.goto(f"{bookings}/bookings/{booking['id']}")
    expect(page.locator("#status")).to_have_text("PENDING_PAYMENT")
    assert _meta_refresh(page) == 1
    page.screenshot(path=str(tmp_path / "booking-pending.png"), full_page=True)
    page.get_by_role("link", name="Go to payment").click()
    page.wait_for_url(booking["checkout_url"])
    page.get_by_role("button", name="Pay", exact=True).click()
    # Stripe's redirect to the app's success_url: a real page, not raw JSON.
    page.wait_for_url(f"{bookings}/bookings/{booking['id']}?checkout=success")
    assert page.title().startswith("Booking")
    # No reload by the test: the page refreshes itself until the callback has confirmed it.
    expect(page.locator("#status")).to_have_text("CONFIRMED", timeout=CONFIRM_TIMEOUT_MS)
    expect(page.locator("#lead")).to_contain_text("confirmed")
    expect(page.locator("dl")).to_contain_text("25.00 USD")
    expect(page.locator("dl")).to_contain_text(booking["payment_id"])
    assert _meta_refresh(page) == 0, "a settled booking stops refreshing"
    page.screenshot(path=str(tmp_path / "booking-confirmed.png"), full_page=True)

    # Programs still get JSON from the same URL.
    as_json = requests.get(f"{bookings}/bookings/{booking['id']}", timeout=10)
    assert as_json.headers["Content-Type"] == "application/json"
    assert as_json.json()["status"] == "CONFIRMED"


def _printed_checkout(devstack: RunningDevStack) -> str:
    """The banner's `export` line and its checkout curl, ready for bash."""
    printed = devstack.printed()
    export = re.search(r"^  (export BASE=\S+ KEY=\S+(?: [A-Z0-9]+=\S+)*)$", printed, re.MULTILINE)
    curl = re.search(r"^  (curl -s -X POST .*?/v1/checkout)$", printed, re.MULTILINE | re.DOTALL)
    assert export, printed
    assert curl, printed
    return f"{export.group(1)}\n{curl.group(1)}"


def test_the_printed_checkout_ends_on_the_shops_thanks_page_after_pay(
    devstack: RunningDevStack, page: Page, tmp_path: Path
) -> None:
    script = _printed_checkout(devstack)
    pages = devstack.info["return_pages_url"]
    assert f"{pages}/thanks?session_id={{CHECKOUT_SESSION_ID}}" in script
    answer = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    checkout: dict[str, Any] = json.loads(answer.stdout)

    page.goto(checkout["checkout_url"])
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_url(re.compile(re.escape(f"{pages}/thanks?session_id=cs_test_") + r"\w+$"))
    expect(page.locator("h1")).to_have_text("Thank you")
    expect(page.locator("#payment")).to_have_text(checkout["payment_id"])
    expect(page.locator("#status")).to_have_text("succeeded", timeout=CONFIRM_TIMEOUT_MS)
    expect(page.locator("#amount")).to_have_text("45.00 USD")
    assert _meta_refresh(page) == 0
    page.screenshot(path=str(tmp_path / "checkout-thanks.png"), full_page=True)


def test_declining_on_the_sandbox_page_ends_on_the_shops_cancelled_page(
    devstack: RunningDevStack, page: Page, tmp_path: Path
) -> None:
    answer = subprocess.run(
        ["bash", "-c", _printed_checkout(devstack).replace("demo-$(date +%s)", uuid.uuid4().hex)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    page.goto(json.loads(answer.stdout)["checkout_url"])
    page.get_by_role("button", name="Decline", exact=True).click()
    page.wait_for_url(f"{devstack.info['return_pages_url']}/cancelled")
    expect(page.locator("h1")).to_have_text("Payment not completed")
    page.screenshot(path=str(tmp_path / "checkout-cancelled.png"), full_page=True)


def test_the_banner_prints_the_key_once_and_every_example_uses_key(
    devstack: RunningDevStack,
) -> None:
    printed = devstack.printed()
    assert printed.count(devstack.info["api_key"]) == 1
    curls = re.findall(r"curl .*?(?=\n\S|\n  \S)", printed, re.DOTALL)
    authorized = [curl for curl in curls if "Authorization" in curl]
    assert len(authorized) >= 4
    # Each example uses a printed variable: $KEY (the demo tenant), $KEY2 (the second tenant)
    # or $OPKEY (the operator); none spells a key out.
    assert all(
        re.search(r'-H "Authorization: Bearer \$(KEY|KEY2|OPKEY)"', curl) for curl in authorized
    ), authorized
    assert sum('-H "Authorization: Bearer $KEY"' in curl for curl in authorized) >= 4
    for key in (devstack.info["second_api_key"], devstack.info["operator_key"]):
        assert printed.count(key) == 1


def _signed_webhook(secret: str) -> tuple[bytes, str]:
    """A Stripe event we acknowledge and record, signed the way Stripe signs (the SDK's own
    routine, as scripts/sign_stripe_event.py does)."""
    event = {
        "id": f"evt_load_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2025-06-30.basil",
        "created": int(time.time()),
        "type": "charge.succeeded",
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": {"id": f"ch_load_{uuid.uuid4().hex[:16]}", "object": "charge"}},
    }
    payload = json.dumps(event).encode()
    stamp = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{stamp}.{payload.decode()}", secret)
    return payload, f"t={stamp},v1={signature}"


def test_64_concurrent_webhooks_all_get_an_answer(
    devstack: RunningDevStack, devstack_aws: None
) -> None:
    from payments.services.credentials import provider_credentials

    tenant = devstack.info["tenant_id"]
    secret = provider_credentials(tenant, "stripe").require("webhook_secret")
    url = f"{devstack.info['function_urls_base']}/WebhookStripeFunction/{tenant}"
    deliveries = [_signed_webhook(secret) for _ in range(CONCURRENT_WEBHOOKS)]
    start = threading.Barrier(CONCURRENT_WEBHOOKS)
    answers: list[tuple[int, Any]] = []
    errors: list[str] = []

    def deliver(payload: bytes, signature: str) -> None:
        with requests.Session() as session:  # one connection per delivery, as Stripe opens
            start.wait()
            try:
                response = session.post(
                    url,
                    data=payload,
                    headers={"Content-Type": "application/json", "Stripe-Signature": signature},
                    timeout=120,
                )
            except requests.ConnectionError as error:
                errors.append(repr(error))
            else:
                answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=deliver, args=delivery) for delivery in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    # Each one verified and recorded (the devstack does not emulate the template's
    # WebhookReservedConcurrency throttling).
    assert len(answers) == CONCURRENT_WEBHOOKS
    assert {status for status, _ in answers} == {200}
    assert all(body["received"] is True for _, body in answers)


def test_swagger_ui_renders_every_operation_under_its_strict_policy(
    devstack: RunningDevStack, page: Page, tmp_path: Path
) -> None:
    """The API reference a new user opens first: no CDN, no inline script, and the CSP does not
    stop Swagger UI from rendering the document."""
    violations: list[str] = []
    failed: list[str] = []
    page.on("console", lambda message: violations.append(message.text))
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(f"{devstack.base_url}/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Payments backbone API")
    operations = page.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible()
    document = requests.get(f"{devstack.base_url}/v1/openapi.json", timeout=30).json()
    count = sum(len(item) for item in document["paths"].values())
    count += sum(len(item) for item in document["webhooks"].values())
    expect(operations).to_have_count(count)
    shot = Path(os.environ.get("SCREENSHOTS", tmp_path)) / "swagger-ui.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    assert not [text for text in violations if "Content Security Policy" in text], violations
    assert failed == []
