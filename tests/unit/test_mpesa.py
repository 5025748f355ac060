"""M-PESA's rules (phone numbers, whole shillings, the STK Password and Timestamp), the mapping
of Daraja's errors, and the token broker's coordination, without a network."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from payments.providers import SPECS, credential_tester, get_spec
from payments.providers.base import (
    ProviderRejectedError,
    ProviderUnavailableError,
    ProviderUnreachableError,
)
from payments.providers.mpesa import MpesaProvider, error_for, nairobi_timestamp, stk_password
from payments.providers.mpesa_spec import (
    SPEC,
    InvalidPhoneNumberError,
    normalise_phone,
)
from payments.providers.spec import AmountNotSupportedError, Capability, WebhookAnswer
from payments.providers.tokens import AccessToken, TokenBroker
from payments.services.credentials import (
    InvalidCredentialsError,
    redacted_view,
    validated_credentials,
)

VALUES = {
    "consumer_key": "ConsumerKey0123456789",
    "consumer_secret": "ConsumerSecret0123456789",
    "shortcode": "174379",
    "passkey": "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
    "transaction_type": "paybill",
    "party_b": "174379",
    "environment": "sandbox",
}


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("254708374149", "254708374149"),
        ("+254 708 374 149", "254708374149"),
        ("0708-374-149", "254708374149"),
        ("0112345678", "254112345678"),
        ("708374149", "254708374149"),
        ("112345678", "254112345678"),
        ("(+254) 112 345 678", "254112345678"),
    ],
)
def test_phone_numbers_are_normalised_to_254(raw: str, normalised: str) -> None:
    assert normalise_phone(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "254608374149",  # not a Safaricom mobile prefix
        "25470837414",  # a digit short
        "2547083741490",  # a digit long
        "0808374149",
        "608374149",
        "+1 415 555 0100",
        "07O8374149",  # a letter O: the rest is too short
    ],
)
def test_other_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumberError):
        normalise_phone(raw)


def test_amounts_are_whole_shillings_of_kes_only() -> None:
    units = SPEC.units
    assert units.to_provider(10_000, "KES") == 100
    assert units.to_provider(100, "kes") == 1
    assert units.from_provider(250_000, "KES") == 25_000_000
    for cents in (10_050, 1, 99):
        with pytest.raises(AmountNotSupportedError):
            units.to_provider(cents, "KES")
    with pytest.raises(AmountNotSupportedError):
        units.to_provider(10_000, "USD")
    with pytest.raises(AmountNotSupportedError):
        units.from_provider(100, "TZS")
    assert SPEC.limits.max_amount == 250_000


def test_the_password_is_darajas_published_example() -> None:
    # Daraja's documentation shows this Password for its test shortcode, passkey and timestamp.
    assert stk_password("174379", VALUES["passkey"], "20160216165627") == (
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQy"
        "YzkxOTIwMTYwMjE2MTY1NjI3"
    )


def test_the_timestamp_is_nairobi_time() -> None:
    assert nairobi_timestamp(datetime(2026, 12, 31, 22, 30, 5, tzinfo=UTC)) == "20270101013005"


@pytest.mark.parametrize(
    ("status", "payload", "kind", "provider_code"),
    [
        (500, {"errorCode": "500.003.02", "errorMessage": "Spike arrest"}, "unreachable", None),
        (500, {"errorCode": "500.003.03", "errorMessage": "Quota Violation"}, "unreachable", None),
        (
            404,
            {"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"},
            "unavailable",
            None,
        ),
        (
            500,
            {"errorCode": "500.001.1001", "errorMessage": "Wrong credentials"},
            "unavailable",
            None,
        ),
        (
            500,
            {"errorCode": "500.001.1001", "errorMessage": "Merchant does not exist"},
            "unavailable",
            None,
        ),
        (
            500,
            {"errorCode": "500.001.1001", "errorMessage": "Unable to lock subscriber"},
            "rejected",
            "500.001.1001",
        ),
        (
            400,
            {"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid Amount"},
            "rejected",
            "400.002.02",
        ),
        (
            503,
            {"errorCode": "503.001.01", "errorMessage": "Service Unavailable"},
            "unreachable",
            None,
        ),
        (502, {}, "unreachable", None),
    ],
)
def test_daraja_errors_map_to_ours(
    status: int, payload: dict[str, str], kind: str, provider_code: str | None
) -> None:
    error = error_for(status, payload)
    expected = {
        "unreachable": ProviderUnreachableError,
        "unavailable": ProviderUnavailableError,
        "rejected": ProviderRejectedError,
    }[kind]
    assert type(error) is expected
    if isinstance(error, ProviderRejectedError):
        assert error.provider_code == provider_code
        assert payload["errorMessage"] in str(error)


def test_the_spec_declares_mpesa() -> None:
    assert get_spec("mpesa") is SPEC
    assert SPECS["mpesa"].display_name == "M-PESA"
    assert SPEC.capabilities == {
        Capability.PUSH_PAYMENT,
        Capability.SWEEP,
        Capability.WEBHOOKS,
        Capability.WEBHOOK_CONFIRMATION,
        Capability.CREDENTIAL_TEST,
    }
    # No Reversal API yet: refunds are a clear 409.
    assert Capability.REFUNDS not in SPEC.capabilities
    assert SPEC.webhook_path_token
    assert SPEC.sweep_after_minutes == 3
    assert SPEC.refund_reasons == frozenset()
    assert isinstance(credential_tester("mpesa"), MpesaProvider)
    assert SPEC.environment_field == "environment"
    assert dict(SPEC.base_urls) == {
        "sandbox": "https://sandbox.safaricom.co.ke",
        "production": "https://api.safaricom.co.ke",
    }
    reply = SPEC.webhook_reply(WebhookAnswer(401, "invalid_token", "no such token"))
    assert (reply.status, json.loads(reply.body)) == (
        200,
        {"ResultCode": 0, "ResultDesc": "Accepted"},
    )


def test_credentials_are_checked_and_shown_by_the_spec() -> None:
    assert validated_credentials(SPEC, VALUES) == VALUES
    for name, bad in (
        ("environment", "staging"),
        ("transaction_type", "buy_goods"),
        ("shortcode", "17437A"),
        ("party_b", "12"),
        ("consumer_secret", ""),
    ):
        with pytest.raises(InvalidCredentialsError) as raised:
            validated_credentials(SPEC, {**VALUES, name: bad})
        assert name in str(raised.value)
        if bad:
            assert bad not in str(raised.value)
    shown = redacted_view("mpesa", VALUES)
    for name in ("shortcode", "transaction_type", "party_b", "environment"):
        assert shown[name] == VALUES[name]
    for name in ("consumer_key", "consumer_secret", "passkey"):
        assert shown[name] != VALUES[name]
        assert VALUES[name] not in json.dumps(shown)


# --------------------------------------------------------------------------- the token broker


@dataclass
class _Store:
    """A shared store in memory, with the semantics the table gives."""

    token: AccessToken | None = None
    lease_holder: str | None = None
    lease_until: float = 0.0
    leases: list[str] = field(default_factory=list)

    def read(self, key: str) -> AccessToken | None:
        return self.token

    def lease(self, key: str, *, holder: str, now: float, seconds: float, replacing: str) -> bool:
        free = self.lease_holder is None or self.lease_until < now
        due = self.token is None or self.token.use_until <= now or self.token.token_id == replacing
        if free and due:
            self.lease_holder, self.lease_until = holder, now + seconds
            self.leases.append(holder)
            return True
        return False

    def publish(
        self, key: str, *, value: str, use_until: float, token_id: str, holder: str
    ) -> bool:
        if self.lease_holder != holder:
            return False
        self.token, self.lease_holder = AccessToken(value, use_until, token_id), None
        return True

    def release(self, key: str, *, holder: str) -> None:
        if self.lease_holder == holder:
            self.lease_holder = None


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_token_is_fetched_once_and_reused_until_shortly_before_it_expires() -> None:
    clock, store = _Clock(), _Store()
    fetched: list[int] = []

    def fetch() -> tuple[str, float]:
        fetched.append(1)
        return f"token-{len(fetched)}", 3599

    broker = TokenBroker(store, clock=clock, sleep=clock.sleep)
    first = broker.token("k", fetch)
    assert broker.token("k", fetch) == first
    assert TokenBroker(store, clock=clock).token("k", fetch) == first  # another container
    clock.now += 3599 - 61
    assert broker.token("k", fetch) == first
    clock.now += 2  # within the last minute: refreshed
    assert broker.token("k", fetch).value == "token-2"
    assert len(fetched) == 2


def test_a_short_lived_token_keeps_half_its_life() -> None:
    clock = _Clock()
    token = TokenBroker(None, clock=clock).token("k", lambda: ("t", 10))
    assert token.use_until == clock.now + 5


def test_a_refused_token_is_replaced_once_even_when_many_saw_it_refused() -> None:
    clock, store = _Clock(), _Store()
    values = iter(["old", "new", "newer"])
    brokers = [TokenBroker(store, clock=clock, sleep=clock.sleep) for _ in range(3)]
    old = brokers[0].token("k", lambda: (next(values), 3599))
    for broker in brokers[1:]:
        assert broker.token("k", lambda: (next(values), 3599)) == old
    replacements = [
        broker.token("k", lambda: (next(values), 3599), rejected=old) for broker in brokers
    ]
    assert {token.value for token in replacements} == {"new"}
    assert len(store.leases) == 2


def test_a_waiting_container_gives_up_when_the_refresher_never_finishes() -> None:
    clock, store = _Clock(), _Store()
    store.lease("k", holder="stuck", now=clock.now, seconds=1_000, replacing="")
    broker = TokenBroker(store, clock=clock, sleep=clock.sleep, lease_seconds=1)
    with pytest.raises(ProviderUnreachableError):
        broker.token("k", lambda: ("t", 3599))


def test_a_failed_fetch_releases_the_lease() -> None:
    clock, store = _Clock(), _Store()
    broker = TokenBroker(store, clock=clock, sleep=clock.sleep)

    def failing() -> tuple[str, float]:
        raise ProviderUnavailableError("refused")

    with pytest.raises(ProviderUnavailableError):
        broker.token("k", failing)
    assert store.lease_holder is None
    assert broker.token("k", lambda: ("t", 3599)).value == "t"


# --- callbacks -----------------------------------------------------------------------------

SUCCESS_CALLBACK = {
    "Body": {
        "stkCallback": {
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": "ws_CO_191220191020363925",
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {
                "Item": [
                    {"Name": "Balance"},
                    {"Name": "PhoneNumber", "Value": 254708374149},
                    {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                    {"Name": "TransactionDate", "Value": 20191219102115},
                    {"Name": "Amount", "Value": 1.0},
                ]
            },
        }
    }
}


def test_a_success_callback_becomes_one_event_per_request_and_result() -> None:
    from payments.domain.states import PaymentStatus
    from payments.providers.base import Credentials

    event = MpesaProvider().verify_webhook(
        Credentials({}), json.dumps(SUCCESS_CALLBACK).encode(), {}
    )
    assert event.event_id == "ws_CO_191220191020363925:0"
    assert event.provider_refs == ("ws_CO_191220191020363925",)
    assert event.requested_status is PaymentStatus.SUCCEEDED
    # Items by name, not position; 1.0 shilling read exactly, as 100 cents.
    assert (event.amount, event.currency) == (100, "KES")
    assert isinstance(event.amount, int)
    assert event.capture_ref == "NLJ7RT61SV"
    assert event.payer == "254708374149"
    assert event.details["receipt_number"] == "NLJ7RT61SV"
    assert event.details["result_code"] == "0"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (1032, "canceled"),
        (1037, "expired"),
        (1019, "expired"),
        (1, "failed"),
        (2001, "failed"),
        (17, "failed"),
    ],
)
def test_result_codes_map_to_states(code: int, status: str) -> None:
    from payments.providers.mpesa import status_for

    assert status_for(code).value == status


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"Body": {}}',
        b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": "zero"}}}',
        b'{"Body": {"stkCallback": {"CheckoutRequestID": "../../x", "ResultCode": 0}}}',
        b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": true}}}',
        # Success without the money's metadata, or with a fractional amount.
        b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0}}}',
        json.dumps(
            {
                "Body": {
                    "stkCallback": {
                        **SUCCESS_CALLBACK["Body"]["stkCallback"],
                        "CallbackMetadata": {
                            "Item": [
                                {"Name": "Amount", "Value": 1.5},
                                {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                            ]
                        },
                    }
                }
            }
        ).encode(),
    ],
)
def test_malformed_callbacks_are_refused_as_unverified(body: bytes) -> None:
    from payments.providers.base import Credentials, WebhookVerificationError

    with pytest.raises(WebhookVerificationError) as refused:
        MpesaProvider().verify_webhook(Credentials({}), body, {})
    assert refused.value.reason.startswith("malformed_callback")


def test_phones_are_masked_for_display() -> None:
    from payments.providers.mpesa_spec import mask_phone

    assert mask_phone("254708374149") == "2547******49"


def test_a_push_never_acknowledged_expires_once_its_prompt_has_lapsed() -> None:
    from datetime import UTC, datetime, timedelta

    from payments.domain.payment import Payment
    from payments.domain.states import PaymentStatus
    from payments.providers.base import Credentials

    def created(minutes_ago: int) -> Payment:
        at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        return Payment(
            "pay_1", "ten_1", "plan", "p1", 5000, "KES", "mpesa", PaymentStatus.CREATED, 1, at, at
        )

    provider = MpesaProvider()
    # No CheckoutRequestID to ask about, and nothing is sent to Daraja either way.
    assert provider.check_payment(Credentials({}), created(1)) is None
    observed = provider.check_payment(Credentials({}), created(3))
    assert observed is not None
    event, _raw = observed
    assert (event.requested_status, event.payment_id) == (PaymentStatus.EXPIRED, "pay_1")
    assert event.details["result_code"] == "1019"
