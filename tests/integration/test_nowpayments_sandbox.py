"""The NOWPayments sandbox over real HTTP: x-api-key, currencies, estimates and minimums, payment
and invoice creation with NOWPayments' checks, the hosted invoice page, moving payments through
their statuses, and the IPNs a local receiver gets, under every chaos switch.

Signatures are checked here independently of the sandbox's own code: the "python" form with
``hmac`` + ``json.dumps(json.loads(raw), separators=(",", ":"), sort_keys=True)``, the
"javascript" form with a small Node.js signer (``JSON.parse``, keys sorted recursively,
``JSON.stringify``, ``crypto.createHmac("sha512")``) when ``node`` is on PATH, else with a
Python re-implementation of ``JSON.stringify`` written in this file. Expected amounts are
computed here from the documented rates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.http_server import MAX_BODY_BYTES, Response
from devstack.sandboxes.nowpayments import NowPaymentsSandbox
from tests.integration.helpers import served_locally

TIMEOUT = 5
Json = dict[str, Any]

# The documented sandbox rates (USD per unit) and precisions, restated to compute expectations.
USD = {"btc": "50000", "eth": "2500", "trx": "0.125", "bnbbsc": "300", "usd": "1", "eur": "1.1"}
IPN_FIELDS = {
    "payment_id",
    "parent_payment_id",
    "invoice_id",
    "payment_status",
    "pay_address",
    "payin_extra_id",
    "price_amount",
    "price_currency",
    "pay_amount",
    "actually_paid",
    "actually_paid_at_fiat",
    "pay_currency",
    "order_id",
    "order_description",
    "purchase_id",
    "outcome_amount",
    "outcome_currency",
    "fee",
    "updated_at",
}

NODE_SIGNER = r"""
const crypto = require("crypto");
const sortKeys = (v) => Array.isArray(v) ? v.map(sortKeys)
  : v !== null && typeof v === "object"
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])])) : v;
let raw = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { raw += chunk; });
process.stdin.on("end", () => {
  const text = JSON.stringify(sortKeys(JSON.parse(raw)));
  process.stdout.write(crypto.createHmac("sha512", process.argv[2]).update(text).digest("hex"));
});
"""


def decimal_json(raw: str) -> Any:
    return json.loads(raw, parse_float=Decimal)


def python_form_signature(secret: str, raw: str) -> str:
    canonical = json.dumps(json.loads(raw), separators=(",", ":"), sort_keys=True)
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha512).hexdigest()


def _js_number(value: float) -> str:
    """Number.prototype.toString, from the shortest round-trip digits Python's repr gives."""
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0") or "0"
    point = len(whole) + int(exponent or 0) - (len(whole + fraction) - len(digits))
    digits = digits.rstrip("0")
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    if 0 < point <= 21:
        return (
            digits[:point]
            + "0" * (point - len(digits))
            + ("." + digits[point:] if len(digits) > point else "")
        )
    lead = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{lead}e{'+' if point - 1 >= 0 else '-'}{abs(point - 1)}"


def _js_stringify(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                f"{json.dumps(k, ensure_ascii=False)}:{_js_stringify(value[k])}"
                for k in sorted(value)
            )
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_js_stringify(item) for item in value) + "]"
    if isinstance(value, float):
        return _js_number(value)
    return json.dumps(value, ensure_ascii=False)


def javascript_form_signature(secret: str, raw: str, tmp_path: Path) -> str:
    node = shutil.which("node")
    if node is None:  # the Python re-implementation of JSON.stringify above
        text = _js_stringify(json.loads(raw))
        return hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()
    script = tmp_path / "sign.js"
    script.write_text(NODE_SIGNER)
    done = subprocess.run(
        [node, str(script), secret], input=raw.encode(), capture_output=True, check=True
    )
    return done.stdout.decode()


# --------------------------------------------------------------------------- fixtures


@dataclass
class Ipn:
    client_ip: str
    headers: dict[str, str]
    raw: str
    arrived: float

    @property
    def body(self) -> Json:
        parsed = decimal_json(self.raw)
        assert isinstance(parsed, dict)
        return parsed

    @property
    def signature(self) -> str | None:
        return self.headers.get("x-nowpayments-sig")


@dataclass
class Receiver:
    """A merchant's IPN URL: records each IPN, answers ``statuses`` in turn (then 200)."""

    received: list[Ipn] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    max_body_bytes: int = MAX_BODY_BYTES
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Response:
        lowered = {name.lower(): value for name, value in headers.items()}
        with self.lock:
            self.received.append(Ipn(client_ip, lowered, body.decode(), time.monotonic()))
            status = self.statuses.pop(0) if self.statuses else 200
        return Response(status, b"{}")

    def refuse_body(self, status: int) -> Response:
        return Response(status, b"{}")

    def ipns(self) -> list[Ipn]:
        with self.lock:
            return list(self.received)

    def statuses_told(self) -> list[str]:
        return [ipn.body["payment_status"] for ipn in self.ipns()]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[NowPaymentsSandbox]:
    with NowPaymentsSandbox() as started:
        yield started


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    with served_locally(target) as url:
        target.url = f"{url}/webhooks/nowpayments/tenant-1"
        yield target


