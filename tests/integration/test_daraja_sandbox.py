"""The Daraja sandbox over real HTTP: OAuth, STK push and query with Daraja's checks, the
virtual phone page and the callbacks a local receiver gets.

The Password is built here from its definition (base64 of shortcode + passkey + Timestamp) and
the Timestamp from the Nairobi clock, not with the sandbox's own helpers.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from devstack.http_server import MAX_BODY_BYTES, Response
from devstack.sandboxes.daraja import App, ChaosSettings, DarajaSandbox, Settings
from tests.integration.helpers import served_locally

TIMEOUT = 5
Json = dict[str, Any]


def nairobi(moment: datetime | None = None) -> str:
    return ((moment or datetime.now(UTC)) + timedelta(hours=3)).strftime("%Y%m%d%H%M%S")


def password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode((shortcode + passkey + timestamp).encode()).decode()


# --------------------------------------------------------------------------- fixtures


@dataclass
class Receiver:
    """A merchant's callback URL: records each callback and where it came from."""

    received: list[tuple[str, Json]] = field(default_factory=list)
    max_body_bytes: int = MAX_BODY_BYTES
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Response:
        with self.lock:
            self.received.append((client_ip, json.loads(body)))
        return Response(200, b'{"ResultCode": 0, "ResultDesc": "Accepted"}')

    def refuse_body(self, status: int) -> Response:
        return Response(status, b"{}")

    def bodies(self) -> list[Json]:
        with self.lock:
            return [body for _, body in self.received]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[DarajaSandbox]:
    with DarajaSandbox() as started:
        yield started


@pytest.fixture(autouse=True)
def _calm(sandbox: DarajaSandbox) -> Iterator[None]:
    sandbox.settings, sandbox.chaos = Settings(), ChaosSettings()
    yield
    sandbox.settings, sandbox.chaos = Settings(), ChaosSettings()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    with served_locally(target) as url:
        target.url = f"{url}/mpesa/callback/tenant-1/token-1"
        yield target


