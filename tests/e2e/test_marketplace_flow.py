"""The token marketplace reference app (examples/marketplace) over HTTP in the devstack: a buyer
registers through the app (POST /v1/profiles; the NEO Bank sandbox verifies them a second later
by a signed webhook, and our profile.verified callback tells the app), orders tokens (POST
/v1/trades), the bank clears then settles the trade (its admin moves), and our trade.succeeded
and trade.settled callbacks make the order PAID, then SETTLED with its tokens delivered, once,
even when the first delivery of trade.settled fails and is retried."""

from __future__ import annotations

import json
import secrets
import subprocess
from typing import Any

import requests

from tests.e2e.conftest import RunningDevStack, eventually

WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
ACME = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"


def _market(devstack: RunningDevStack) -> str:
    url = devstack.info["marketplace_app_url"]
    assert url.startswith("http://"), devstack.info
    return url


def _get(devstack: RunningDevStack, path: str) -> Any:
    response = requests.get(f"{_market(devstack)}{path}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _verified(devstack: RunningDevStack, user_id: str) -> bool:
    assert eventually(lambda: _get(devstack, f"/buyers/{user_id}")["verified"], timeout=20), (
        f"buyer {user_id} was never verified: {_get(devstack, f'/buyers/{user_id}')}"
    )
    return True


def _move(devstack: RunningDevStack, tx_id: str, status: str) -> None:
    bank = devstack.info["sandbox_urls"]["neobank"]
    answer = requests.post(
        f"{bank}/_sandbox/payments/{tx_id}/status", json={"status": status}, timeout=10
    )
    assert answer.status_code == 200, answer.text


def _order_in(devstack: RunningDevStack, order_id: str, status: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        current: dict[str, Any] = _get(devstack, f"/orders/{order_id}")
        return current if current["status"] == status else None

    # A failed first delivery is retried 5 s (+-10 %) later.
    result = eventually(reached, timeout=40)
    assert result, f"order {order_id} never became {status}"
    return dict(result)


def test_a_buyer_orders_and_the_settled_trade_delivers_the_tokens_once(
    devstack: RunningDevStack,
) -> None:
    market, user_id = _market(devstack), f"mkt_{secrets.token_hex(6)}"
    registered = requests.post(
        f"{market}/buyers",
        json={
            "user_id": user_id,
            "email": "ada@example.com",
            "name": "Ada",
            "wallet_address": WALLET,
        },
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["profile_id"].startswith("prf_")
    assert _verified(devstack, user_id)

    ordered = requests.post(
        f"{market}/orders",
        json={
            "user_id": user_id,
            "token_contract_address": ACME,
            "token_symbol": "ACME",
            "token_quantity": "10.5",
            "amount": 25000,
            "currency": "USD",
        },
        timeout=30,
    )
    assert ordered.status_code == 201, ordered.text
    order = ordered.json()
    assert order["status"] == "AWAITING_PAYMENT"
    assert order["tx_id"].startswith("TXN-")

    _move(devstack, order["tx_id"], "SUCCESS")
    paid = _order_in(devstack, order["id"], "PAID")
    assert paid["delivery"] is None

    # The first delivery of trade.settled fails (before it is verified); the API retries it.
    switched = requests.post(f"{market}/_test/fail_next", json={"count": 1}, timeout=10)
    assert switched.status_code == 200
    _move(devstack, order["tx_id"], "SETTLED")
    settled = _order_in(devstack, order["id"], "SETTLED")
    assert settled["settlement"] == "settled"
    delivery = settled["delivery"]
    assert (delivery["order_id"], delivery["trade_id"], delivery["tx_id"], delivery["to"]) == (
        order["id"],
        order["trade_id"],
        order["tx_id"],
        WALLET,
    )
    assert delivery["token"] == order["token"]  # what was ordered is what went out
    # One transfer for the trade: the one the order records.
    made = _get(devstack, "/_test/transfers")["data"]
    transfers = [t for t in made if t["trade_id"] == order["trade_id"]]
    assert transfers == [{**delivery, "delivered_at": settled["delivered_at"]}], transfers
    received = [d["outcome"] for d in _get(devstack, "/_test/deliveries")["data"]]
    assert "forced_failure" in received
    line = f"[marketplace] delivering 10.5 ACME ({ACME}) to {WALLET} for order {order['id']}"
    assert devstack.printed().count(line) == 1, devstack.printed()[-3000:]


def test_the_printed_marketplace_curls_register_a_buyer_and_order_after_verification(
    devstack: RunningDevStack,
) -> None:
    market = _market(devstack)

    def run(route: str) -> dict[str, Any]:
        script = devstack.printed_command(route)
        done = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, timeout=30, check=True
        )
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    buyer = run(f"{market}/buyers")
    assert buyer["user_id"] == "user_2", buyer
    assert _verified(devstack, "user_2")
    order = run(f"{market}/orders")
    assert order["status"] == "AWAITING_PAYMENT", order
    assert order["token"] == {"contract_address": ACME, "symbol": "ACME", "quantity": "10.5"}
    assert order["tx_id"].startswith("TXN-")
