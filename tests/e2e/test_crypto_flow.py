"""A crypto payment over HTTP in the devstack, as `make dev` prints it: POST /v1/crypto/payments,
the NOWPayments sandbox moves the payment to finished and signs one IPN per status, each IPN
reaches WebhookNowpaymentsFunction and is confirmed with GET /v1/payment before it counts; the
payment succeeds with its capture in the coin, and the demo tenant's ledger verifies."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import requests

from tests.e2e.conftest import RunningDevStack, eventually

ROUTE = "$BASE/v1/crypto/payments"


def test_the_printed_crypto_payment_settles_through_signed_confirmed_ipns(
    devstack: RunningDevStack,
) -> None:
    printed = devstack.printed()
    advance = re.search(r"(http://\S+/_sandbox/payments/)<provider_reference>/advance", printed)
    assert advance, printed
    created = devstack.run_printed(ROUTE)
    assert created["status"] == "pending", created
    assert created["pay_currency"] == "BTC"
    assert Decimal(created["pay_amount"]) > 0
    assert created["pay_address"]
    assert (created["price_amount"], created["price_currency"]) == (2500, "USD")

    # The customer pays: the sandbox walks waiting -> confirming -> confirmed -> finished.
    moved = requests.post(
        f"{advance.group(1)}{created['provider_reference']}/advance",
        json={"status": "finished"},
        timeout=10,
    )
    assert moved.status_code == 200, moved.text
    sandbox = advance.group(1).split("/_sandbox/")[0]
    idle = requests.post(f"{sandbox}/_sandbox/wait_for_ipns", json={"timeout": 20}, timeout=30)
    assert idle.json() == {"idle": True}

    def succeeded() -> dict[str, Any] | None:
        payment = devstack.payment(created["payment_id"])
        return payment if payment["status"] == "succeeded" else None

    payment = eventually(succeeded, timeout=20) or devstack.payment(created["payment_id"])
    assert payment["status"] == "succeeded", payment
    assert payment["currency"] == "BTC"
    assert Decimal(str(payment["amount_captured"])) == Decimal(created["pay_amount"])

    # Every IPN the sandbox sent was signed and delivered; the ledger holds the coin exactly.
    state = requests.get(
        f"{sandbox}/_sandbox/payments/{created['provider_reference']}", timeout=10
    ).json()
    assert state["payment_status"] == "finished", state
    ipns = state["ipns"]
    assert [ipn["payment_status"] for ipn in ipns][-1] == "finished", ipns
    assert all(ipn["delivered"] and not ipn["forged"] for ipn in ipns), ipns
    verified = devstack.payctl("ledger", "verify", "--tenant", devstack.info["tenant_id"])
    assert verified.returncode == 0, verified.stdout + verified.stderr
