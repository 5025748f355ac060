"""The whole Stripe slice over HTTP in the devstack: checkout, pay in the sandbox's hosted page,
webhooks, partial and full refunds, and a ledger that ends where it started."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from tests.e2e.conftest import RunningDevStack


def _headers(devstack: RunningDevStack, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {devstack.info['api_key']}"}
    if key:
        headers["Idempotency-Key"] = key
    return headers


def _status(devstack: RunningDevStack, payment_id: str) -> dict[str, Any]:
    response = requests.get(
        f"{devstack.base_url}/v1/payments/{payment_id}", headers=_headers(devstack), timeout=10
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait_for(
    devstack: RunningDevStack, payment_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        payment = _status(devstack, payment_id)
        if done(payment) or time.monotonic() > deadline:
            return payment
        time.sleep(0.2)


def _checkout(devstack: RunningDevStack, amount: int = 4500) -> dict[str, Any]:
    response = requests.post(
        f"{devstack.base_url}/v1/checkout",
        headers=_headers(devstack, f"e2e-{uuid.uuid4().hex}"),
        json={
            "payable_type": "booking",
            "payable_id": f"bk_{uuid.uuid4().hex[:8]}",
            "amount": amount,
            "currency": "USD",
            "description": "Deep tissue massage",
            "success_url": "http://localhost:8080/paid",
            "customer": {"email": "ann@example.com", "name": "Ann"},
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _pay(checkout: dict[str, Any]) -> None:
    """What a customer does: open the hosted page and press Pay."""
    page = requests.get(checkout["checkout_url"], timeout=10)
    assert page.status_code == 200
    assert 'action="/pay/' in page.text
    assert ">Pay<" in page.text or "Pay</button>" in page.text
    paid = requests.post(f"{checkout['checkout_url']}/pay", allow_redirects=False, timeout=10)
    assert paid.status_code == 303
    assert paid.headers["Location"] == "http://localhost:8080/paid"


def _refund(devstack: RunningDevStack, payment_id: str, **body: Any) -> dict[str, Any]:
    response = requests.post(
        f"{devstack.base_url}/v1/payments/{payment_id}/refunds",
        headers=_headers(devstack, f"refund-{uuid.uuid4().hex}"),
        json=body,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    refund: dict[str, Any] = response.json()
    return refund


def _balances(devstack: RunningDevStack) -> dict[str, int]:
    from payments.store import repositories

    balances = {
        f"{account}:{currency}": int(debits) - int(credits)
        for (account, currency), (debits, credits) in repositories.tenant_balances(
            devstack.info["tenant_id"]
        ).items()
    }
    return {account: balance for account, balance in balances.items() if balance}


def test_checkout_pay_refund_partially_then_fully(
    devstack: RunningDevStack, devstack_aws: None
) -> None:
    before = _balances(devstack)
    checkout = _checkout(devstack)
    assert checkout["status"] == "pending"
    _pay(checkout)
    payment_id = checkout["payment_id"]
    paid = _wait_for(devstack, payment_id, lambda p: p["status"] == "succeeded")
    assert (paid["status"], paid["amount_captured"]) == ("succeeded", 4500)

    first = _refund(devstack, payment_id, amount=1500, reason="requested_by_customer")
    assert (first["amount"], first["status"]) == (1500, "succeeded")
    partial = _wait_for(devstack, payment_id, lambda p: p["status"] == "partially_refunded")
    assert (partial["status"], partial["amount_refunded"]) == ("partially_refunded", 1500)

    rest = _refund(devstack, payment_id)
    assert rest["amount"] == 3000
    done = _wait_for(devstack, payment_id, lambda p: p["status"] == "refunded")
    assert (done["status"], done["amount_refunded"], done["amount_refund_pending"]) == (
        "refunded",
        4500,
        0,
    )
    # The sandbox's charge.refunded webhooks arrived too, and were matched, not double counted.
    assert sorted((r["amount"], r["status"], r["source"]) for r in done["refunds"]) == [
        (1500, "succeeded", "api"),
        (3000, "succeeded", "api"),
    ]
    assert _balances(devstack) == before  # money in, money out: the tenant is back to zero
    verify = devstack.payctl("ledger", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_chaotic_webhooks_and_dashboard_refunds_still_settle_exactly_once(
    devstack: RunningDevStack, devstack_aws: None
) -> None:
    sandbox = devstack.info["sandbox_urls"]["stripe"]
    chaos = {"duplicate_deliveries": 2, "shuffle": True}
    assert requests.post(f"{sandbox}/_sandbox/chaos", json=chaos, timeout=10).status_code == 200
    try:
        checkout = _checkout(devstack, amount=2000)
        _pay(checkout)
        payment_id = checkout["payment_id"]
        _wait_for(devstack, payment_id, lambda p: p["status"] == "succeeded")
        charge = _charge_of(devstack, payment_id)
        refund = requests.post(
            f"{sandbox}/_sandbox/charges/{charge}/refund", json={"amount": 500}, timeout=10
        )
        assert refund.status_code == 200, refund.text
        settled = _wait_for(devstack, payment_id, lambda p: p["amount_refunded"] == 500)
        idle = requests.post(
            f"{sandbox}/_sandbox/wait_for_deliveries", json={"timeout": 10}, timeout=20
        )
        assert idle.json()["idle"] is True
        settled = _status(devstack, payment_id)
    finally:
        requests.post(
            f"{sandbox}/_sandbox/chaos",
            json={"duplicate_deliveries": 0, "shuffle": False},
            timeout=10,
        )
    assert (settled["status"], settled["amount_captured"], settled["amount_refunded"]) == (
        "partially_refunded",
        2000,
        500,
    )
    assert [(r["amount"], r["source"]) for r in settled["refunds"]] == [(500, "provider")]
    verify = devstack.payctl("ledger", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _charge_of(devstack: RunningDevStack, payment_id: str) -> str:
    """The Stripe charge behind a payment, asked of the sandbox with the tenant's key."""
    import stripe

    from payments.services.credentials import provider_credentials

    credentials = provider_credentials(devstack.info["tenant_id"], "stripe")
    client = stripe.StripeClient(
        credentials.require("secret_key"),
        base_addresses={"api": devstack.info["sandbox_urls"]["stripe"]},
    )
    payment = _status(devstack, payment_id)
    session = client.v1.checkout.sessions.retrieve(payment["provider_reference"])
    intent = client.v1.payment_intents.retrieve(str(session.payment_intent))
    return str(intent.latest_charge)


def test_the_make_dev_printout_shows_how_to_take_a_payment(devstack: RunningDevStack) -> None:
    printed = devstack.printed()
    assert "/v1/checkout" in printed
    assert "Stripe sandbox" in printed