@dataclass
class Merchant:
    sandbox: DarajaSandbox
    app: App
    token: str

    def new_token(self) -> str:
        self.token = oauth(self.sandbox, self.app).json()["access_token"]
        return self.token

    def post(self, path: str, body: Json, token: str | None = None) -> requests.Response:
        return requests.post(
            f"{self.sandbox.base_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=TIMEOUT,
        )

    def push_body(self, receiver: Receiver, **overrides: Any) -> Json:
        timestamp = nairobi()
        body: Json = {
            "BusinessShortCode": self.app.shortcode,
            "Password": password(self.app.shortcode, self.app.passkey, timestamp),
            "Timestamp": timestamp,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": 100,
            "PartyA": "254708374149",
            "PartyB": self.app.shortcode,
            "PhoneNumber": "254708374149",
            "CallBackURL": receiver.url,
            "AccountReference": "HOTSPOT-1H",
            "TransactionDesc": "Wi-Fi 1 hour",
        }
        body.update(overrides)
        return body

    def push(self, receiver: Receiver, **overrides: Any) -> requests.Response:
        return self.post("/mpesa/stkpush/v1/processrequest", self.push_body(receiver, **overrides))

    def pushed(self, receiver: Receiver, **overrides: Any) -> str:
        answer = self.push(receiver, **overrides)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["CheckoutRequestID"])

    def query(self, checkout_request_id: str, *, passkey: str | None = None) -> requests.Response:
        timestamp = nairobi()
        body = {
            "BusinessShortCode": self.app.shortcode,
            "Password": password(self.app.shortcode, passkey or self.app.passkey, timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        return self.post("/mpesa/stkpushquery/v1/query", body)


def oauth(
    sandbox: DarajaSandbox,
    app: App,
    *,
    secret: str | None = None,
    grant: str = "client_credentials",
) -> requests.Response:
    return requests.get(
        f"{sandbox.base_url}/oauth/v1/generate",
        params={"grant_type": grant},
        auth=(app.consumer_key, secret or app.consumer_secret),
        timeout=TIMEOUT,
    )


@pytest.fixture
def merchant(sandbox: DarajaSandbox) -> Merchant:
    app = sandbox.create_app(shortcode="174379", till="5123456")
    return Merchant(sandbox, app, oauth(sandbox, app).json()["access_token"])


def assert_error(answer: requests.Response, status: int, code: str, message: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"requestId", "errorCode", "errorMessage"}
    assert (body["errorCode"], body["errorMessage"]) == (code, message)
    assert body["requestId"]


def press(sandbox: DarajaSandbox, checkout_request_id: str, action: str) -> requests.Response:
    return requests.post(
        f"{sandbox.base_url}/_sandbox/phone/{checkout_request_id}/{action}", timeout=TIMEOUT
    )


# --------------------------------------------------------------------------- OAuth


def test_oauth_issues_a_token_to_a_registered_app_and_counts_it(sandbox: DarajaSandbox) -> None:
    app = sandbox.create_app(shortcode="600100")
    answer = oauth(sandbox, app)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == "3599"
    assert len(body["access_token"]) >= 20
    oauth(sandbox, app)
    assert sandbox.token_requests(app.consumer_key) == 2
    listed = requests.get(f"{sandbox.base_url}/_sandbox/apps/{app.consumer_key}", timeout=TIMEOUT)
    assert listed.json() == {
        "consumer_key": app.consumer_key,
        "shortcode": "600100",
        "till": None,
        "token_requests": 2,
    }


def test_oauth_refuses_bad_basic_auth_and_grant_types(sandbox: DarajaSandbox) -> None:
    app = sandbox.create_app(shortcode="600101")
    refused = "Invalid Authentication passed"
    assert_error(oauth(sandbox, app, secret="not-the-secret"), 400, "400.008.01", refused)
    stranger = App("unknownkey123", app.consumer_secret, "600101", "passkey00")
    assert_error(oauth(sandbox, stranger), 400, "400.008.01", refused)
    url = f"{sandbox.base_url}/oauth/v1/generate?grant_type=client_credentials"
    assert_error(requests.get(url, timeout=TIMEOUT), 400, "400.008.01", refused)
    garbled = requests.get(url, headers={"Authorization": "Basic ***"}, timeout=TIMEOUT)
    assert_error(garbled, 400, "400.008.01", refused)
    grant = oauth(sandbox, app, grant="password")
    assert_error(grant, 400, "400.008.02", "Invalid grant type passed")
    assert sandbox.token_requests(app.consumer_key) == 0


def test_a_newer_token_invalidates_the_previous_one(merchant: Merchant, receiver: Receiver) -> None:
    old = merchant.token
    merchant.new_token()
    stale = merchant.post(
        "/mpesa/stkpush/v1/processrequest", merchant.push_body(receiver), token=old
    )
    assert_error(stale, 404, "404.001.03", "Invalid Access Token")
    assert merchant.push(receiver).status_code == 200


def test_expired_missing_and_unknown_tokens_are_refused(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    sandbox.settings.token_lifetime_seconds = 1
    short_lived = merchant.new_token()
    assert oauth(sandbox, merchant.app).json()["expires_in"] == "1"
    merchant.token = short_lived
    time.sleep(1.1)
    assert_error(merchant.push(receiver), 404, "404.001.03", "Invalid Access Token")
    path = f"{sandbox.base_url}/mpesa/stkpush/v1/processrequest"
    body = merchant.push_body(receiver)
    missing = requests.post(path, json=body, timeout=TIMEOUT)
    assert_error(missing, 404, "404.001.03", "Invalid Access Token")
    unknown = merchant.post("/mpesa/stkpush/v1/processrequest", body, token="x" * 28)
    assert_error(unknown, 404, "404.001.03", "Invalid Access Token")


# --------------------------------------------------------------------------- STK push


def test_a_valid_push_is_accepted_and_waits_on_the_phone(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    answer = merchant.push(receiver)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {
        "MerchantRequestID",
        "CheckoutRequestID",
        "ResponseCode",
        "ResponseDescription",
        "CustomerMessage",
    }
    assert body["ResponseCode"] == "0"
    assert body["CheckoutRequestID"].startswith("ws_CO_")
    assert body["CustomerMessage"] == "Success. Request accepted for processing"
    push = sandbox.push(body["CheckoutRequestID"])
    assert (push["status"], push["Amount"], push["PhoneNumber"]) == ("pending", 100, "254708374149")
    page = requests.get(push["phone_url"], timeout=TIMEOUT)
    assert page.status_code == 200
    assert "Ksh100.00" in page.text
    assert "HOTSPOT-1H" in page.text
    for action in ("pay", "cancel", "wrong_pin", "insufficient_funds", "no_answer"):
        assert f'/_sandbox/phone/{body["CheckoutRequestID"]}/{action}"' in page.text
    assert receiver.bodies() == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"Amount": 1},
        {"Amount": 250_000},
        {"Amount": "500"},
        {"PhoneNumber": "254112345678", "PartyA": 254112345678},
        {"BusinessShortCode": 174379, "PartyB": 174379},
        {"AccountReference": "A" * 12, "TransactionDesc": "D" * 13},
        {"CallBackURL": "https://127.0.0.1:9/cb"},
    ],
)
def test_pushes_at_the_limits_are_accepted(
    merchant: Merchant, receiver: Receiver, overrides: Json
) -> None:
    assert merchant.push(receiver, **overrides).status_code == 200


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("BusinessShortCode", None),
        ("BusinessShortCode", "17437A"),
        ("Password", None),
        ("Password", ""),
        ("Timestamp", None),
        ("Timestamp", "2026-12-01 10:00"),
        ("Timestamp", "20261341250000"),
        ("TransactionType", "CustomerPayBill"),
        ("TransactionType", None),
        ("Amount", None),
        ("Amount", 0),
        ("Amount", 250_001),
        ("Amount", 10.5),
        ("Amount", "10.00"),
        ("Amount", True),
        ("PartyA", None),
        ("PartyA", "0708374149"),
        ("PartyB", None),
        ("PartyB", "shortcode"),
        ("PhoneNumber", None),
        ("PhoneNumber", "254608374149"),
        ("PhoneNumber", "2547083741490"),
        ("PhoneNumber", "+254708374149"),
        ("CallBackURL", None),
        ("CallBackURL", "ftp://127.0.0.1/cb"),
        ("CallBackURL", "127.0.0.1/cb"),
        ("AccountReference", None),
        ("AccountReference", ""),
        ("AccountReference", "A" * 13),
        ("TransactionDesc", None),
        ("TransactionDesc", "D" * 14),
    ],
)
def test_every_field_is_checked(
    merchant: Merchant, receiver: Receiver, field_name: str, value: Any
) -> None:
    body = merchant.push_body(receiver)
    if value is None:
        del body[field_name]
    else:
        body[field_name] = value
    answer = merchant.post("/mpesa/stkpush/v1/processrequest", body)
    assert_error(answer, 400, "400.002.02", f"Bad Request - Invalid {field_name}")


