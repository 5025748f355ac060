"""The dashboard in a real browser (Debian's chromium through Playwright) against the devstack:
what a merchant and the operator do with it, and what they see. Every run writes screenshots of
the main views (docs/dashboard.md#screenshots) so a person can look at them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect

from tests.conftest import ROOT
from tests.e2e.conftest import BROWSER_TIMEOUT_MS, SCREENSHOTS_WRITTEN, RunningDevStack, eventually

SCREENSHOTS = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or ROOT / "tests/e2e/screenshots")
TIMEOUT_MS = BROWSER_TIMEOUT_MS
# Reported to the page by the browser when the Content-Security-Policy blocks something.
CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@dataclass
class Watched:
    """A page and what went wrong in it: console errors, uncaught errors, dialogs."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        violations: list[str] = self.page.evaluate("window.__csp || []")
        return violations

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.dialogs == [], self.dialogs
        assert self.csp_violations() == []


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US", color_scheme="light"
    )
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch = Watched(page)

    def console(message: ConsoleMessage) -> None:
        # A refused key answers 401/404 on purpose in some tests; the page shows those itself.
        if message.type == "error" and "Failed to load resource" not in message.text:
            watch.errors.append(f"console: {message.text}")

    def dialog(opened: Dialog) -> None:
        watch.dialogs.append(f"{opened.type}: {opened.message}")
        opened.dismiss()

    page.on("console", console)
    page.on("pageerror", lambda error: watch.errors.append(f"pageerror: {error}"))
    page.on("dialog", dialog)
    yield watch
    context.close()


def _dashboard(devstack: RunningDevStack) -> str:
    """The dashboard's address as `make dev` prints it (the issue: it must)."""
    printed = re.search(r"^  Dashboard +(\S+)", devstack.printed(), re.MULTILINE)
    assert printed, devstack.printed()
    assert printed.group(1) == f"{devstack.base_url}/dashboard"
    return printed.group(1)


def _auth(key: str, idempotency: bool = False) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency:
        headers["Idempotency-Key"] = f"e2e-dash-{uuid.uuid4().hex}"
    return headers


def _shoot(page: Page, folder: Path, name: str, *, full_page: bool = True) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    SCREENSHOTS_WRITTEN.append(path)


def sign_in(page: Page, devstack: RunningDevStack, key: str, route: str = "") -> None:
    page.goto(f"{_dashboard(devstack)}#/signin" + (f"?next={route}" if route else ""))
    page.get_by_test_id("signin-key").fill(key)
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("sign-out")).to_be_visible()


