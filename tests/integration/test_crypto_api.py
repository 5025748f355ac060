"""The crypto use case through the real CryptoFunction handler (moto as AWS) and the NOWPayments
sandbox over HTTP: payments with the sandbox's fields, idempotent replays, minimums and bad
input refused before NOWPayments is asked, the shared currency cache, estimates, invoices, and
a finished payment captured in the coin with a ledger that verifies.

Expected amounts are computed here from the sandbox's documented rates (BTC = USD 50000,
precision 8, BTC minimum 0.0001), not by our code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_UP, Decimal
from typing import Any

import pytest
import requests

from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.nowpayments import NowPaymentsSandbox
from payments.config import reset_settings
from payments.providers.http_json import JsonHttpClient
from payments.services.ledger_check import verify_tenant_ledger
from tests.conftest import load_event
from tests.integration.helpers import items_of_type, new_tenant

IPN_BASE = "http://127.0.0.1:9/WebhookNowpaymentsFunction/"  # nothing listens: IPNs fail


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[NowPaymentsSandbox]:
    with NowPaymentsSandbox() as running:
        yield running


@pytest.fixture
def sandbox(
    aws: Any, sandbox_server: NowPaymentsSandbox, monkeypatch: pytest.MonkeyPatch
) -> NowPaymentsSandbox:
    monkeypatch.setenv("PROVIDER_API_BASE_NOWPAYMENTS", sandbox_server.base_url)
    monkeypatch.setenv("PROVIDER_WEBHOOK_URL_NOWPAYMENTS", IPN_BASE)
    reset_settings()
    return sandbox_server


@pytest.fixture
def provider_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every request our adapter sends to NOWPayments: (method, path)."""
    calls: list[tuple[str, str]] = []
    original = JsonHttpClient.send

    def counting(self: JsonHttpClient, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        calls.append((method, url.split("/v1/", 1)[-1].split("?")[0]))
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(JsonHttpClient, "send", counting)
    return calls


@pytest.fixture
def tenant(functions: FunctionRegistry, sandbox: NowPaymentsSandbox) -> str:
    created = requests.post(f"{sandbox.base_url}/_sandbox/accounts", json={}, timeout=5)
    assert created.status_code == 201, created.text
    account = created.json()
    tenant_id = new_tenant("Crypto hotel")
    event = load_event("providers_api/put_credentials.json")
    event["path"] = event["path"].replace("/stripe/", "/nowpayments/")
    event["pathParameters"] = {"provider": "nowpayments"}
    event["requestContext"]["authorizer"]["tenant_id"] = tenant_id
    event["body"] = json.dumps(
        {
            "values": {
                "api_key": account["api_key"],
                "ipn_secret": account["ipn_secret"],
                "environment": "sandbox",
            }
        }
    )
    response = functions.invoke("ProvidersApiFunction", event)
    assert response["statusCode"] == 200, response["body"]
    return tenant_id


def call(
    functions: FunctionRegistry,
    tenant_id: str,
    sample: str,
    *,
    key: str | None = None,
    body: dict[str, Any] | None = None,
    raw_body: str | None = None,
    query: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    event = load_event(f"crypto/{sample}.json")
    if body is not None:
        merged = json.loads(event["body"])
        merged.update(body)
        event["body"] = json.dumps(merged)
    if raw_body is not None:
        event["body"] = raw_body
    if key is not None:
        event["headers"]["Idempotency-Key"] = key
        event["multiValueHeaders"]["Idempotency-Key"] = [key]
    if query is not None:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    event["requestContext"]["authorizer"]["tenant_id"] = tenant_id
    response = functions.invoke("CryptoFunction", event)
    return response["statusCode"], json.loads(response["body"])


def btc_for_usd(cents: int) -> Decimal:
    return (Decimal(cents) / 100 / Decimal(50000)).quantize(Decimal("0.00000001"), ROUND_UP)


def test_a_payment_answers_the_sandbox_fields_and_is_in_the_coin(
    functions: FunctionRegistry,
    sandbox: NowPaymentsSandbox,
    tenant: str,
    provider_calls: list[tuple[str, str]],
) -> None:
    status, created = call(functions, tenant, "create_payment", key="pay-1")
    assert status == 201, created
    expected_btc = btc_for_usd(2500)  # 0.0005
    assert created["pay_amount"] == format(expected_btc.normalize(), "f")
    assert created["pay_currency"] == "BTC"
    assert created["price_amount"] == 2500
    assert created["price_currency"] == "USD"
    assert created["status"] == "pending"
    assert created["provider_status"] == "waiting"
    assert created["payin_extra_id"] is None
    assert created["expires_at"]
    # What NOWPayments holds: our payment id as order_id, our tenant's IPN URL, the address.
    remote = next(p for p in sandbox.payments() if p["order_id"] == created["payment_id"])
    assert remote["pay_address"] == created["pay_address"]
    assert remote["ipn_callback_url"] == f"{IPN_BASE}{tenant}"
    assert Decimal(str(remote["pay_amount"])) == expected_btc
    # Our payment: in BTC, exact, with the fiat price beside it.
    [item] = [i for i in items_of_type("payment") if i["payment_id"] == created["payment_id"]]
    assert (item["currency"], Decimal(str(item["amount"]))) == ("BTC", expected_btc)
    assert (item["price_currency"], Decimal(str(item["price_amount"]))) == ("USD", 2500)
    assert item["provider_ref"] == str(remote["payment_id"])
    # Asked: currencies (first use), the minimum, the payment.
    assert provider_calls == [("GET", "currencies"), ("GET", "min-amount"), ("POST", "payment")]

    provider_calls.clear()
    status, replayed = call(functions, tenant, "create_payment", key="pay-1")
    assert (status, replayed) == (201, created)
    assert provider_calls == []  # a replay asks NOWPayments nothing
    assert len([i for i in items_of_type("payment") if i["tenant_id"] == tenant]) == 1

    status, reused = call(
        functions, tenant, "create_payment", key="pay-1", body={"payable_id": "x"}
    )
    assert (status, reused["error"]["code"]) == (422, "idempotency_key_reused")


def test_a_memo_coin_carries_its_payin_extra_id(
    functions: FunctionRegistry, sandbox: NowPaymentsSandbox, tenant: str
) -> None:
    status, created = call(
        functions, tenant, "create_payment", key="xrp", body={"pay_currency": "xrp"}
    )
    assert status == 201, created
    assert created["pay_currency"] == "XRP"
    assert created["payin_extra_id"]
    assert Decimal(created["pay_amount"]) == Decimal(50)  # USD 25.00 at USD 0.5


def test_below_the_minimum_floats_and_unknown_coins_are_refused_before_a_payment(
    functions: FunctionRegistry,
    sandbox: NowPaymentsSandbox,
    tenant: str,
    provider_calls: list[tuple[str, str]],
) -> None:
    # BTC's minimum is 0.0001 BTC = USD 5.00.
    status, below = call(functions, tenant, "create_payment", key="k1", body={"price_amount": 499})
    assert (status, below["error"]["code"]) == (422, "amount_below_minimum"), below
    assert "USD 5" in below["error"]["message"]
    assert ("POST", "payment") not in provider_calls

    status, floated = call(
        functions,
        tenant,
        "create_payment",
        key="k2",
        raw_body='{"payable_type":"booking","payable_id":"b","price_amount":25.0,'
        '"price_currency":"USD","pay_currency":"BTC"}',
    )
    assert status == 422, floated
    assert floated["error"]["details"][0]["field"] == "price_amount", floated
    assert floated["error"]["code"] == "invalid_type"

    for number, (body, code) in enumerate(
        (
            ({"pay_currency": "DOESNOTEXIST"}, "unsupported_currency"),
            ({"pay_currency": "EUR"}, "unsupported_currency"),  # fiat is no coin to pay in
            ({"price_amount": "25.00"}, "invalid_amount"),  # fiat is minor units
            ({"price_currency": "BTC", "price_amount": 1}, "invalid_amount"),  # crypto: a string
            ({"price_currency": "BTC", "price_amount": "1e-3"}, "invalid_amount"),
            ({"price_amount": 0}, "invalid_amount"),
        )
    ):
        status, refused = call(functions, tenant, "create_payment", key=f"bad-{number}", body=body)
        assert (status, refused["error"]["code"]) == (422, code), (body, refused)
    assert ("POST", "payment") not in provider_calls
    assert [i for i in items_of_type("payment") if i["tenant_id"] == tenant] == []


def test_a_crypto_price_is_an_exact_decimal(
    functions: FunctionRegistry, sandbox: NowPaymentsSandbox, tenant: str
) -> None:
    status, created = call(
        functions,
        tenant,
        "create_payment",
        key="eth-priced",
        body={"price_currency": "ETH", "price_amount": "0.1", "pay_currency": "BTC"},
    )
    assert status == 201, created
    assert (created["price_amount"], created["price_currency"]) == ("0.1", "ETH")
    assert Decimal(created["pay_amount"]) == Decimal("0.005")  # 0.1 x 2500 / 50000


def test_without_credentials_or_with_nowpayments_down_the_answers_are_clear(
    functions: FunctionRegistry,
    sandbox: NowPaymentsSandbox,
    tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, missing = call(functions, new_tenant("No crypto"), "create_payment", key="a")
    assert (status, missing["error"]["code"]) == (409, "provider_unavailable")

    call(functions, tenant, "currencies")  # cached: the payment below reaches min-amount
    monkeypatch.setenv("PROVIDER_API_BASE_NOWPAYMENTS", "http://127.0.0.1:9")
    reset_settings()
    status, down = call(functions, tenant, "create_payment", key="retry-me")
    assert (status, down["error"]["code"]) == (502, "provider_unreachable"), down
    assert [i for i in items_of_type("payment") if i["tenant_id"] == tenant] == []

    monkeypatch.setenv("PROVIDER_API_BASE_NOWPAYMENTS", sandbox.base_url)
    reset_settings()
    status, retried = call(functions, tenant, "create_payment", key="retry-me")
    assert status == 201, retried
    assert len([i for i in items_of_type("payment") if i["tenant_id"] == tenant]) == 1


def test_currencies_are_cached_for_every_container(
    functions: FunctionRegistry,
    sandbox: NowPaymentsSandbox,
    tenant: str,
    provider_calls: list[tuple[str, str]],
) -> None:
    status, first = call(functions, tenant, "currencies")
    assert status == 200
    assert "BTC" in first["currencies"]
    assert "USDTTRC20" in first["currencies"]
    assert provider_calls == [("GET", "currencies")]
    status, second = call(functions, tenant, "currencies")
    assert (status, second) == (200, first)
    assert provider_calls == [("GET", "currencies")]  # the second answer came from the table
    [cached] = [i for i in items_of_type("provider_list") if i["pk"] == f"TENANT#{tenant}"]
    assert int(cached["ttl"]) > int(cached["fresh_until"])


def test_an_estimate_is_exact_with_the_pairs_minimum_and_bad_queries_are_400(
    functions: FunctionRegistry, sandbox: NowPaymentsSandbox, tenant: str
) -> None:
    status, answer = call(functions, tenant, "estimate")
    assert status == 200, answer
    assert answer == {
        "amount_from": "25",
        "currency_from": "USD",
        "estimated_amount": "0.0005",
        "currency_to": "BTC",
        "min_amount": "5",  # USD value of BTC's 0.0001
    }
    status, crypto = call(
        functions,
        tenant,
        "estimate",
        query={"amount": "0.5", "currency_from": "ETH", "currency_to": "BTC"},
    )
    assert status == 200, crypto
    assert crypto["estimated_amount"] == "0.025", crypto
    assert crypto["min_amount"] == "0.002"  # ETH's own network minimum, in ETH

    for query, code in (
        ({"amount": "1e3"}, "invalid_amount"),
        ({"amount": "25.5e0"}, "invalid_amount"),
        ({"amount": "-5"}, "invalid_amount"),
        ({"amount": "0"}, "invalid_amount"),
        ({"amount": "25.001"}, "too_many_decimals"),
        ({"currency_to": "NOSUCHCOIN"}, "unsupported_currency"),
        ({"currency_to": "EUR"}, "unsupported_currency"),
    ):
        full = {"amount": "25.00", "currency_from": "USD", "currency_to": "BTC", **query}
        status, refused = call(functions, tenant, "estimate", query=full)
        assert (status, refused["error"]["code"]) == (400, code), (query, refused)


def test_an_invoice_has_its_page_and_a_payment_in_the_price_currency(
    functions: FunctionRegistry, sandbox: NowPaymentsSandbox, tenant: str
) -> None:
    status, invoice = call(functions, tenant, "create_invoice", key="inv-1")
    assert status == 201, invoice
    assert invoice["invoice_url"].startswith(sandbox.base_url)
    assert invoice["status"] == "pending"
    assert invoice["pay_currency"] is None
    assert (invoice["price_amount"], invoice["price_currency"]) == (4000, "EUR")
    page = requests.get(invoice["invoice_url"], timeout=5)
    assert page.status_code == 200
    remote = requests.get(
        f"{sandbox.base_url}/_sandbox/invoices/{invoice['invoice_id']}", timeout=5
    ).json()
    assert remote["order_id"] == invoice["payment_id"]
    assert (remote["price_amount"], remote["price_currency"]) == ("40", "eur")
    # Where the page sends the customer afterwards, and where its IPNs go, as NOWPayments has it.
    stored = sandbox._invoices[int(invoice["invoice_id"])]
    assert stored.success_url == "https://salon.example/bookings/bk_1002/paid"
    assert stored.ipn_callback_url == f"{IPN_BASE}{tenant}"
    status, replayed = call(functions, tenant, "create_invoice", key="inv-1")
    assert (status, replayed) == (201, invoice)


def test_a_finished_payment_is_captured_in_the_coin_and_the_ledger_verifies(
    functions: FunctionRegistry, sandbox: NowPaymentsSandbox, tenant: str
) -> None:
    """The capture path the IPN takes (the provider's confirmed word, as the sweeper applies
    it): NOWPayments says finished, the ledger posts BTC, ledger verify passes."""
    from payments.services.sweeper import sweep

    status, created = call(functions, tenant, "create_payment", key="to-finish")
    assert status == 201, created
    nowpayments_id = next(
        i["provider_ref"]
        for i in items_of_type("payment")
        if i["payment_id"] == created["payment_id"]
    )
    moved = requests.post(
        f"{sandbox.base_url}/_sandbox/payments/{nowpayments_id}/advance",
        json={"status": "finished"},
        timeout=5,
    )
    assert moved.status_code == 200, moved.text
    sweep(datetime.now(UTC) + timedelta(hours=1))  # past NOWPayments' 10 minutes
    [item] = [i for i in items_of_type("payment") if i["payment_id"] == created["payment_id"]]
    assert item["status"] == "succeeded", item
    assert Decimal(str(item["amount_captured"])) == Decimal(created["pay_amount"])
    assert item["provider_details"]["actually_paid"] == created["pay_amount"]
    lines = [
        (
            line["account"],
            line["currency"],
            Decimal(str(line["debit"])),
            Decimal(str(line["credit"])),
        )
        for entry in items_of_type("journal_entry")
        if entry["payment_id"] == created["payment_id"]
        for line in entry["lines"]
    ]
    amount = Decimal(created["pay_amount"])
    assert sorted(lines) == sorted(
        [
            ("merchant_sales", "BTC", Decimal(0), amount),
            ("provider_clearing:nowpayments", "BTC", amount, Decimal(0)),
        ]
    )
    report = verify_tenant_ledger(tenant)
    assert report.ok, report
    assert report.entries == 1