@dataclass
class Merchant:
    sandbox: NowPaymentsSandbox
    account_id: str
    api_key: str
    ipn_secret: str
    receiver: Receiver

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(
            f"{self.sandbox.base_url}{path}",
            params=params,
            headers={"x-api-key": self.api_key},
            timeout=TIMEOUT,
        )

    def post(self, path: str, body: Any) -> requests.Response:
        """POST ``body`` as JSON; a Decimal in it is written as the JSON number it is."""
        return requests.post(
            f"{self.sandbox.base_url}{path}",
            data=json.dumps(body, default=float),
            headers={"x-api-key": self.api_key, "Content-Type": "application/json"},
            timeout=TIMEOUT,
        )

    def pay(self, **overrides: Any) -> Json:
        body: Json = {
            "price_amount": 10,
            "price_currency": "usd",
            "pay_currency": "btc",
            "ipn_callback_url": self.receiver.url,
            "order_id": "pay_01HZX",
            "order_description": "Room 12, 2 nights",
        }
        body.update(overrides)
        answer = self.post("/v1/payment", body)
        assert answer.status_code == 201, answer.text
        created = decimal_json(answer.text)
        assert isinstance(created, dict)
        return created

    def status(self, payment_id: object) -> Json:
        answer = self.get(f"/v1/payment/{payment_id}")
        assert answer.status_code == 200, answer.text
        found = decimal_json(answer.text)
        assert isinstance(found, dict)
        return found

    def chaos(self, **switches: Any) -> None:
        url = f"{self.sandbox.base_url}/_sandbox/accounts/{self.account_id}/chaos"
        answer = requests.post(url, json=switches, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text


def advance(sandbox: NowPaymentsSandbox, payment_id: object, **body: Any) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url}/_sandbox/payments/{payment_id}/advance", json=body, timeout=TIMEOUT
    )


def advanced(sandbox: NowPaymentsSandbox, payment_id: object, status: str, **body: Any) -> Json:
    answer = advance(sandbox, payment_id, status=status, **body)
    assert answer.status_code == 200, answer.text
    assert sandbox.wait_for_ipns(TIMEOUT)
    view = answer.json()
    assert isinstance(view, dict)
    return view