def _paid_checkout(devstack: RunningDevStack, **fields: Any) -> dict[str, Any]:
    """A Stripe checkout paid on the sandbox's hosted page, once the payment succeeded."""
    body = {
        "payable_type": "booking",
        "payable_id": f"bk_{uuid.uuid4().hex[:10]}",
        "amount": 4500,
        "currency": "USD",
        "description": "Deep tissue massage",
        "success_url": "http://localhost:8080/paid",
        **fields,
    }
    created = requests.post(
        f"{devstack.base_url}/v1/checkout",
        headers=_auth(devstack.info["api_key"], idempotency=True),
        json=body,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    checkout: dict[str, Any] = created.json()
    hosted = requests.get(checkout["checkout_url"], timeout=10)
    assert hosted.status_code == 200
    assert 'action="/pay/' in hosted.text
    paid = requests.post(f"{checkout['checkout_url']}/pay", allow_redirects=False, timeout=10)
    assert paid.status_code == 303, paid.text
    succeeded = eventually(
        lambda: devstack.payment(checkout["payment_id"])["status"] == "succeeded", timeout=30
    )
    assert succeeded, devstack.payment(checkout["payment_id"])
    return checkout


@pytest.fixture(scope="module")
def customer_payment(devstack: RunningDevStack) -> dict[str, Any]:
    """The demo tenant's paid payment of a customer with an e-mail no other payment has."""
    email = f"dash-{uuid.uuid4().hex[:10]}@example.com"
    checkout = _paid_checkout(devstack, customer={"email": email, "name": "Dana Browser"})
    return {"email": email, "payment_id": checkout["payment_id"]}


def test_a_merchant_finds_a_payment_by_e_mail_and_refunds_part_of_it(
    devstack: RunningDevStack,
    watched: Watched,
    screenshots: Path,
    customer_payment: dict[str, Any],
) -> None:
    page = watched.page
    payment_id = customer_payment["payment_id"]
    sign_in(page, devstack, devstack.info["api_key"])
    expect(page.get_by_test_id("page-title")).to_have_text("Payments")
    expect(page.get_by_test_id("payment-row").first).to_be_visible()

    # The search box finds exactly that payment, by its customer's e-mail (any case).
    page.get_by_test_id("payments-search").fill(customer_payment["email"].upper())
    page.get_by_test_id("payments-search").press("Enter")
    rows = page.get_by_test_id("payment-row")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(payment_id)
    expect(rows).to_contain_text("$45.00")
    expect(rows).to_contain_text("succeeded")
    rows.get_by_test_id("payment-link").click()

    expect(page).to_have_url(f"{_dashboard(devstack)}#/payments/{payment_id}")
    expect(page.get_by_test_id("payment-status")).to_have_text("succeeded")
    expect(page.get_by_test_id("amount-captured")).to_have_text("$45.00")
    expect(page.get_by_test_id("amount-refunded")).to_have_text("$0.00")
    expect(page.get_by_text(customer_payment["email"], exact=True)).to_be_visible()
    expect(page.get_by_test_id("timeline-item").last).to_contain_text("succeeded")
    expect(page.get_by_test_id("ledger-row").first).to_be_visible()
    history = page.get_by_test_id("timeline-item").count()

    # Refund 10.00 of it through the dialog, confirmed.
    page.get_by_test_id("refund-button").click()
    dialog = page.get_by_test_id("refund-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Part of it").check()
    dialog.get_by_test_id("refund-amount").fill("10.00")
    expect(dialog.get_by_test_id("refund-summary")).to_have_text(
        "Refund $10.00 of $45.00 refundable."
    )
    dialog.get_by_test_id("refund-confirm").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("toast").filter(has_text="Refund ")).to_contain_text("$10.00")

    # The page shows the refund at once: amounts, the refund row and the new timeline entry.
    expect(page.get_by_test_id("amount-refunded")).to_have_text("$10.00")
    expect(page.get_by_test_id("amount-refundable")).to_have_text("$35.00")
    expect(page.get_by_test_id("refund-row")).to_have_count(1)
    expect(page.get_by_test_id("refund-row")).to_contain_text("$10.00")
    entry = (
        page.get_by_test_id("timeline-item")
        .filter(has_text="from succeeded")
        .filter(has_text="partially_refunded")
    )
    expect(entry).to_have_count(1)
    expect(entry).not_to_contain_text("not applied")
    assert page.get_by_test_id("timeline-item").count() > history
    expect(page.get_by_test_id("payment-status")).to_have_text("partially_refunded")
    _shoot(page, screenshots, "payment")
    payment = devstack.payment(payment_id)
    assert (payment["status"], payment["amount_refunded"]) == ("partially_refunded", 1000)
    watched.assert_clean()


