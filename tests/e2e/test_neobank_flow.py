"""A security-token trade over HTTP in the devstack, as `make dev` prints it: register a buyer
with NEO Bank (the sandbox verifies our request signature, answers a CPRN pending, then verifies
the buyer by a signed webhook to WebhookNeobankFunction), trade for it, the bank clears then
settles it (signed webhooks), and the buyer's balance and the ledger show the money."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import requests

from tests.e2e.conftest import RunningDevStack, eventually


def _run(devstack: RunningDevStack, route: str, **placeholders: str) -> dict[str, Any]:
    script = devstack.printed_command(route)
    for name, value in placeholders.items():
        script = script.replace(f"<{name}>", value)
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def _get(devstack: RunningDevStack, path: str) -> dict[str, Any]:
    response = requests.get(
        f"{devstack.base_url}{path}",
        headers={"Authorization": f"Bearer {devstack.info['api_key']}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_printed_trade_registers_verifies_clears_and_settles(
    devstack: RunningDevStack,
) -> None:
    bank = devstack.info["sandbox_urls"]["neobank"]
    profile = _run(devstack, "$BASE/v1/profiles")
    assert profile["status"] in ("pending", "verified"), profile
    assert profile["cprn"].startswith("CPRN-")

    def verified() -> dict[str, Any] | None:
        current = _get(devstack, f"/v1/profiles/{profile['profile_id']}")
        return current if current["verified"] else None

    assert eventually(verified, timeout=20), "the bank's registration webhook never verified it"

    trade = _run(devstack, "$BASE/v1/trades", profile_id=profile["profile_id"])
    assert trade["status"] == "pending", trade
    assert trade["tx_id"].startswith("TXN-")

    def moved(status: str, expected: str) -> dict[str, Any]:
        answer = requests.post(
            f"{bank}/_sandbox/payments/{trade['tx_id']}/status", json={"status": status}, timeout=10
        )
        assert answer.status_code == 200, answer.text

        def reached() -> dict[str, Any] | None:
            current = _get(devstack, f"/v1/trades/{trade['trade_id']}")
            return current if current["status"] == expected else None

        result = eventually(reached, timeout=20)
        assert result, f"the trade never became {expected}"
        return dict(result)

    cleared = moved("SUCCESS", "succeeded")
    assert cleared["settlement"] == "in_transit"
    assert cleared["settlement_due_at"]
    settled = moved("SETTLED", "settled")
    assert settled["settlement"] == "settled"
    assert settled["wallet_address"] == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"

    balance = _get(devstack, f"/v1/profiles/{profile['profile_id']}/balance")
    assert balance["balances"] == [
        {"currency": "USD", "cleared": 0, "settled": 25000, "total": 25000}
    ]
    # The bank verified every request we sent it, and every webhook it sent was answered 200.
    seen = requests.get(f"{bank}/_sandbox/requests", timeout=10).json()
    ours = [r for r in seen["data"] if r["client_id"] == devstack.info["demo_neobank_client_id"]]
    assert ours, seen
    assert all(r["verified"] for r in ours), ours
    remote = requests.get(f"{bank}/_sandbox/payments/{trade['tx_id']}", timeout=10).json()
    assert [w["status"] for w in remote["webhooks"]] == ["SUCCESS", "SETTLED"], remote
    assert all(w["delivered"] for w in remote["webhooks"]), remote
    # The buyer's trade e-mails reached Omnisend once each, to the profile's address.
    omnisend = devstack.info["sandbox_urls"]["omnisend"]

    def emails(name: str) -> list[dict[str, Any]]:
        events = requests.get(f"{omnisend}/_sandbox/events", timeout=10).json()["data"]
        return [
            event
            for event in events
            if event["body"]["eventName"] == name
            and event["body"]["properties"].get("trade_id") == trade["trade_id"]
        ]

    assert eventually(lambda: emails("Security Token Trade Settled"), timeout=20)
    time.sleep(2)  # any duplicate would have arrived by now
    [success] = emails("Security Token Trade Success")
    assert success["times_received"] == 1
    assert success["body"]["contact"] == {"email": "ada@example.com"}
    assert success["body"]["properties"]["trade_amount"] == "250.00"
    assert success["body"]["properties"]["token_symbol"] == "ACME"
    assert len(emails("Security Token Trade Settled")) == 1
    verified_ledger = devstack.payctl("ledger", "verify", "--tenant", devstack.info["tenant_id"])
    assert verified_ledger.returncode == 0, verified_ledger.stdout + verified_ledger.stderr