def test_a_stale_timestamp_is_refused(merchant: Merchant, receiver: Receiver) -> None:
    stale = nairobi(datetime.now(UTC) - timedelta(minutes=10))
    app = merchant.app
    answer = merchant.push(
        receiver, Timestamp=stale, Password=password(app.shortcode, app.passkey, stale)
    )
    assert_error(answer, 400, "400.002.02", "Bad Request - Invalid Timestamp")
    utc_not_nairobi = datetime.now(UTC).strftime("%Y%m%d%H%M%S")  # three hours off
    answer = merchant.push(
        receiver,
        Timestamp=utc_not_nairobi,
        Password=password(app.shortcode, app.passkey, utc_not_nairobi),
    )
    assert_error(answer, 400, "400.002.02", "Bad Request - Invalid Timestamp")


def test_a_body_that_is_not_json_is_refused(merchant: Merchant) -> None:
    url = f"{merchant.sandbox.base_url}/mpesa/stkpush/v1/processrequest"
    headers = {"Authorization": f"Bearer {merchant.token}"}
    form = requests.post(url, data={"Amount": "1"}, headers=headers, timeout=TIMEOUT)
    assert_error(form, 400, "400.002.02", "Bad Request - Invalid Content-Type")
    broken = requests.post(
        url,
        data=b"{nope",
        headers={**headers, "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert_error(broken, 400, "400.002.02", "Bad Request - Invalid JSON")


def test_a_password_not_built_from_the_apps_passkey_or_shortcode_is_refused(
    merchant: Merchant, receiver: Receiver
) -> None:
    body = merchant.push_body(receiver)
    wrong = password(merchant.app.shortcode, "not-the-passkey", body["Timestamp"])
    answer = merchant.push(receiver, Password=wrong)
    assert_error(answer, 500, "500.001.1001", "Wrong credentials")
    other = merchant.push(receiver, BusinessShortCode="600000")
    assert_error(other, 500, "500.001.1001", "Merchant does not exist")


def test_paybill_and_till_need_their_own_party_b(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    till = merchant.app.till
    assert till is not None
    buy_goods = merchant.pushed(receiver, TransactionType="CustomerBuyGoodsOnline", PartyB=till)
    assert sandbox.push(buy_goods)["status"] == "pending"
    wrong = [
        merchant.pushed(receiver, TransactionType="CustomerBuyGoodsOnline"),  # PartyB = shortcode
        merchant.pushed(receiver, PartyB=till),  # PayBill to the till
    ]
    assert sandbox.wait_for_callbacks(TIMEOUT)
    for checkout_id in wrong:
        assert sandbox.push(checkout_id)["ResultCode"] == 2028
        result = merchant.query(checkout_id).json()
        assert (result["ResultCode"], result["ResultDesc"]) == (
            "2028",
            "The request is not permitted according to product assignment",
        )
    codes = sorted(body["Body"]["stkCallback"]["ResultCode"] for body in receiver.bodies())
    assert codes == [2028, 2028]


def test_an_app_without_a_till_cannot_buy_goods(sandbox: DarajaSandbox, receiver: Receiver) -> None:
    app = sandbox.create_app(shortcode="600102")
    merchant = Merchant(sandbox, app, oauth(sandbox, app).json()["access_token"])
    checkout_id = merchant.pushed(receiver, TransactionType="CustomerBuyGoodsOnline")
    assert sandbox.push(checkout_id)["ResultCode"] == 2028


def test_spike_arrest_refuses_pushes_too_close_together_per_app(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    sandbox.settings.spike_arrest_seconds = 0.5
    assert merchant.push(receiver).status_code == 200
    assert_error(merchant.push(receiver), 500, "500.003.02", "Spike arrest violation")
    other_app = sandbox.create_app(shortcode="600103")
    other = Merchant(sandbox, other_app, oauth(sandbox, other_app).json()["access_token"])
    assert other.push(receiver, BusinessShortCode="600103", PartyB="600103").status_code == 200
    time.sleep(0.6)
    assert merchant.push(receiver).status_code == 200


def test_forced_spike_arrest_and_quota_refusals_count_down(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    changed = requests.post(
        f"{sandbox.base_url}/_sandbox/chaos",
        json={"spike_arrest_next": 1, "quota_exceeded_next": 1},
        timeout=TIMEOUT,
    )
    assert changed.status_code == 200
    assert_error(merchant.push(receiver), 500, "500.003.03", "Quota Violation")
    assert_error(merchant.push(receiver), 500, "500.003.02", "Spike arrest violation")
    checkout_id = merchant.pushed(receiver)
    sandbox.chaos.quota_exceeded_next = 1
    assert_error(merchant.query(checkout_id), 500, "500.003.03", "Quota Violation")
    assert merchant.query(checkout_id).status_code == 500  # being processed, not quota


# --------------------------------------------------------------------------- STK query


def test_query_says_being_processed_while_the_phone_waits_then_the_result(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    checkout_id = merchant.pushed(receiver)
    assert_error(
        merchant.query(checkout_id), 500, "500.001.1001", "The transaction is being processed"
    )
    assert press(sandbox, checkout_id, "pay").status_code == 200
    answer = merchant.query(checkout_id)
    assert answer.status_code == 200
    body = answer.json()
    assert body == {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successsfully",
        "MerchantRequestID": sandbox.push(checkout_id)["MerchantRequestID"],
        "CheckoutRequestID": checkout_id,
        "ResultCode": "0",
        "ResultDesc": "The service request is processed successfully.",
    }


def test_query_tells_an_unknown_id_from_wrong_credentials(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    made_up = "ws_CO_01012026000000000000000"
    unknown = merchant.query(made_up)
    assert_error(unknown, 400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
    wrong = merchant.query(made_up, passkey="not-the-passkey")
    assert_error(wrong, 500, "500.001.1001", "Wrong credentials")
    other_app = sandbox.create_app(shortcode="600104")
    theirs = Merchant(sandbox, other_app, oauth(sandbox, other_app).json()["access_token"])
    foreign = theirs.query(merchant.pushed(receiver))
    assert_error(foreign, 400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
    no_timestamp = merchant.post(
        "/mpesa/stkpushquery/v1/query",
        {"BusinessShortCode": "174379", "Password": "x", "CheckoutRequestID": made_up},
    )
    assert_error(no_timestamp, 400, "400.002.02", "Bad Request - Invalid Timestamp")


# --------------------------------------------------------------------------- the phone


@pytest.mark.parametrize(
    ("action", "code", "description"),
    [
        ("cancel", 1032, "Request cancelled by user"),
        ("wrong_pin", 2001, "The initiator information is invalid."),
        ("insufficient_funds", 1, "The balance is insufficient for the transaction."),
    ],
)
def test_failed_outcomes_send_a_callback_without_metadata(
    sandbox: DarajaSandbox,
    merchant: Merchant,
    receiver: Receiver,
    action: str,
    code: int,
    description: str,
) -> None:
    checkout_id = merchant.pushed(receiver)
    page = press(sandbox, checkout_id, action)
    assert page.status_code == 200  # the redirect back to the page, showing the result
    assert f"ResultCode {code}" in page.text
    assert sandbox.wait_for_callbacks(TIMEOUT)
    merchant_request_id = sandbox.push(checkout_id)["MerchantRequestID"]
    assert receiver.bodies() == [
        {
            "Body": {
                "stkCallback": {
                    "MerchantRequestID": merchant_request_id,
                    "CheckoutRequestID": checkout_id,
                    "ResultCode": code,
                    "ResultDesc": description,
                }
            }
        }
    ]
    assert merchant.query(checkout_id).json()["ResultCode"] == str(code)
    again = press(sandbox, checkout_id, "pay")
    assert again.status_code == 409
    assert sandbox.push(checkout_id)["ResultCode"] == code


def test_paying_sends_the_receipt_in_daraja_callback_shape(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    checkout_id = merchant.pushed(receiver, Amount=250, PhoneNumber="254712345678")
    before = int(nairobi())
    page = press(sandbox, checkout_id, "pay")
    assert "receipt" in page.text
    assert sandbox.wait_for_callbacks(TIMEOUT)
    [(_, body)] = receiver.received
    raw = json.dumps(body)
    assert '"Value": 250.0' in raw  # Daraja writes the amount with a decimal point
    callback = body["Body"]["stkCallback"]
    assert set(callback) == {
        "MerchantRequestID",
        "CheckoutRequestID",
        "ResultCode",
        "ResultDesc",
        "CallbackMetadata",
    }
    assert (callback["CheckoutRequestID"], callback["ResultCode"]) == (checkout_id, 0)
    items = {item["Name"]: item["Value"] for item in callback["CallbackMetadata"]["Item"]}
    assert list(items) == ["Amount", "MpesaReceiptNumber", "TransactionDate", "PhoneNumber"]
    assert items["Amount"] == 250
    assert items["PhoneNumber"] == 254712345678
    receipt = items["MpesaReceiptNumber"]
    assert isinstance(receipt, str)
    assert len(receipt) == 10
    assert receipt.isupper()
    assert receipt.isalnum()
    assert isinstance(items["TransactionDate"], int)
    assert before <= items["TransactionDate"] <= int(nairobi()) + 1
    push = sandbox.push(checkout_id)
    assert push["MpesaReceiptNumber"] == receipt
    assert push["callbacks"] == [{"body": body, "delivered": True}]


def test_no_answer_times_out_with_1037_after_the_delay(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    sandbox.settings.no_answer_delay_seconds = 0.4
    checkout_id = merchant.pushed(receiver)
    assert press(sandbox, checkout_id, "no_answer").status_code == 200
    assert_error(
        merchant.query(checkout_id), 500, "500.001.1001", "The transaction is being processed"
    )
    assert press(sandbox, checkout_id, "pay").status_code == 409  # the prompt is gone
    assert not sandbox.wait_for_callbacks(0.1)
    assert sandbox.wait_for_callbacks(TIMEOUT)
    [body] = receiver.bodies()
    assert body["Body"]["stkCallback"]["ResultCode"] == 1037
    assert body["Body"]["stkCallback"]["ResultDesc"] == "DS timeout user cannot be reached"
    assert merchant.query(checkout_id).json()["ResultCode"] == "1037"


def test_the_phone_page_of_an_unknown_push_is_404(sandbox: DarajaSandbox) -> None:
    assert (
        requests.get(f"{sandbox.base_url}/_sandbox/phone/ws_CO_x", timeout=TIMEOUT).status_code
        == 404
    )
    assert press(sandbox, "ws_CO_x", "pay").status_code == 404
    assert press(sandbox, "ws_CO_x", "steal").status_code == 404


# --------------------------------------------------------------------------- chaos and source


def test_duplicate_callbacks(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    sandbox.chaos.duplicate_callbacks = 1
    checkout_id = merchant.pushed(receiver)
    press(sandbox, checkout_id, "pay")
    assert sandbox.wait_for_callbacks(TIMEOUT)
    first, second = receiver.bodies()
    assert first == second
    assert first["Body"]["stkCallback"]["CheckoutRequestID"] == checkout_id


def test_a_late_callback_comes_after_the_result_is_queryable(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    sandbox.chaos.callback_delay_seconds = 0.5
    checkout_id = merchant.pushed(receiver)
    press(sandbox, checkout_id, "pay")
    assert merchant.query(checkout_id).json()["ResultCode"] == "0"
    assert receiver.bodies() == []
    assert sandbox.wait_for_callbacks(TIMEOUT)
    assert len(receiver.bodies()) == 1


def test_a_dropped_callback_never_comes_but_query_knows(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    sandbox.chaos.drop_callbacks = True
    checkout_id = merchant.pushed(receiver)
    press(sandbox, checkout_id, "pay")
    assert sandbox.wait_for_callbacks(TIMEOUT)
    time.sleep(0.1)
    assert receiver.bodies() == []
    assert sandbox.push(checkout_id)["callbacks"] == []
    assert merchant.query(checkout_id).json()["ResultCode"] == "0"


def test_a_tampered_callback_carries_another_amount(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    sandbox.chaos.callback_amount_offset = 5
    checkout_id = merchant.pushed(receiver, Amount=100)
    press(sandbox, checkout_id, "pay")
    assert sandbox.wait_for_callbacks(TIMEOUT)
    [body] = receiver.bodies()
    items = {
        item["Name"]: item["Value"]
        for item in body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    }
    assert items["Amount"] == 105
    assert sandbox.push(checkout_id)["Amount"] == 100


def test_callbacks_come_from_the_configured_source_address(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    url = f"{sandbox.base_url}/_sandbox/settings"
    changed = requests.post(url, json={"callback_source_address": "127.0.0.7"}, timeout=TIMEOUT)
    assert changed.json()["callback_source_address"] == "127.0.0.7"
    refused = requests.post(url, json={"callback_source_address": "10.1.2.3"}, timeout=TIMEOUT)
    assert refused.status_code == 400
    assert "callback_source_address" in refused.json()["errorMessage"]
    checkout_id = merchant.pushed(receiver)
    press(sandbox, checkout_id, "cancel")
    assert sandbox.wait_for_callbacks(TIMEOUT)
    assert [client_ip for client_ip, _ in receiver.received] == ["127.0.0.7"]


def test_a_callback_the_receiver_cannot_take_is_recorded_as_not_delivered(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    checkout_id = merchant.pushed(receiver, CallBackURL="http://127.0.0.1:9/nobody-listens")
    press(sandbox, checkout_id, "pay")
    assert sandbox.wait_for_callbacks(TIMEOUT)
    [sent] = sandbox.push(checkout_id)["callbacks"]
    assert sent["delivered"] is False  # sent once, not retried, as Daraja does


# --------------------------------------------------------------------------- admin


def test_apps_are_registered_over_http_and_listed_without_secrets(sandbox: DarajaSandbox) -> None:
    base = sandbox.base_url
    created = requests.post(
        f"{base}/_sandbox/apps", json={"shortcode": "600200", "till": "700200"}, timeout=TIMEOUT
    )
    assert created.status_code == 201
    app = created.json()
    assert set(app) == {"consumer_key", "consumer_secret", "shortcode", "passkey", "till"}
    token = oauth(sandbox, App(**app))
    assert token.status_code == 200
    again = requests.post(f"{base}/_sandbox/apps", json=app, timeout=TIMEOUT)
    assert (again.status_code, again.json()) == (201, app)
    clash = requests.post(
        f"{base}/_sandbox/apps", json={**app, "passkey": "another-passkey"}, timeout=TIMEOUT
    )
    assert clash.status_code == 400
    listed = requests.get(f"{base}/_sandbox/apps", timeout=TIMEOUT).json()["data"]
    mine = [entry for entry in listed if entry["consumer_key"] == app["consumer_key"]]
    assert mine == [
        {
            "consumer_key": app["consumer_key"],
            "shortcode": "600200",
            "till": "700200",
            "token_requests": 1,
        }
    ]
    assert app["consumer_secret"] not in json.dumps(listed)
    assert app["passkey"] not in json.dumps(listed)
    for bad in ({"shortcode": "12"}, {"shortcode": 600200}, {"till": "x"}, {"colour": "red"}):
        refused = requests.post(f"{base}/_sandbox/apps", json=bad, timeout=TIMEOUT)
        assert refused.status_code == 400, bad
        assert refused.json()["errorCode"] == "400.002.02"
    missing = requests.get(f"{base}/_sandbox/apps/nobody", timeout=TIMEOUT)
    assert missing.status_code == 404


def test_pushes_are_listed_per_app(
    sandbox: DarajaSandbox, merchant: Merchant, receiver: Receiver
) -> None:
    checkout_id = merchant.pushed(receiver)
    base = sandbox.base_url
    mine = requests.get(
        f"{base}/_sandbox/pushes",
        params={"consumer_key": merchant.app.consumer_key},
        timeout=TIMEOUT,
    ).json()["data"]
    assert [push["CheckoutRequestID"] for push in mine] == [checkout_id]
    assert mine[0]["phone_url"] == f"{base}/_sandbox/phone/{checkout_id}"
    one = requests.get(f"{base}/_sandbox/pushes/{checkout_id}", timeout=TIMEOUT).json()
    assert one == mine[0]
    assert requests.get(f"{base}/_sandbox/pushes/ws_CO_x", timeout=TIMEOUT).status_code == 404


def test_switches_are_checked_and_reset_and_unknown_paths_answer_in_darajas_shape(
    sandbox: DarajaSandbox,
) -> None:
    base = sandbox.base_url
    bad = requests.post(f"{base}/_sandbox/chaos", json={"drop_callbacks": "yes"}, timeout=TIMEOUT)
    assert bad.status_code == 400
    requests.post(f"{base}/_sandbox/chaos", json={"duplicate_callbacks": 2}, timeout=TIMEOUT)
    reset = requests.post(f"{base}/_sandbox/chaos/reset", timeout=TIMEOUT).json()
    assert reset == ChaosSettings().as_dict()
    settings = requests.get(f"{base}/_sandbox/settings", timeout=TIMEOUT).json()
    assert settings["token_lifetime_seconds"] == 3599
    idle = requests.post(
        f"{base}/_sandbox/wait_for_callbacks", json={"timeout": 1}, timeout=TIMEOUT
    )
    assert idle.json() == {"idle": True}
    assert_error(
        requests.get(f"{base}/mpesa/c2b/v1/registerurl", timeout=TIMEOUT),
        404,
        "404.001.01",
        "Resource not found",
    )