def test_html_and_script_in_a_payment_render_as_text_and_never_run(
    devstack: RunningDevStack, watched: Watched
) -> None:
    checkout = _paid_checkout(
        devstack,
        description=f"Massage {XSS}",
        metadata={"note": XSS, "<b>key</b>": "<a href=javascript:alert(1)>x</a>"},
        customer={"email": "xss@example.com", "name": XSS},
    )
    page = watched.page
    sign_in(page, devstack, devstack.info["api_key"], f"/payments/{checkout['payment_id']}")
    expect(page.get_by_test_id("payment-status")).to_have_text("succeeded")
    expect(page.get_by_test_id("payment-description")).to_have_text(f"Massage {XSS}")
    expect(page.get_by_text(XSS, exact=True)).to_have_count(2)  # the metadata and the name
    expect(page.get_by_text("<b>key</b>", exact=True)).to_be_visible()
    expect(page.get_by_text("<a href=javascript:alert(1)>x</a>", exact=True)).to_be_visible()
    # Nothing of it became an element, and nothing ran.
    view = page.locator("#view")
    assert view.locator("img[src=x], script, b, a[href^=javascript]").count() == 0
    # And in the list, where the description is a table cell.
    page.get_by_test_id("nav-payments").click()
    page.get_by_test_id("payments-search").fill(checkout["payment_id"])
    page.get_by_test_id("payments-search").press("Enter")
    expect(page.get_by_test_id("payment-row")).to_have_count(1)
    expect(page.get_by_test_id("payment-row")).to_contain_text(f"Massage {XSS}")
    assert view.locator("img[src=x], script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    watched.assert_clean()


def _expect_chart_with_data(page: Page, testid: str) -> None:
    """A chart of that test id is drawn (Chart.js has it) with something to show (not all zeros)."""
    page.wait_for_function(
        """(testid) => {
            const canvases = document.querySelectorAll(`[data-testid=${testid}] canvas`);
            return [...canvases].some((canvas) => {
                const chart = globalThis.Chart && globalThis.Chart.getChart(canvas);
                return Boolean(chart) && canvas.clientHeight > 100 && chart.data.datasets.some(
                    (set) => set.data.some((value) => value > 0));
            });
        }""",
        arg=testid,
        timeout=TIMEOUT_MS,
    )
    # Each chart's value axis fits its values: the tallest fills a visible part of it (a whole-
    # number axis from 0 to 1 would flatten 0.0014 BTC to nothing).
    for title, tallest, axis_max in page.evaluate(
        """(testid) => [...document.querySelectorAll(`[data-testid=${testid}] canvas`)].map(
            (canvas) => {
                const chart = globalThis.Chart.getChart(canvas);
                const values = chart.data.datasets.flatMap((set) => set.data.map(Number));
                return [canvas.getAttribute("aria-label"), Math.max(...values), chart.scales.y.max];
            })""",
        testid,
    ):
        assert tallest <= axis_max, (title, tallest, axis_max)
        assert tallest == 0 or tallest >= axis_max / 20, (title, tallest, axis_max)


def _provider(devstack: RunningDevStack, name: str) -> dict[str, Any]:
    answer = requests.get(
        f"{devstack.base_url}/v1/providers", headers=_auth(devstack.info["api_key"]), timeout=10
    )
    assert answer.status_code == 200, answer.text
    provider: dict[str, Any] = next(p for p in answer.json()["data"] if p["name"] == name)
    return provider


def test_a_rejected_webhooks_raw_payload_is_shown_as_text(
    devstack: RunningDevStack, watched: Watched, screenshots: Path
) -> None:
    marker = f"evt_forged_{uuid.uuid4().hex[:12]}"
    body = json.dumps({"id": marker, "type": "checkout.session.completed", "note": "<b>forged</b>"})
    forged = requests.post(
        _provider(devstack, "stripe")["webhook_url"],
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=bad"},
        timeout=10,
    )
    assert forged.status_code == 400, forged.text
    assert forged.json()["error"]["code"] == "signature_verification_failed"
    digest = hashlib.sha256(body.encode()).hexdigest()

    page = watched.page
    sign_in(page, devstack, devstack.info["api_key"], "/webhooks")
    expect(page.get_by_test_id("page-title")).to_have_text("Webhooks")
    expect(page.get_by_test_id("health-card").first).to_be_visible()
    expect(page.get_by_test_id("webhook-url").first).to_be_visible()
    page.locator("summary", has_text="Filters").click()
    filters = page.get_by_test_id("inbox-filters")
    filters.get_by_label("Status").select_option("rejected")
    filters.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(f"{_dashboard(devstack)}#/webhooks?status=rejected&days=7")
    # An unverified body's event id is not trusted: the inbox names it by the body's digest.
    row = page.get_by_test_id("inbox-row").filter(has_text=f"rejected_{digest}")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("rejected")
    expect(row).to_contain_text("unverified")
    expect(row).to_contain_text("No signatures found matching the expected signature")
    expect(page.get_by_test_id("inbox-row").filter(has_text="applied")).to_have_count(0)
    row.get_by_test_id("raw-payload-button").click()
    dialog = page.get_by_test_id("raw-payload-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_test_id("raw-payload-about")).to_contain_text("stripe · unverified")
    expect(dialog.get_by_test_id("raw-payload-about")).to_contain_text(f"rejected_{digest}")
    payload = dialog.get_by_test_id("raw-payload")
    expect(payload).to_contain_text(f'"id": "{marker}"')
    expect(payload).to_contain_text('"note": "<b>forged</b>"')
    assert dialog.locator("b").count() == 0
    _shoot(page, screenshots, "webhook-raw-payload", full_page=False)  # the modal as seen
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    # The whole view, unfiltered, with its charts drawn.
    page.goto(f"{_dashboard(devstack)}#/webhooks")
    expect(page.get_by_test_id("inbox-row").first).to_be_visible()
    expect(page.get_by_test_id("health-card").filter(has_text="stripe")).to_contain_text(
        "Last rejected"
    )
    _expect_chart_with_data(page, "chart-outcomes")
    _expect_chart_with_data(page, "chart-providers")
    _shoot(page, screenshots, "webhooks")
    watched.assert_clean()


class FailingReceiver:
    """A merchant's callback URL that fails: 503 with a Retry-After of an hour, so the only
    attempts after the first are the ones asked for (no automatic retry in between)."""

    def __init__(self) -> None:
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests += 1
                self.send_response(503)
                self.send_header("Retry-After", "3600")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/{uuid.uuid4().hex}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def failing_endpoint(devstack: RunningDevStack) -> Iterator[tuple[FailingReceiver, str]]:
    """A failing receiver registered as a callback endpoint; deleted afterwards."""
    receiver = FailingReceiver()
    created = requests.post(
        f"{devstack.base_url}/v1/callbacks/endpoints",
        headers=_auth(devstack.info["api_key"]),
        # Disputes never happen in the devstack: the endpoint gets only the test pings.
        json={"url": receiver.url, "event_types": ["payment.disputed"], "enabled": True},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["endpoint_id"]
    try:
        yield receiver, endpoint_id
    finally:
        deleted = requests.delete(
            f"{devstack.base_url}/v1/callbacks/endpoints/{endpoint_id}",
            headers=_auth(devstack.info["api_key"]),
            timeout=10,
        )
        receiver.close()
        assert deleted.status_code == 204, deleted.text


def _delivery(devstack: RunningDevStack, event_id: str) -> dict[str, Any]:
    answer = requests.get(
        f"{devstack.base_url}/v1/callbacks/deliveries",
        params={"event_id": event_id},
        headers=_auth(devstack.info["api_key"]),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    (delivery,) = answer.json()["data"]
    return delivery  # type: ignore[no-any-return]


def test_a_failed_delivery_is_retried_from_the_callbacks_view(
    devstack: RunningDevStack,
    watched: Watched,
    screenshots: Path,
    failing_endpoint: tuple[FailingReceiver, str],
) -> None:
    receiver, endpoint_id = failing_endpoint
    sent = requests.post(
        f"{devstack.base_url}/v1/callbacks/endpoints/{endpoint_id}/test",
        headers=_auth(devstack.info["api_key"]),
        timeout=10,
    )
    assert sent.status_code in (200, 201, 202), sent.text
    event_id, delivery_id = sent.json()["event_id"], sent.json()["delivery_id"]
    failed_once = eventually(lambda: len(_delivery(devstack, event_id)["attempts"]) == 1, 30)
    assert failed_once, _delivery(devstack, event_id)
    assert receiver.requests == 1
    assert _delivery(devstack, event_id)["attempts"][0]["status_code"] == 503

    page = watched.page
    sign_in(page, devstack, devstack.info["api_key"], "/callbacks")
    expect(page.get_by_test_id("page-title")).to_have_text("Callbacks")
    expect(page.get_by_test_id("endpoint-row").filter(has_text=endpoint_id)).to_contain_text(
        receiver.url
    )
    filters = page.get_by_test_id("deliveries-filters")
    filters.get_by_label("Event id").fill(event_id)
    filters.get_by_role("button", name="Apply").click()
    row = page.get_by_test_id("delivery-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(delivery_id)
    expect(row).to_contain_text("ping")
    expect(row).to_contain_text("1 attempt · last retry")
    _shoot(page, screenshots, "callbacks")

    row.get_by_test_id("delivery-retry").click()
    expect(page.get_by_test_id("toast").filter(has_text=delivery_id)).to_contain_text(
        "queued again"
    )
    # The receiver gets one more request; the view shows the new attempt once it is made.
    assert eventually(lambda: receiver.requests == 2, 30), receiver.requests
    expect(row).to_contain_text("2 attempts · last retry", timeout=45_000)
    row.locator("summary").click()
    expect(row.get_by_test_id("delivery-attempt")).to_have_count(2)
    expect(row.get_by_test_id("delivery-attempt").last).to_contain_text("#2")
    expect(row.get_by_test_id("delivery-attempt").last).to_contain_text("503")
    assert receiver.requests == 2
    watched.assert_clean()


def test_the_theme_switch_changes_the_page_and_survives_a_reload(
    devstack: RunningDevStack, watched: Watched
) -> None:
    page = watched.page
    sign_in(page, devstack, devstack.info["api_key"])
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "light")  # the context prefers light
    background = "getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    switch = page.get_by_test_id("theme-switch")
    expect(switch).to_have_text("Dark theme")
    switch.click()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(switch).to_have_text("Light theme")
    dark = page.evaluate(background)
    assert dark != light, (light, dark)
    assert _luminance(dark) < _luminance(light), (light, dark)

    page.reload()
    expect(page.get_by_test_id("page-title")).to_have_text("Payments")  # still signed in
    expect(html).to_have_attribute("data-theme", "dark")
    assert page.evaluate(background) == dark
    page.get_by_test_id("theme-switch").click()
    expect(html).to_have_attribute("data-theme", "light")
    assert page.evaluate(background) == light
    watched.assert_clean()


def _luminance(css: str) -> float:
    red, green, blue = (float(part) for part in css[css.index("(") + 1 : -1].split(",")[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_the_operator_sees_both_tenants_and_a_merchant_key_is_no_operator(
    devstack: RunningDevStack, watched: Watched, screenshots: Path
) -> None:
    info, page = devstack.info, watched.page
    sign_in(page, devstack, info["operator_key"])
    expect(page.get_by_test_id("page-title")).to_have_text("Tenants")
    tenants = page.get_by_test_id("tenant-row")
    expect(tenants.filter(has_text=info["tenant_id"])).to_contain_text(info["tenant_name"])
    expect(tenants.filter(has_text=info["second_tenant_id"])).to_contain_text(
        info["second_tenant_name"]
    )
    assert tenants.count() >= 2
    expect(page.get_by_test_id("nav-admin-tenants")).to_be_visible()
    expect(page.get_by_test_id("nav-payments")).to_have_count(0)
    _shoot(page, screenshots, "admin-tenants")
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("signin-form")).to_be_visible()

    # A merchant session: no operator navigation, and the operator views refuse it.
    sign_in(page, devstack, info["api_key"])
    expect(page.get_by_test_id("nav-payments")).to_be_visible()
    expect(page.locator("[data-testid^=nav-admin-]")).to_have_count(0)
    page.goto(f"{_dashboard(devstack)}#/admin/tenants")
    expect(page.get_by_test_id("error-state")).to_contain_text("needs an operator key")
    expect(page.get_by_test_id("tenant-row")).to_have_count(0)
    refused = page.evaluate(
        """async (key) => (await fetch(new URL("v1/admin/tenants", location.href),
            {headers: {Authorization: `Bearer ${key}`}})).status""",
        info["api_key"],
    )
    assert refused in (401, 403), refused
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("signin-form")).to_be_visible()

    # A merchant key dressed as an operator's is refused at sign-in.
    page.get_by_test_id("signin-key").fill(f"opk_{info['api_key']}")
    expect(page.get_by_test_id("signin-key")).to_have_value(f"opk_{info['api_key']}")
    page.get_by_test_id("signin-submit").click()
    expect(page.get_by_test_id("signin-error")).to_contain_text("refused this key")
    expect(page.get_by_test_id("sign-out")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('dashboard.key')") is None
    watched.assert_clean()


def test_another_tenant_finds_nothing_of_the_first_ones(
    devstack: RunningDevStack, watched: Watched, customer_payment: dict[str, Any]
) -> None:
    page = watched.page
    sign_in(page, devstack, devstack.info["second_api_key"])
    page.get_by_test_id("payments-search").fill(customer_payment["email"])
    page.get_by_test_id("payments-search").press("Enter")
    expect(page.get_by_test_id("empty-state")).to_contain_text(
        f"No payment matches “{customer_payment['email']}”."
    )
    expect(page.get_by_test_id("payment-row")).to_have_count(0)

    page.goto(f"{_dashboard(devstack)}#/payments/{customer_payment['payment_id']}")
    expect(page.get_by_test_id("error-state")).to_contain_text("payment_not_found")
    expect(page.get_by_test_id("amount-captured")).to_have_count(0)
    expect(page.get_by_text("Dana Browser")).to_have_count(0)
    watched.assert_clean()


def test_screenshots_of_the_main_views_with_real_data(
    devstack: RunningDevStack, watched: Watched, screenshots: Path
) -> None:
    """Written last in the module, so the list shows the payments the tests above made."""
    page = watched.page
    sign_in(page, devstack, devstack.info["api_key"])
    rows = page.get_by_test_id("payment-row")
    expect(rows.filter(has_text="partially_refunded")).not_to_have_count(0)
    expect(rows.filter(has_text="$45.00").first).to_be_visible()
    _shoot(page, screenshots, "payments")

    page.get_by_test_id("nav-providers").click()
    expect(page.get_by_test_id("page-title")).to_have_text("Providers")
    expect(page.get_by_test_id("provider-card").filter(has_text="Stripe")).to_contain_text(
        "Webhook URL"
    )
    _shoot(page, screenshots, "providers")

    page.get_by_test_id("nav-reports").click()
    expect(page.get_by_test_id("page-title")).to_have_text("Reports")
    totals = page.get_by_test_id("report-total-row").filter(has_text="stripe")
    expect(totals.filter(has_text="USD")).to_contain_text("$")
    _expect_chart_with_data(page, "chart-volume")
    _expect_chart_with_data(page, "chart-count")
    _shoot(page, screenshots, "reports")

    # The list in the dark theme, and at a phone's width (rows become labelled cards).
    page.get_by_test_id("nav-payments").click()
    page.get_by_test_id("theme-switch").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(rows.first).to_be_visible()
    _shoot(page, screenshots, "payments-dark")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_test_id("nav-toggle")).to_be_visible()
    expect(page.get_by_test_id("nav-payments")).to_be_hidden()
    _shoot(page, screenshots, "payments-phone")
    page.get_by_test_id("nav-toggle").click()
    expect(page.get_by_test_id("nav-payments")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    watched.assert_clean()