def new_account(sandbox: NowPaymentsSandbox, receiver: Receiver, **settings: Any) -> Merchant:
    created = requests.post(f"{sandbox.base_url}/_sandbox/accounts", json=settings, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    body = created.json()
    return Merchant(sandbox, body["account_id"], body["api_key"], body["ipn_secret"], receiver)


@pytest.fixture
def merchant(sandbox: NowPaymentsSandbox, receiver: Receiver) -> Merchant:
    return new_account(sandbox, receiver)


def assert_error(answer: requests.Response, status: int, code: str, message: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.json() == {
        "status": False,
        "statusCode": status,
        "code": code,
        "message": message,
    }


# --------------------------------------------------------------------------- auth and market


def test_status_is_open_and_every_other_call_needs_a_known_api_key(
    sandbox: NowPaymentsSandbox, merchant: Merchant
) -> None:
    base = sandbox.base_url
    status = requests.get(f"{base}/v1/status", timeout=TIMEOUT)
    assert (status.status_code, status.json()) == (200, {"message": "OK"})
    calls = [
        ("GET", "/v1/currencies"),
        ("GET", "/v1/estimate?amount=1&currency_from=usd&currency_to=btc"),
        ("GET", "/v1/min-amount?currency_from=btc&currency_to=usd"),
        ("POST", "/v1/payment"),
        ("POST", "/v1/invoice"),
        ("GET", "/v1/payment/5000000000"),
    ]
    for method, path in calls:
        for headers in ({}, {"x-api-key": "NOT0KEY-1234567-1234567-1234567"}, {"x-api-key": ""}):
            answer = requests.request(method, f"{base}{path}", headers=headers, timeout=TIMEOUT)
            assert_error(answer, 401, "INVALID_API_KEY", "Invalid api key")
    assert merchant.get("/v1/currencies").status_code == 200


def test_currencies_are_listed_and_xrp_and_xlm_need_a_memo(merchant: Merchant) -> None:
    codes = merchant.get("/v1/currencies").json()["currencies"]
    for code in ("btc", "eth", "ltc", "usdttrc20", "usdterc20", "xrp", "xlm", "trx", "bnbbsc"):
        assert code in codes
    assert "usd" not in codes
    full = {item["code"]: item for item in merchant.get("/v1/full-currencies").json()["currencies"]}
    assert set(full) == {code.upper() for code in codes}
    assert [code for code, item in full.items() if item["extra_id_exists"]] == ["XRP", "XLM"]


def _expected(amount: str, source: str, target: str, places: int) -> str:
    exact = Decimal(amount) * Decimal(USD[source]) / Decimal(USD[target])
    return format(exact.quantize(Decimal(1).scaleb(-places), ROUND_UP).normalize(), "f")


@pytest.mark.parametrize(
    ("amount", "source", "target", "places", "estimated"),
    [
        ("10", "usd", "btc", 8, "0.0002"),
        ("100", "eur", "eth", 8, "0.044"),
        ("1", "usd", "trx", 6, "8"),
        ("1", "btc", "eth", 8, "20"),
        ("1", "usd", "bnbbsc", 8, "0.00333334"),  # 1/300, rounded up at the 8th place
        ("0.00000001", "btc", "usd", 2, "0.01"),
        ("19.99", "eur", "btc", 8, "0.00043978"),
    ],
)
def test_estimates_are_exact_decimal_arithmetic_rounded_up(
    merchant: Merchant, amount: str, source: str, target: str, places: int, estimated: str
) -> None:
    answer = merchant.get("/v1/estimate", amount=amount, currency_from=source, currency_to=target)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "currency_from": source,
        "amount_from": format(Decimal(amount).normalize(), "f"),
        "currency_to": target,
        "estimated_amount": estimated,
    }
    assert estimated == _expected(amount, source, target, places)


def test_estimate_and_min_amount_refuse_bad_queries(merchant: Merchant) -> None:
    for amount in ("0", "-1", "abc", "1e3", ""):
        answer = merchant.get("/v1/estimate", amount=amount, currency_from="usd", currency_to="btc")
        assert answer.status_code == 400, amount
        assert answer.json()["code"] == "INVALID_REQUEST_PARAMS"
    unknown = merchant.get("/v1/estimate", amount="1", currency_from="usd", currency_to="xyz")
    assert_error(unknown, 400, "CURRENCY_UNAVAILABLE", "Currency xyz is unavailable")
    missing = merchant.get("/v1/min-amount", currency_from="btc")
    assert_error(missing, 400, "INVALID_REQUEST_PARAMS", '"currency_to" is required')


@pytest.mark.parametrize(
    ("source", "target", "minimum"),
    [
        ("btc", "usd", "0.0001"),
        ("btc", "btc", "0.0001"),
        ("btc", "usdterc20", "0.0003"),  # 15 USDT (ERC20) is more than 0.0001 BTC
        ("trx", "btc", "40"),  # 0.0001 BTC = $5 = 40 TRX, more than TRX's own 10
        ("usdttrc20", "trx", "1.25"),
    ],
)
def test_the_minimum_is_per_pair(
    merchant: Merchant, source: str, target: str, minimum: str
) -> None:
    answer = merchant.get("/v1/min-amount", currency_from=source, currency_to=target)
    body = decimal_json(answer.text)
    assert body == {"currency_from": source, "currency_to": target, "min_amount": Decimal(minimum)}
    with_fiat = merchant.get(
        "/v1/min-amount", currency_from="btc", currency_to="usd", fiat_equivalent="eur"
    )
    assert decimal_json(with_fiat.text)["fiat_equivalent"] == Decimal("4.55")  # 5 USD, up


# --------------------------------------------------------------------------- payments


def test_a_payment_answers_nowpayments_fields_and_get_payment_its_state(
    merchant: Merchant,
) -> None:
    created = merchant.pay()
    assert re.fullmatch(r"[0-9]{10}", created["payment_id"])  # a numeric string here
    assert created["payment_status"] == "waiting"
    assert created["pay_amount"] == Decimal("0.0002")  # what the estimate says
    assert (created["price_amount"], created["price_currency"]) == (10, "usd")
    assert re.fullmatch(r"bc1q[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{38}", created["pay_address"])
    assert created["payin_extra_id"] is None
    assert (created["order_id"], created["order_description"]) == ("pay_01HZX", "Room 12, 2 nights")
    assert re.fullmatch(r"[0-9]{10}", created["purchase_id"])
    for name in ("created_at", "updated_at", "expiration_estimate_date"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created[name]), name
    assert created["expiration_estimate_date"] > created["created_at"]

    state = merchant.status(created["payment_id"])
    assert state["payment_id"] == int(created["payment_id"])  # a number here
    assert set(state) >= IPN_FIELDS
    assert state["payment_status"] == "waiting"
    assert (state["actually_paid"], state["actually_paid_at_fiat"]) == (0, 0)
    assert state["fee"] == {
        "currency": "btc",
        "depositFee": 0,
        "withdrawalFee": Decimal("0.00001"),
        "serviceFee": Decimal("0.000001"),  # 0.5 % of 0.0002
    }
    assert state["outcome_amount"] == Decimal("0.000189")
    assert state["outcome_currency"] == "btc"


@pytest.mark.parametrize(
    ("pay_currency", "address", "memo"),
    [
        ("xrp", r"r[1-9A-HJ-NP-Za-km-z]{33}", True),
        ("xlm", r"G[A-Z2-7]{55}", True),
        ("eth", r"0x[0-9a-f]{40}", False),
        ("usdttrc20", r"T[1-9A-HJ-NP-Za-km-z]{33}", False),
    ],
)
def test_addresses_are_plausible_and_memo_currencies_get_a_payin_extra_id(
    merchant: Merchant, pay_currency: str, address: str, memo: bool
) -> None:
    created = merchant.pay(price_amount=25, pay_currency=pay_currency)
    assert re.fullmatch(address, created["pay_address"])
    if memo:
        assert re.fullmatch(r"[0-9]{9,10}", created["payin_extra_id"])
    else:
        assert created["payin_extra_id"] is None
    assert merchant.status(created["payment_id"])["payin_extra_id"] == created["payin_extra_id"]


def test_a_given_pay_amount_is_kept_and_decimals_are_exact(merchant: Merchant) -> None:
    created = merchant.pay(price_amount=Decimal("12.34"), pay_currency="eth", pay_amount=0.0123)
    assert created["pay_amount"] == Decimal("0.0123")
    assert created["price_amount"] == Decimal("12.34")
    assert '"price_amount":12.34' in merchant.get(f"/v1/payment/{created['payment_id']}").text


@pytest.mark.parametrize(
    ("changes", "code", "message"),
    [
        ({"price_amount": None}, "INVALID_REQUEST_PARAMS", '"price_amount" is required'),
        ({"price_amount": "10"}, "INVALID_REQUEST_PARAMS", '"price_amount" must be a number'),
        ({"price_amount": True}, "INVALID_REQUEST_PARAMS", '"price_amount" must be a number'),
        ({"price_amount": 0}, "INVALID_REQUEST_PARAMS", '"price_amount" must be a positive number'),
        (
            {"price_amount": -5},
            "INVALID_REQUEST_PARAMS",
            '"price_amount" must be a positive number',
        ),
        ({"price_currency": None}, "INVALID_REQUEST_PARAMS", '"price_currency" is required'),
        ({"price_currency": "xyz"}, "CURRENCY_UNAVAILABLE", "Currency xyz is unavailable"),
        ({"price_currency": 840}, "INVALID_REQUEST_PARAMS", '"price_currency" must be a string'),
        ({"pay_currency": None}, "INVALID_REQUEST_PARAMS", '"pay_currency" is required'),
        ({"pay_currency": "usd"}, "CURRENCY_UNAVAILABLE", "Currency usd is unavailable"),
        ({"pay_currency": "btcx"}, "CURRENCY_UNAVAILABLE", "Currency btcx is unavailable"),
        ({"pay_amount": "0.1"}, "INVALID_REQUEST_PARAMS", '"pay_amount" must be a number'),
        (
            {"pay_amount": Decimal("0.000000001")},
            "INVALID_REQUEST_PARAMS",
            '"pay_amount" must have at most 8 decimal places',
        ),
        ({"order_id": 42}, "INVALID_REQUEST_PARAMS", '"order_id" must be a string'),
        (
            {"order_description": ""},
            "INVALID_REQUEST_PARAMS",
            '"order_description" is not allowed to be empty',
        ),
        (
            {"ipn_callback_url": "not a url"},
            "INVALID_REQUEST_PARAMS",
            '"ipn_callback_url" must be a valid uri',
        ),
        ({"colour": "red"}, "INVALID_REQUEST_PARAMS", '"colour" is not allowed'),
        ({"price_amount": 1}, "AMOUNT_MINIMAL_ERROR", "amountTo is too small"),  # 0.00002 BTC
    ],
)
def test_payment_fields_are_checked_as_nowpayments_does(
    merchant: Merchant, changes: Json, code: str, message: str
) -> None:
    body: Json = {"price_amount": 10, "price_currency": "usd", "pay_currency": "btc"}
    body.update(changes)
    body = {name: value for name, value in body.items() if value is not None}
    answer = merchant.post("/v1/payment", body)
    assert_error(answer, 400, code, message)


def test_unmodelled_nowpayments_fields_and_nulls_are_taken(merchant: Merchant) -> None:
    created = merchant.pay(is_fixed_rate=False, case="success", order_description=None)
    assert created["order_description"] is None


def test_the_minimum_counts_the_accounts_outcome_currency(
    sandbox: NowPaymentsSandbox, receiver: Receiver
) -> None:
    erc20 = new_account(sandbox, receiver, outcome_currency="usdterc20")
    refused = erc20.post(
        "/v1/payment", {"price_amount": 10, "price_currency": "usd", "pay_currency": "btc"}
    )
    assert_error(refused, 400, "AMOUNT_MINIMAL_ERROR", "amountTo is too small")
    created = erc20.pay(price_amount=15)  # 0.0003 BTC = 15 USDT
    assert erc20.status(created["payment_id"])["outcome_currency"] == "usdterc20"


def test_bodies_that_are_not_json_objects_are_refused(merchant: Merchant) -> None:
    url = f"{merchant.sandbox.base_url}/v1/payment"
    key = {"x-api-key": merchant.api_key}
    json_type = {**key, "Content-Type": "application/json"}
    cases = [
        (key, b"price_amount=10", "Content-Type must be application/json"),
        (json_type, b"{nope", "the body is not valid JSON"),
        (json_type, b'{"price_amount": NaN}', "the body is not valid JSON"),
        (json_type, b"[1]", "the body must be a JSON object"),
    ]
    for headers, data, message in cases:
        answer = requests.post(url, data=data, headers=headers, timeout=TIMEOUT)
        assert_error(answer, 400, "INVALID_REQUEST_PARAMS", message)


def test_only_the_owning_account_reads_a_payment(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    created = merchant.pay()
    other = new_account(sandbox, receiver)
    foreign = other.get(f"/v1/payment/{created['payment_id']}")
    assert_error(foreign, 404, "PAYMENT_NOT_FOUND", "Payment not found")
    assert_error(
        merchant.get("/v1/payment/5999999999"), 404, "PAYMENT_NOT_FOUND", "Payment not found"
    )
    assert_error(
        merchant.get("/v1/payment/abc"),
        400,
        "INVALID_REQUEST_PARAMS",
        '"payment_id" must be a number',
    )


# --------------------------------------------------------------------------- statuses and IPNs


def test_advancing_to_finished_sends_one_signed_ipn_per_status(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    created = merchant.pay()
    view = advanced(sandbox, created["payment_id"], "finished")
    assert view["payment_status"] == "finished"
    assert receiver.statuses_told() == ["confirming", "confirmed", "sending", "finished"]
    stamps = []
    for ipn in receiver.ipns():
        assert ipn.signature == python_form_signature(merchant.ipn_secret, ipn.raw)
        assert ipn.headers["content-type"] == "application/json"
        body = ipn.body
        assert set(body) >= IPN_FIELDS
        assert body["payment_id"] == int(created["payment_id"])
        assert body["actually_paid"] == Decimal("0.0002")
        assert body["actually_paid_at_fiat"] == 10
        assert set(body["fee"]) == {"currency", "depositFee", "withdrawalFee", "serviceFee"}
        stamps.append(body["updated_at"])
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 4
    state = merchant.status(created["payment_id"])
    assert (state["payment_status"], state["actually_paid"]) == ("finished", Decimal("0.0002"))
    recorded = sandbox.payment(created["payment_id"])["ipns"]
    assert [(ipn["payment_status"], ipn["delivered"]) for ipn in recorded] == [
        ("confirming", True),
        ("confirmed", True),
        ("sending", True),
        ("finished", True),
    ]
    assert [ipn["body"] for ipn in recorded] == [ipn.raw for ipn in receiver.ipns()]


def test_partially_paid_records_the_amount_and_the_rest_can_follow(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    created = merchant.pay(price_amount=20)  # 0.0004 BTC
    advanced(sandbox, created["payment_id"], "partially_paid", actually_paid="0.00015")
    assert receiver.statuses_told() == ["confirming", "partially_paid"]
    state = merchant.status(created["payment_id"])
    assert state["payment_status"] == "partially_paid"
    assert state["actually_paid"] == Decimal("0.00015")
    assert state["actually_paid_at_fiat"] == Decimal("7.5")
    assert receiver.ipns()[-1].body["actually_paid"] == Decimal("0.00015")
    advanced(sandbox, created["payment_id"], "finished", actually_paid="0.0004")
    assert receiver.statuses_told()[2:] == ["confirming", "confirmed", "sending", "finished"]
    half = merchant.pay(price_amount=20)
    advanced(sandbox, half["payment_id"], "partially_paid")
    assert merchant.status(half["payment_id"])["actually_paid"] == Decimal("0.0002")


def test_failed_expired_refunded_and_the_moves_a_payment_cannot_make(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    expiring = merchant.pay()
    advanced(sandbox, expiring["payment_id"], "expired")
    assert receiver.statuses_told() == ["expired"]
    again = advance(sandbox, expiring["payment_id"], status="finished")
    assert (again.status_code, again.json()["code"]) == (409, "CONFLICT")

    failing = merchant.pay()
    advanced(sandbox, failing["payment_id"], "confirming")
    assert advance(sandbox, failing["payment_id"], status="expired").status_code == 409
    assert advance(sandbox, failing["payment_id"], status="waiting").status_code == 409
    advanced(sandbox, failing["payment_id"], "failed")
    assert merchant.status(failing["payment_id"])["payment_status"] == "failed"

    refunding = merchant.pay()
    advanced(sandbox, refunding["payment_id"], "finished")
    advanced(sandbox, refunding["payment_id"], "refunded")
    assert merchant.status(refunding["payment_id"])["payment_status"] == "refunded"

    bad = merchant.pay()
    for body, status in (
        ({"status": "paid"}, 400),
        ({}, 400),
        ({"status": "partially_paid", "actually_paid": "0.0002"}, 400),
        ({"status": "finished", "actually_paid": "0.0001"}, 400),
        ({"status": "finished", "actually_paid": "abc"}, 400),
        ({"status": "finished", "actually_paid": True}, 400),
    ):
        assert advance(sandbox, bad["payment_id"], **body).status_code == status, body
    assert advance(sandbox, "5999999999", status="finished").status_code == 404
    assert merchant.status(bad["payment_id"])["payment_status"] == "waiting"


def test_ipn_numbers_are_javascripts_and_both_signature_forms_verify_independently(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver, tmp_path: Path
) -> None:
    created = merchant.pay(price_amount=5, order_description="Café ☕ for Zoë")  # 0.0001 BTC
    advanced(sandbox, created["payment_id"], "confirming")
    [python_ipn] = receiver.ipns()
    raw = python_ipn.raw
    # Node.js numbers on the wire: 0.00001 and 5e-7 (Python would write 1e-05 and 5e-07).
    assert '"withdrawalFee":0.00001' in raw
    assert '"serviceFee":5e-7' in raw
    assert '"pay_amount":0.0001' in raw
    assert "Café ☕ for Zoë" in raw  # UTF-8, not \u escapes
    assert python_ipn.body["fee"]["serviceFee"] == Decimal("5E-7")
    assert python_ipn.signature == python_form_signature(merchant.ipn_secret, raw)
    assert python_ipn.signature != javascript_form_signature(merchant.ipn_secret, raw, tmp_path)

    merchant.chaos(signature_form="javascript")
    advanced(sandbox, created["payment_id"], "confirmed")
    js_ipn = receiver.ipns()[1]
    assert js_ipn.signature == javascript_form_signature(merchant.ipn_secret, js_ipn.raw, tmp_path)
    assert js_ipn.signature != python_form_signature(merchant.ipn_secret, js_ipn.raw)
    recorded = sandbox.payment(created["payment_id"])["ipns"]
    assert [ipn["signature_form"] for ipn in recorded] == ["python", "javascript"]


def test_the_two_forms_agree_on_ascii_bodies_with_plain_numbers(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver, tmp_path: Path
) -> None:
    created = merchant.pay(price_amount=100, pay_currency="trx", order_description="Room 12")
    advanced(sandbox, created["payment_id"], "confirming")
    [ipn] = receiver.ipns()
    assert ipn.signature == python_form_signature(merchant.ipn_secret, ipn.raw)
    assert ipn.signature == javascript_form_signature(merchant.ipn_secret, ipn.raw, tmp_path)


def test_ipns_go_to_the_accounts_url_when_the_payment_names_none(
    sandbox: NowPaymentsSandbox, receiver: Receiver
) -> None:
    account = new_account(sandbox, receiver, ipn_callback_url=receiver.url)
    created = account.pay(ipn_callback_url=None)
    assert created["ipn_callback_url"] is None
    advanced(sandbox, created["payment_id"], "confirming")
    assert receiver.statuses_told() == ["confirming"]
    silent = new_account(sandbox, receiver)
    quiet = silent.pay(ipn_callback_url=None)
    advanced(sandbox, quiet["payment_id"], "finished")
    assert len(receiver.ipns()) == 1


def test_a_receiver_that_fails_gets_the_ipn_again_then_it_is_given_up(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503, 500]
    created = merchant.pay()
    advanced(sandbox, created["payment_id"], "confirming")
    assert len(receiver.ipns()) == 3
    [record] = sandbox.payment(created["payment_id"])["ipns"]
    assert (record["delivered"], record["attempts"]) == (False, 3)


# --------------------------------------------------------------------------- chaos


def test_duplicate_ipns(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    merchant.chaos(duplicate_ipns=1)
    created = merchant.pay()
    advanced(sandbox, created["payment_id"], "confirmed")
    assert receiver.statuses_told() == ["confirming", "confirmed", "confirming", "confirmed"]
    first, second = receiver.ipns()[0], receiver.ipns()[2]
    assert (first.raw, first.signature) == (second.raw, second.signature)
    assert len(sandbox.payment(created["payment_id"])["ipns"]) == 4


def test_reversed_and_shuffled_ipns(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    merchant.chaos(reverse_ipns=True)
    created = merchant.pay()
    advanced(sandbox, created["payment_id"], "finished")
    assert receiver.statuses_told() == ["finished", "sending", "confirmed", "confirming"]
    merchant.chaos(reverse_ipns=False, shuffle_ipns=True, duplicate_ipns=2)
    receiver.received.clear()
    shuffled = merchant.pay()
    advanced(sandbox, shuffled["payment_id"], "finished")
    told = receiver.statuses_told()
    assert sorted(told) == sorted(["confirming", "confirmed", "sending", "finished"] * 3)
    assert merchant.status(shuffled["payment_id"])["payment_status"] == "finished"


def test_unsigned_and_wrongly_signed_ipns(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    merchant.chaos(unsigned_ipns=True)
    created = merchant.pay()
    advanced(sandbox, created["payment_id"], "confirming")
    assert receiver.ipns()[0].signature is None
    merchant.chaos(unsigned_ipns=False, wrong_signature=True)
    advanced(sandbox, created["payment_id"], "confirmed")
    wrong = receiver.ipns()[1]
    assert wrong.signature is not None
    assert re.fullmatch(r"[0-9a-f]{128}", wrong.signature)
    assert wrong.signature != python_form_signature(merchant.ipn_secret, wrong.raw)
    assert [ipn["x-nowpayments-sig"] for ipn in sandbox.payment(created["payment_id"])["ipns"]] == [
        None,
        wrong.signature,
    ]


def test_late_and_dropped_ipns(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    merchant.chaos(ipn_delay_seconds=0.4)
    created = merchant.pay()
    moved_at = time.monotonic()
    advanced(sandbox, created["payment_id"], "confirming")
    assert receiver.ipns()[0].arrived - moved_at >= 0.4
    merchant.chaos(ipn_delay_seconds=0, drop_ipns=True)
    advanced(sandbox, created["payment_id"], "finished")
    time.sleep(0.1)
    assert receiver.statuses_told() == ["confirming"]
    assert merchant.status(created["payment_id"])["payment_status"] == "finished"


def test_a_forged_finished_ipn_is_contradicted_by_get_payment(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    merchant.chaos(forge_finished=True)
    created = merchant.pay()
    answer = advance(sandbox, created["payment_id"], status="confirming")
    assert answer.status_code == 200
    assert sandbox.wait_for_ipns(TIMEOUT)
    [forged] = receiver.ipns()
    assert forged.body["payment_status"] == "finished"
    assert forged.body["actually_paid"] == Decimal("0.0002")
    assert forged.signature == python_form_signature(merchant.ipn_secret, forged.raw)
    state = merchant.status(created["payment_id"])
    assert (state["payment_status"], state["actually_paid"]) == ("waiting", 0)
    assert sandbox.payment(created["payment_id"])["ipns"][0]["forged"] is True


def test_ipns_come_from_the_configured_source_address(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    url = f"{sandbox.base_url}/_sandbox/settings"
    try:
        changed = requests.post(url, json={"ipn_source_address": "127.0.0.9"}, timeout=TIMEOUT)
        assert changed.json()["ipn_source_address"] == "127.0.0.9"
        refused = requests.post(url, json={"ipn_source_address": "51.89.194.21"}, timeout=TIMEOUT)
        assert refused.status_code == 400
        assert "ipn_source_address" in refused.json()["message"]
        created = merchant.pay()
        advanced(sandbox, created["payment_id"], "confirming")
        assert [ipn.client_ip for ipn in receiver.ipns()] == ["127.0.0.9"]
    finally:
        requests.post(f"{url}/reset", timeout=TIMEOUT)


def test_chaos_is_per_account_checked_and_reset(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    base = f"{sandbox.base_url}/_sandbox/accounts/{merchant.account_id}/chaos"
    merchant.chaos(unsigned_ipns=True)
    other = new_account(sandbox, receiver)
    created = other.pay()
    advanced(sandbox, created["payment_id"], "confirming")
    assert receiver.ipns()[0].signature == python_form_signature(
        other.ipn_secret, receiver.ipns()[0].raw
    )
    for bad in (
        {"signature_form": "perl"},
        {"duplicate_ipns": -1},
        {"forge_finished": "yes"},
        {"x": 1},
    ):
        refused = requests.post(base, json=bad, timeout=TIMEOUT)
        assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_REQUEST_PARAMS"), bad
    reset = requests.post(f"{base}/reset", timeout=TIMEOUT).json()
    assert reset["unsigned_ipns"] is False
    assert reset["signature_form"] == "python"
    missing = requests.get(f"{sandbox.base_url}/_sandbox/accounts/1/chaos", timeout=TIMEOUT)
    assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")


# --------------------------------------------------------------------------- invoices


def _invoice(merchant: Merchant, **overrides: Any) -> Json:
    body: Json = {
        "price_amount": 25,
        "price_currency": "eur",
        "order_id": "pay_01INV",
        "order_description": "Suite, 1 night",
        "ipn_callback_url": merchant.receiver.url,
        "success_url": "https://shop.example/paid",
        "cancel_url": "https://shop.example/cancelled",
    }
    body.update(overrides)
    answer = merchant.post("/v1/invoice", body)
    assert answer.status_code == 200, answer.text
    created = answer.json()
    assert isinstance(created, dict)
    return created


def _press(invoice_url: str, action: str) -> requests.Response:
    return requests.post(f"{invoice_url}/{action}", allow_redirects=False, timeout=TIMEOUT)


def test_an_invoice_is_a_hosted_page_where_the_customer_picks_a_currency_and_pays(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    invoice = _invoice(merchant)
    assert re.fullmatch(r"[0-9]{10}", invoice["id"])
    assert invoice["invoice_url"] == f"{sandbox.base_url}/invoice/{invoice['id']}"
    assert (invoice["price_amount"], invoice["price_currency"]) == ("25", "eur")
    assert invoice["pay_currency"] is None
    assert invoice["success_url"] == "https://shop.example/paid"

    page = requests.get(invoice["invoice_url"], timeout=TIMEOUT)
    assert page.status_code == 200
    assert "25 EUR" in page.text
    assert "Suite, 1 night" in page.text
    assert f'action="/invoice/{invoice["id"]}/btc"' in page.text
    assert "Below the minimum" not in page.text  # 27.50 USD is above every currency's minimum

    chosen = _press(invoice["invoice_url"], "btc")
    assert (chosen.status_code, chosen.headers["Location"]) == (303, f"/invoice/{invoice['id']}")
    payment_id = sandbox.invoice_payment_id(invoice["id"])
    shown = requests.get(invoice["invoice_url"], timeout=TIMEOUT).text
    assert "0.00055 BTC" in shown  # 25 EUR = 27.5 USD = 0.00055 BTC
    assert f'action="/invoice/{invoice["id"]}/pay"' in shown
    assert _press(invoice["invoice_url"], "eth").status_code == 409  # chosen already

    paid = _press(invoice["invoice_url"], "pay")
    assert (paid.status_code, paid.headers["Location"]) == (303, "https://shop.example/paid")
    assert sandbox.wait_for_ipns(TIMEOUT)
    assert receiver.statuses_told() == ["confirming", "confirmed", "sending", "finished"]
    last = receiver.ipns()[-1].body
    assert (last["invoice_id"], last["order_id"]) == (int(invoice["id"]), "pay_01INV")
    assert last["payment_id"] == payment_id
    assert last["price_amount"] == 25
    assert last["pay_amount"] == Decimal("0.00055")
    assert merchant.status(payment_id)["invoice_id"] == int(invoice["id"])
    assert _press(invoice["invoice_url"], "pay").status_code == 409


@pytest.mark.parametrize(
    ("action", "status"), [("pay_partially", "partially_paid"), ("expire", "expired")]
)
def test_paying_half_or_letting_an_invoice_expire_goes_to_cancel_url(
    sandbox: NowPaymentsSandbox, merchant: Merchant, receiver: Receiver, action: str, status: str
) -> None:
    invoice = _invoice(merchant, pay_currency="xrp")
    page = requests.get(invoice["invoice_url"], timeout=TIMEOUT).text
    assert f'action="/invoice/{invoice["id"]}/xrp"' in page
    assert f'action="/invoice/{invoice["id"]}/btc"' not in page
    assert _press(invoice["invoice_url"], "btc").status_code == 409
    assert _press(invoice["invoice_url"], "xrp").status_code == 303
    assert "payin-extra-id" in requests.get(invoice["invoice_url"], timeout=TIMEOUT).text
    done = _press(invoice["invoice_url"], action)
    assert done.headers["Location"] == "https://shop.example/cancelled"
    assert sandbox.wait_for_ipns(TIMEOUT)
    assert receiver.statuses_told()[-1] == status
    assert merchant.status(sandbox.invoice_payment_id(invoice["id"]))["payment_status"] == status


def test_invoice_checks_and_pages_of_nothing(
    sandbox: NowPaymentsSandbox, merchant: Merchant
) -> None:
    refused = merchant.post(
        "/v1/invoice", {"price_amount": 1, "price_currency": "usd", "pay_currency": "btc"}
    )
    assert_error(refused, 400, "AMOUNT_MINIMAL_ERROR", "amountTo is too small")
    unknown = merchant.post("/v1/invoice", {"price_amount": 10, "price_currency": "usd", "tip": 1})
    assert_error(unknown, 400, "INVALID_REQUEST_PARAMS", '"tip" is not allowed')
    bad_url = merchant.post(
        "/v1/invoice", {"price_amount": 10, "price_currency": "usd", "success_url": "shop"}
    )
    assert_error(bad_url, 400, "INVALID_REQUEST_PARAMS", '"success_url" must be a valid uri')
    small = _invoice(merchant, price_amount=10, price_currency="usd")
    page = requests.get(small["invoice_url"], timeout=TIMEOUT).text
    assert "Below the minimum: usdterc20, usdc" in page  # 15 USDT / USDC at least
    assert _press(small["invoice_url"], "usdc").status_code == 409
    bare = _invoice(merchant, success_url=None, cancel_url=None)
    _press(bare["invoice_url"], "eth")
    assert _press(bare["invoice_url"], "expire").headers["Location"] == f"/invoice/{bare['id']}"
    assert requests.get(f"{sandbox.base_url}/invoice/123", timeout=TIMEOUT).status_code == 404
    assert _press(f"{sandbox.base_url}/invoice/123", "pay").status_code == 404
    assert _press(bare["invoice_url"], "steal").status_code == 404


# --------------------------------------------------------------------------- admin and running


def test_accounts_are_created_over_http_and_listed_without_secrets(
    sandbox: NowPaymentsSandbox, receiver: Receiver
) -> None:
    base = sandbox.base_url
    created = requests.post(
        f"{base}/_sandbox/accounts",
        json={"outcome_currency": "USDTTRC20", "service_fee_percent": "1"},
        timeout=TIMEOUT,
    ).json()
    assert set(created) == {"account_id", "api_key", "ipn_secret", "settings"}
    assert re.fullmatch(r"([A-Z0-9]{7}-){3}[A-Z0-9]{7}", created["api_key"])
    assert created["settings"]["outcome_currency"] == "usdttrc20"
    listed = requests.get(f"{base}/_sandbox/accounts", timeout=TIMEOUT).json()["data"]
    assert created["api_key"] not in json.dumps(listed)
    assert created["ipn_secret"] not in json.dumps(listed)
    one = requests.get(f"{base}/_sandbox/accounts/{created['account_id']}", timeout=TIMEOUT).json()
    assert one["settings"]["service_fee_percent"] == "1"
    for bad in (
        {"outcome_currency": "usd"},
        {"service_fee_percent": "lots"},
        {"service_fee_percent": 1},
        {"ipn_callback_url": "nowhere"},
        {"api_key": "mine"},
    ):
        refused = requests.post(f"{base}/_sandbox/accounts", json=bad, timeout=TIMEOUT)
        assert refused.status_code == 400, bad
    merchant = Merchant(
        sandbox, created["account_id"], created["api_key"], created["ipn_secret"], receiver
    )
    payment = merchant.pay(price_amount=100, pay_currency="trx")  # 800 TRX
    state = merchant.status(payment["payment_id"])
    assert state["fee"]["serviceFee"] == Decimal("1")  # 1 % of 100 USDT
    assert state["outcome_amount"] == Decimal("98")  # less 1 USDT network fee


def test_payments_are_listed_per_account_and_waiting_is_observable(
    sandbox: NowPaymentsSandbox, merchant: Merchant
) -> None:
    created = merchant.pay()
    base = sandbox.base_url
    mine = requests.get(
        f"{base}/_sandbox/payments", params={"account_id": merchant.account_id}, timeout=TIMEOUT
    ).json()["data"]
    assert [payment["payment_id"] for payment in mine] == [int(created["payment_id"])]
    assert mine[0]["pay_amount"] == "0.0002"
    one = requests.get(f"{base}/_sandbox/payments/{created['payment_id']}", timeout=TIMEOUT)
    assert one.json() == mine[0]
    assert requests.get(f"{base}/_sandbox/payments/1", timeout=TIMEOUT).status_code == 404
    idle = requests.post(f"{base}/_sandbox/wait_for_ipns", json={"timeout": 1}, timeout=TIMEOUT)
    assert idle.json() == {"idle": True}
    assert (
        requests.post(
            f"{base}/_sandbox/wait_for_ipns", json={"timeout": "1"}, timeout=TIMEOUT
        ).status_code
        == 400
    )
    missing = requests.get(f"{base}/v1/payouts", timeout=TIMEOUT)
    assert_error(missing, 404, "NOT_FOUND", "Cannot GET /v1/payouts")


def test_python_m_runs_a_sandbox_with_one_account() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.sandboxes.nowpayments", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        headers = {"x-api-key": announced["api_key"]}
        answer = requests.get(
            f"{announced['base_url']}/v1/currencies", headers=headers, timeout=TIMEOUT
        )
        assert answer.status_code == 200
        assert announced["ipn_secret"]
    finally:
        process.terminate()
        process.wait(timeout=10)
