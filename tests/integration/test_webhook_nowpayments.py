"""NOWPayments IPNs through the real WebhookNowpaymentsFunction (moto), with the NOWPayments
sandbox as the provider: it creates the payments, moves them, signs the IPNs with each
tenant's IPN secret and answers GET /v1/payment, which confirms each IPN before it counts.
The adapter's other calls (currencies, estimates, minimums, invoices) go to the sandbox over
HTTP too."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import requests

from devstack.http_server import MAX_BODY_BYTES, Response
from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.nowpayments import Account as SandboxAccount
from devstack.sandboxes.nowpayments import ChaosSettings, NowPaymentsSandbox
from devstack.template import LocalStack
from payments.config import reset_settings
from payments.domain.payment import Payment
from payments.domain.states import PaymentStatus
from payments.providers import crypto_payments
from payments.providers.base import (
    Credentials,
    CryptoInvoiceRequest,
    CryptoPaymentRequest,
    ProviderRejectedError,
)
from payments.services.credentials import provider_credentials, set_provider_credentials
from payments.services.crypto import crypto_invoice_view
from payments.services.ledger_check import verify_tenant_ledger
from payments.services.transitions import apply_transition, create_payment, new_payment_id
from payments.store import repositories
from tests.integration.helpers import items_of_type, new_tenant, served_locally

TIMEOUT = 10


@dataclass(frozen=True)
class Ipn:
    headers: dict[str, str]
    raw: str

    @property
    def status(self) -> str:
        return str(json.loads(self.raw)["payment_status"])


@dataclass
class Receiver:
    """Where the sandbox sends IPNs: keeps them for the test to deliver to our function."""

    received: list[Ipn] = field(default_factory=list)
    max_body_bytes: int = MAX_BODY_BYTES
    lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Response:
        with self.lock:
            lowered = {name.lower(): value for name, value in headers.items()}
            self.received.append(Ipn(lowered, body.decode()))
        return Response(200, b"{}")

    def refuse_body(self, status: int) -> Response:
        return Response(status, b"{}")

    def take(self) -> list[Ipn]:
        with self.lock:
            taken, self.received = self.received, []
        return taken


@pytest.fixture(scope="module")
def sandbox() -> Iterator[NowPaymentsSandbox]:
    with NowPaymentsSandbox() as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()
    with served_locally(target) as url:
        yield target, f"{url}/ipn"


@pytest.fixture
def nowpayments(
    aws: LocalStack, sandbox: NowPaymentsSandbox, monkeypatch: pytest.MonkeyPatch
) -> NowPaymentsSandbox:
    monkeypatch.setenv("PROVIDER_API_BASE_NOWPAYMENTS", sandbox.base_url)
    reset_settings()
    return sandbox


@dataclass
class Shop:
    tenant_id: str
    account: SandboxAccount
    sandbox: NowPaymentsSandbox
    receiver: Receiver
    ipn_url: str

    @property
    def credentials(self) -> Credentials:
        return provider_credentials(self.tenant_id, "nowpayments")

    def pay(
        self,
        *,
        payment_id: str | None = None,
        pay_currency: str = "BTC",
        our_amount: Decimal | None = None,
    ) -> Payment:
        """A crypto payment as the crypto use case makes one: NOWPayments' payment first (our
        id as order_id), then ours in the pay currency, pending with its reference."""
        payment_id = payment_id or new_payment_id()
        created = crypto_payments("nowpayments").create_payment(
            self.credentials,
            CryptoPaymentRequest(
                payment_id=payment_id,
                price_amount=Decimal("10"),
                price_currency="USD",
                pay_currency=pay_currency,
                callback_url=self.ipn_url,
                description="Room 12",
            ),
        )
        create_payment(
            tenant_id=self.tenant_id,
            payable_type="booking",
            payable_id=f"bk_{payment_id[-6:]}",
            amount=our_amount or created.pay_amount,
            currency=created.pay_currency,
            provider="nowpayments",
            payment_id=payment_id,
            price_amount=1000,
            price_currency="USD",
        )
        return apply_transition(
            tenant_id=self.tenant_id,
            payment_id=payment_id,
            requested=PaymentStatus.PENDING,
            source="api",
            changes={"provider_ref": created.provider_ref, "provider_details": created.details},
        ).payment

    def invoice(self, *, price_amount: int = 1000, price_currency: str = "USD") -> Payment:
        """An invoice as the crypto use case makes one: NOWPayments' invoice first (our id as
        order_id), then our payment in the price currency, pending with the invoice's
        reference; the customer has not chosen a coin yet."""
        payment_id = new_payment_id()
        invoice = crypto_payments("nowpayments").create_invoice(
            self.credentials,
            CryptoInvoiceRequest(
                payment_id=payment_id,
                price_amount=Decimal(price_amount) / 100,
                price_currency=price_currency,
                callback_url=self.ipn_url,
                success_url=None,
                cancel_url=None,
                description="Room 14",
            ),
        )
        create_payment(
            tenant_id=self.tenant_id,
            payable_type="booking",
            payable_id=f"bk_{payment_id[-6:]}",
            amount=price_amount,
            currency=price_currency,
            provider="nowpayments",
            payment_id=payment_id,
        )
        return apply_transition(
            tenant_id=self.tenant_id,
            payment_id=payment_id,
            requested=PaymentStatus.PENDING,
            source="api",
            changes={
                "provider_ref": invoice.provider_ref,
                "provider_details": {"invoice_id": invoice.invoice_id},
                "checkout_url": invoice.invoice_url,
            },
        ).payment

    def on_invoice_page(self, payment: Payment, action: str) -> list[Ipn]:
        """What the customer does on the hosted invoice page (choose a coin, pay...), over
        HTTP; the IPNs it causes."""
        assert payment.checkout_url is not None
        answer = requests.post(
            f"{payment.checkout_url}/{action}", timeout=TIMEOUT, allow_redirects=False
        )
        assert answer.status_code == 303, answer.text
        assert self.sandbox.wait_for_ipns(TIMEOUT)
        return self.receiver.take()

    def advance(self, payment: Payment, status: str, **paid: Decimal) -> list[Ipn]:
        assert payment.provider_ref is not None
        self.sandbox.advance(int(payment.provider_ref), status, paid.get("actually_paid"))
        assert self.sandbox.wait_for_ipns(TIMEOUT)
        return self.receiver.take()

    def payment(self, payment_id: str) -> Payment:
        found = repositories.get_payment(self.tenant_id, payment_id)
        assert found is not None
        return found


def new_shop(sandbox: NowPaymentsSandbox, receiver: Receiver, url: str, name: str = "Shop") -> Shop:
    tenant = new_tenant(name)
    account = sandbox.create_account({"ipn_callback_url": url})
    set_provider_credentials(
        tenant,
        "nowpayments",
        {"api_key": account.api_key, "ipn_secret": account.ipn_secret, "environment": "sandbox"},
    )
    return Shop(tenant, account, sandbox, receiver, url)


@pytest.fixture
def shop(nowpayments: NowPaymentsSandbox, receiver: tuple[Receiver, str]) -> Shop:
    return new_shop(nowpayments, *receiver)


def deliver(
    functions: FunctionRegistry, tenant_id: str, raw: str, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    event = {
        "version": "2.0",
        "rawPath": f"/{tenant_id}",
        "headers": {"content-type": "application/json", **headers},
        "requestContext": {"http": {"method": "POST", "sourceIp": "127.0.0.1"}},
        "body": raw,
        "isBase64Encoded": False,
    }
    answer = functions.invoke("WebhookNowpaymentsFunction", event)
    return answer["statusCode"], json.loads(answer["body"])


def deliver_all(functions: FunctionRegistry, shop: Shop, ipns: list[Ipn]) -> list[int]:
    return [deliver(functions, shop.tenant_id, ipn.raw, ipn.headers)[0] for ipn in ipns]


def journal_for(payment_id: str) -> list[dict[str, Any]]:
    return [e for e in items_of_type("journal_entry") if e["payment_id"] == payment_id]


def rejections(tenant_id: str) -> list[str]:
    return [
        str(item["reason"])
        for item in items_of_type("inbox")
        if item["status"] == "rejected" and item["tenant_id"] == tenant_id
    ]


# --------------------------------------------------------------------------- the happy path


def test_a_signed_ipn_confirmed_by_get_payment_settles_the_payment_in_its_coin(
    functions: FunctionRegistry, shop: Shop
) -> None:
    payment = shop.pay()
    assert payment.currency == "BTC"
    assert payment.amount == Decimal("0.0002")  # 10 USD at the sandbox's 50000
    ipns = shop.advance(payment, "finished")
    assert [ipn.status for ipn in ipns] == ["confirming", "confirmed", "sending", "finished"]
    first = deliver(functions, shop.tenant_id, ipns[0].raw, ipns[0].headers)
    assert first == (200, {"received": True, "outcome": "applied"})
    # Delivered after the payment moved on, the "confirming" IPN is stale: GET /v1/payment says
    # finished, and that (checked like any other) is what counts.
    early = shop.payment(payment.payment_id)
    assert early.status is PaymentStatus.SUCCEEDED
    assert early.provider_details["provider_status"] == "finished"
    assert deliver_all(functions, shop, ipns[1:]) == [200, 200, 200]
    settled = shop.payment(payment.payment_id)
    assert settled.status is PaymentStatus.SUCCEEDED
    assert settled.amount_captured == Decimal("0.0002")
    [entry] = journal_for(payment.payment_id)
    lines = {(line["account"], line["currency"]) for line in entry["lines"]}
    assert lines == {("provider_clearing:nowpayments", "BTC"), ("merchant_sales", "BTC")}
    assert rejections(shop.tenant_id) == []


def test_an_invoice_paid_in_the_coin_the_customer_chose_is_captured_in_that_coin(
    functions: FunctionRegistry, shop: Shop
) -> None:
    invoice = shop.invoice(price_amount=1000, price_currency="USD")
    assert (invoice.amount, invoice.currency, invoice.price_currency) == (1000, "USD", None)
    # The customer picks Bitcoin on NOWPayments' page, then pays in full there.
    assert shop.on_invoice_page(invoice, "btc") == []  # a new payment waits: no IPN yet
    ipns = shop.on_invoice_page(invoice, "pay")
    assert [ipn.status for ipn in ipns] == ["confirming", "confirmed", "sending", "finished"]
    assert {json.loads(ipn.raw)["order_id"] for ipn in ipns} == {invoice.payment_id}
    # In order: the first IPN moves the payment into the coin (its price kept beside it) and
    # leaves it pending; the last captures the coin.
    assert deliver(functions, shop.tenant_id, ipns[0].raw, ipns[0].headers)[0] == 200
    assert deliver_all(functions, shop, ipns[1:]) == [200, 200, 200]
    paid = shop.payment(invoice.payment_id)
    assert paid.status is PaymentStatus.SUCCEEDED
    assert (paid.amount, paid.currency) == (Decimal("0.0002"), "BTC")  # 10 USD at 50000
    assert (paid.price_amount, paid.price_currency) == (1000, "USD")
    assert paid.amount_captured == Decimal("0.0002")
    assert paid.provider_details["invoice_id"] == str(json.loads(ipns[0].raw)["invoice_id"])
    [entry] = journal_for(invoice.payment_id)
    assert {
        (line["account"], line["currency"], Decimal(line["debit"] + line["credit"]))
        for line in entry["lines"]
    } == {
        ("provider_clearing:nowpayments", "BTC", Decimal("0.0002")),
        ("merchant_sales", "BTC", Decimal("0.0002")),
    }
    assert rejections(shop.tenant_id) == []
    assert verify_tenant_ledger(shop.tenant_id).ok
    # The invoice, as a replayed POST /v1/crypto/invoices answers it, keeps its price.
    view = crypto_invoice_view(paid)
    assert (view["price_amount"], view["price_currency"], view["pay_currency"]) == (
        1000,
        "USD",
        "BTC",
    )


def test_an_invoice_whose_finished_ipn_arrives_first_is_captured_in_the_coin(
    functions: FunctionRegistry, shop: Shop
) -> None:
    invoice = shop.invoice(price_amount=2550, price_currency="EUR")
    shop.on_invoice_page(invoice, "eth")
    ipns = shop.on_invoice_page(invoice, "pay")
    assert deliver_all(functions, shop, list(reversed(ipns))) == [200, 200, 200, 200]
    paid = shop.payment(invoice.payment_id)
    assert paid.status is PaymentStatus.SUCCEEDED
    # EUR 25.50 at 1.1 USD, ETH at 2500 USD: 0.01122 ETH, exact.
    assert (paid.amount, paid.currency) == (Decimal("0.01122"), "ETH")
    assert (paid.price_amount, paid.price_currency) == (2550, "EUR")
    assert {
        line["currency"] for entry in journal_for(invoice.payment_id) for line in entry["lines"]
    } == {"ETH"}


def test_an_invoice_the_customer_let_expire_fails_with_nothing_posted(
    functions: FunctionRegistry, shop: Shop
) -> None:
    invoice = shop.invoice()
    shop.on_invoice_page(invoice, "ltc")
    ipns = shop.on_invoice_page(invoice, "expire")
    assert deliver_all(functions, shop, ipns) == [200] * len(ipns)
    expired = shop.payment(invoice.payment_id)
    assert expired.status is PaymentStatus.EXPIRED
    assert expired.currency == "LTC"
    assert journal_for(invoice.payment_id) == []


def test_an_overpayment_is_captured_as_it_arrived_and_shows(
    functions: FunctionRegistry, shop: Shop
) -> None:
    payment = shop.pay()  # asks 0.0002 BTC
    ipns = shop.advance(payment, "finished", actually_paid=Decimal("0.00025"))
    assert set(deliver_all(functions, shop, ipns)) == {200}
    paid = shop.payment(payment.payment_id)
    assert paid.status is PaymentStatus.SUCCEEDED
    assert (paid.amount, paid.amount_captured) == (Decimal("0.0002"), Decimal("0.00025"))
    assert paid.provider_details["overpaid"] == "0.00005"
    [entry] = journal_for(payment.payment_id)
    assert {Decimal(line["debit"] + line["credit"]) for line in entry["lines"]} == {
        Decimal("0.00025")
    }
    assert verify_tenant_ledger(shop.tenant_id).ok


def test_progress_is_shown_while_the_payment_stays_pending(
    functions: FunctionRegistry, shop: Shop
) -> None:
    payment = shop.pay()
    [confirming] = shop.advance(payment, "confirming")
    assert deliver_all(functions, shop, [confirming]) == [200]
    shown = shop.payment(payment.payment_id)
    assert shown.status is PaymentStatus.PENDING
    assert shown.provider_details["provider_status"] == "confirming"
    assert shown.public_view()["provider_details"]["pay_currency"] == "BTC"


def test_partially_paid_never_succeeds_and_shows_what_arrived(
    functions: FunctionRegistry, shop: Shop
) -> None:
    payment = shop.pay()
    ipns = shop.advance(payment, "partially_paid", actually_paid=Decimal("0.0001"))
    assert ipns[-1].status == "partially_paid"
    assert set(deliver_all(functions, shop, ipns)) == {200}
    underpaid = shop.payment(payment.payment_id)
    assert underpaid.status is PaymentStatus.PENDING
    assert underpaid.provider_details["provider_status"] == "partially_paid"
    assert underpaid.provider_details["actually_paid"] == "0.0001"
    assert journal_for(payment.payment_id) == []


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("chaos", "reason"),
    [
        ({"unsigned_ipns": True}, "missing_signature"),
        ({"wrong_signature": True}, "signature_mismatch"),
    ],
)
def test_unsigned_and_wrongly_signed_ipns_move_nothing_and_are_recorded(
    functions: FunctionRegistry, shop: Shop, chaos: dict[str, bool], reason: str
) -> None:
    payment = shop.pay()
    shop.account.chaos = ChaosSettings(**chaos)
    ipns = shop.advance(payment, "finished")
    assert set(deliver_all(functions, shop, ipns)) == {400}
    assert shop.payment(payment.payment_id).status is PaymentStatus.PENDING
    assert journal_for(payment.payment_id) == []
    assert rejections(shop.tenant_id)
    assert all(recorded.startswith(reason) for recorded in rejections(shop.tenant_id))


def test_a_body_that_is_not_json_is_refused_and_recorded(
    functions: FunctionRegistry, shop: Shop
) -> None:
    status, answer = deliver(functions, shop.tenant_id, "payment_status=finished", {
        "x-nowpayments-sig": "ab" * 64
    })  # fmt: skip
    assert (status, answer["error"]["code"]) == (400, "signature_verification_failed")
    assert rejections(shop.tenant_id)[0].startswith("malformed_body")


def test_a_forged_finished_contradicted_by_get_payment_moves_nothing(
    functions: FunctionRegistry, shop: Shop
) -> None:
    payment = shop.pay()
    shop.account.chaos = ChaosSettings(forge_finished=True)
    [forged] = shop.advance(payment, "finished")
    assert forged.status == "finished"
    status, answer = deliver(functions, shop.tenant_id, forged.raw, forged.headers)
    assert (status, answer["error"]["code"]) == (400, "not_confirmed")
    assert shop.payment(payment.payment_id).status is PaymentStatus.PENDING
    assert journal_for(payment.payment_id) == []
    [reason] = rejections(shop.tenant_id)
    assert reason == "not_confirmed: the IPN says finished, NOWPayments says waiting"


def test_an_ipn_for_an_unknown_payment_is_refused(functions: FunctionRegistry, shop: Shop) -> None:
    # NOWPayments knows the payment, we do not: its order_id names no payment of ours.
    created = crypto_payments("nowpayments").create_payment(
        shop.credentials,
        CryptoPaymentRequest(
            payment_id="pay_" + "0" * 32,
            price_amount=Decimal("10"),
            price_currency="USD",
            pay_currency="BTC",
            callback_url=shop.ipn_url,
        ),
    )
    shop.sandbox.advance(int(created.provider_ref), "finished")
    assert shop.sandbox.wait_for_ipns(TIMEOUT)
    assert set(deliver_all(functions, shop, shop.receiver.take())) == {400}
    assert set(rejections(shop.tenant_id)) == {"unknown_payment"}


def test_another_tenants_payment_is_out_of_reach(
    functions: FunctionRegistry,
    nowpayments: NowPaymentsSandbox,
    receiver: tuple[Receiver, str],
) -> None:
    victim = new_shop(nowpayments, *receiver, name="Victim")
    attacker = new_shop(nowpayments, *receiver, name="Attacker")
    target = victim.pay()
    # The attacker's own account makes a payment naming the victim's payment as its order and
    # pays it: its IPNs are genuinely signed, with the attacker's secret.
    created = crypto_payments("nowpayments").create_payment(
        attacker.credentials,
        CryptoPaymentRequest(
            payment_id=target.payment_id,
            price_amount=Decimal("10"),
            price_currency="USD",
            pay_currency="BTC",
            callback_url=attacker.ipn_url,
        ),
    )
    attacker.sandbox.advance(int(created.provider_ref), "finished")
    assert attacker.sandbox.wait_for_ipns(TIMEOUT)
    ipns = attacker.receiver.take()
    # To the victim's URL: the attacker's signature does not verify with the victim's secret.
    assert set(deliver_all(functions, victim, ipns)) == {400}
    assert set(rejections(victim.tenant_id)) == {"signature_mismatch"}
    # To the attacker's own URL: the order is no payment of the attacker's tenant.
    assert set(deliver_all(functions, attacker, ipns)) == {400}
    assert set(rejections(attacker.tenant_id)) == {"unknown_payment"}
    assert victim.payment(target.payment_id).status is PaymentStatus.PENDING
    assert journal_for(target.payment_id) == []


def test_duplicated_and_shuffled_ipns_end_where_in_order_delivery_does(
    functions: FunctionRegistry, shop: Shop
) -> None:
    in_order, chaotic = shop.pay(), shop.pay()
    deliver_all(functions, shop, shop.advance(in_order, "finished"))
    shop.account.chaos = ChaosSettings(duplicate_ipns=2, shuffle_ipns=True)
    ipns = shop.advance(chaotic, "finished")
    assert len(ipns) == 12
    deliver_all(functions, shop, ipns)
    deliver_all(functions, shop, list(reversed(ipns)))
    one, other = shop.payment(in_order.payment_id), shop.payment(chaotic.payment_id)
    assert one.status is other.status is PaymentStatus.SUCCEEDED
    assert one.provider_details.keys() == other.provider_details.keys()
    assert other.provider_details["provider_status"] == "finished"
    assert len(journal_for(in_order.payment_id)) == len(journal_for(chaotic.payment_id)) == 1


def test_ipns_in_the_javascript_canonical_form_verify(
    functions: FunctionRegistry, shop: Shop
) -> None:
    payment = shop.pay()
    shop.account.chaos = ChaosSettings(signature_form="javascript")
    ipns = shop.advance(payment, "finished")
    assert set(deliver_all(functions, shop, ipns)) == {200}
    assert shop.payment(payment.payment_id).status is PaymentStatus.SUCCEEDED


# --------------------------------------------------------------------------- the adapter's calls


def test_currencies_estimates_minimums_and_invoices_over_http(shop: Shop) -> None:
    adapter = crypto_payments("nowpayments")
    credentials = shop.credentials
    currencies = adapter.currencies(credentials)
    assert {"BTC", "ETH", "USDTTRC20", "XRP"} <= set(currencies)
    estimate = adapter.estimate(
        credentials, amount=Decimal("10"), currency_from="USD", currency_to="BTC"
    )
    assert (estimate.amount_from, estimate.amount_to) == (Decimal("10"), Decimal("0.0002"))
    minimum = adapter.min_amount(
        credentials, currency_from="BTC", currency_to="USDTERC20", fiat_equivalent="USD"
    )
    assert minimum.min_amount == Decimal("0.0003")
    assert minimum.fiat_equivalent == Decimal("15")
    invoice = adapter.create_invoice(
        credentials,
        CryptoInvoiceRequest(
            payment_id="pay_" + "1" * 32,
            price_amount=Decimal("25.50"),
            price_currency="EUR",
            callback_url=shop.ipn_url,
            success_url="https://shop.example/thanks",
            cancel_url="https://shop.example/cancelled",
        ),
    )
    assert invoice.invoice_url.startswith(f"{shop.sandbox.base_url}/invoice/")
    assert invoice.provider_ref == f"invoice_{invoice.invoice_id}"
    assert invoice.price_amount == Decimal("25.50")
    with pytest.raises(ProviderRejectedError) as refused:
        adapter.create_payment(
            credentials,
            CryptoPaymentRequest(
                payment_id=new_payment_id(),
                price_amount=Decimal("0.01"),
                price_currency="USD",
                pay_currency="BTC",
                callback_url=None,
            ),
        )
    assert refused.value.provider_code == "AMOUNT_MINIMAL_ERROR"


def test_the_credential_test_checks_the_api_key(shop: Shop) -> None:
    adapter = crypto_payments("nowpayments")
    from payments.providers import credential_tester

    assert credential_tester("nowpayments").test_credentials(shop.credentials).ok
    wrong = Credentials({**shop.credentials.values, "api_key": "WRONGKEY-1234567"})
    result = credential_tester("nowpayments").test_credentials(wrong)
    assert (result.ok, result.code) == (False, "invalid_credentials")
    assert "WRONGKEY" not in result.message
    assert adapter.name == "nowpayments"


def test_a_lost_ipn_is_settled_from_get_payment_by_the_sweep(shop: Shop) -> None:
    from payments.providers import sweeper
    from payments.services.provider_events import EventOutcome, apply_provider_event

    payment = shop.pay()
    adapter = sweeper("nowpayments")
    assert adapter.check_payment(shop.credentials, payment) is None  # still waiting
    shop.account.chaos = ChaosSettings(drop_ipns=True)
    assert shop.advance(payment, "finished") == []
    found = adapter.check_payment(shop.credentials, shop.payment(payment.payment_id))
    assert found is not None
    event, raw = found
    assert event.requested_status is PaymentStatus.SUCCEEDED
    assert (event.amount, event.currency) == (Decimal("0.0002"), "BTC")
    result = apply_provider_event(
        tenant_id=shop.tenant_id, provider="nowpayments", event=event, raw_payload=json.dumps(raw)
    )
    assert result.outcome is EventOutcome.APPLIED
    assert shop.payment(payment.payment_id).status is PaymentStatus.SUCCEEDED
    assert len(journal_for(payment.payment_id)) == 1


def test_a_confirmed_amount_that_is_not_our_payments_moves_nothing(
    functions: FunctionRegistry, shop: Shop
) -> None:
    payment = shop.pay(our_amount=Decimal("0.0003"))  # NOWPayments asks 0.0002
    ipns = shop.advance(payment, "finished")
    answers = [deliver(functions, shop.tenant_id, ipn.raw, ipn.headers) for ipn in ipns]
    assert answers[0] == (200, {"received": True, "outcome": "rejected"})
    assert shop.payment(payment.payment_id).status is PaymentStatus.PENDING
    assert journal_for(payment.payment_id) == []
    assert set(rejections(shop.tenant_id)) == {"amount_mismatch"}
