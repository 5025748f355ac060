"""Provider specs: the one place a provider's rules live (units, credentials, capabilities)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from payments.errors import PaymentsError
from payments.providers import (
    SPECS,
    CapabilityNotSupportedError,
    UnknownProviderError,
    get_spec,
    refunds,
    sweeper,
)
from payments.providers.spec import (
    AmountNotSupportedError,
    Capability,
    CredentialField,
    WebhookAnswer,
    json_webhook_reply,
)
from payments.providers.stripe import translate_event
from payments.providers.stripe_spec import SPEC as STRIPE
from payments.services.checkout import CheckoutInput, _validated
from payments.services.credentials import (
    InvalidCredentialsError,
    redacted_view,
    validated_credentials,
)
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("currency", "ours", "stripes"),
    [
        ("USD", 4500, 4500),
        ("JPY", 500, 500),  # zero-decimal in ISO and at Stripe
        ("KES", 250000, 250000),
        ("ISK", 5000, 500000),  # ISO: zero decimals; Stripe: two, in whole krónur
        ("KWD", 1230, 1230),  # three decimals, last one 0
        ("isk", 7, 700),
    ],
)
def test_stripe_units_round_trip(currency: str, ours: int, stripes: int) -> None:
    assert STRIPE.units.to_provider(ours, currency) == stripes
    assert STRIPE.units.from_provider(stripes, currency) == ours


@pytest.mark.parametrize(("currency", "amount"), [("KWD", 1235), ("BHD", 1), ("TND", 9)])
def test_stripe_refuses_three_decimal_amounts_that_do_not_end_in_zero(
    currency: str, amount: int
) -> None:
    with pytest.raises(AmountNotSupportedError, match="multiples of 10"):
        STRIPE.units.to_provider(amount, currency)


def test_a_fractional_krona_from_stripe_is_not_taken_as_an_amount() -> None:
    with pytest.raises(AmountNotSupportedError):
        STRIPE.units.from_provider(150, "ISK")


def test_stripe_events_are_translated_into_our_units() -> None:
    event = translate_event(
        {
            "id": "evt_1",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": "cs_1",
                    "payment_status": "paid",
                    "payment_intent": "pi_1",
                    "amount_total": 500000,
                    "currency": "isk",
                    "client_reference_id": "pay_1",
                }
            },
        }
    )
    assert (event.amount, event.currency) == (5000, "ISK")
    refund = translate_event(
        {
            "id": "evt_2",
            "type": "refund.updated",
            "data": {"object": {"id": "re_1", "amount": 120000, "currency": "isk"}},
        }
    )
    assert refund.refunds[0].amount == 1200


def test_checkout_limits_come_from_the_spec() -> None:
    base = CheckoutInput("booking", "bk_1", 4500, "USD", "Massage", "https://example.com/ok")
    assert _validated(base, STRIPE).minor == 4500
    cases = {
        "amount_too_large": CheckoutInput("b", "1", 100_000_000, "USD", "x", "https://a.co/"),
        # 1,000,000 ISK is 100,000,000 in Stripe's units: above its ceiling.
        "amount_too_large_isk": CheckoutInput("b", "1", 1_000_000, "ISK", "x", "https://a.co/"),
        "amount_not_supported": CheckoutInput("b", "1", 1235, "KWD", "x", "https://a.co/"),
        "success_url_required": CheckoutInput("b", "1", 100, "USD", "x", None),
        "metadata_too_large": CheckoutInput(
            "b", "1", 100, "USD", "x", "https://a.co/", metadata={f"k{i}": "v" for i in range(49)}
        ),
        "invalid_metadata": CheckoutInput(
            "b", "1", 100, "USD", "x", "https://a.co/", metadata={"payment_id": "mine"}
        ),
    }
    for label, request in cases.items():
        with pytest.raises(PaymentsError) as raised:
            _validated(request, STRIPE)
        assert raised.value.code == label.removesuffix("_isk"), label
    # 48 keys: Stripe's 50 less the two our adapter adds.
    fits = CheckoutInput(
        "b", "1", 100, "USD", "x", "https://a.co/", metadata={f"k{i}": "v" for i in range(48)}
    )
    assert _validated(fits, STRIPE).minor == 100


def test_capabilities_are_typed_factories_and_missing_ones_are_clear_409s() -> None:
    assert STRIPE.capabilities == frozenset(Capability) - {
        Capability.WEBHOOK_CONFIRMATION,
        Capability.PUSH_PAYMENT,
        Capability.CRYPTO_PAYMENTS,
        Capability.TOKEN_TRADES,
    }
    omnisend = get_spec("omnisend")
    assert omnisend.capabilities == frozenset()
    with pytest.raises(CapabilityNotSupportedError) as refused:
        refunds("omnisend")
    assert (refused.value.status, refused.value.code) == (409, "refund_not_supported")
    with pytest.raises(CapabilityNotSupportedError) as refused:
        sweeper("omnisend")
    assert refused.value.code == "refresh_not_supported"
    with pytest.raises(UnknownProviderError) as unknown:
        get_spec("paypal")
    assert unknown.value.code == "unknown_provider"
    assert "stripe" in unknown.value.message


def test_every_spec_is_well_formed() -> None:
    for name, spec in SPECS.items():
        assert spec.name == name
        fields = [f.name for f in spec.credential_fields]
        assert len(fields) == len(set(fields)), name
        assert "enabled" not in fields, name  # stored beside the fields
        if spec.environment_field:
            assert spec.environment_field in fields, name
            assert set(spec.credential_field(spec.environment_field).choices or ()) <= set(  # type: ignore[union-attr]
                spec.base_urls
            ), name


def test_credentials_are_checked_by_the_spec_without_echoing_values() -> None:
    good = {"secret_key": "sk_test_abc123", "webhook_secret": "whsec_abc"}
    assert validated_credentials(STRIPE, good) == good
    for values, words in (
        ({"secret_key": "pk_live_publishable", "webhook_secret": "whsec_a"}, "secret_key"),
        ({"secret_key": "sk_test_a"}, "webhook_secret is required"),
        ({**good, "password": "hunter2"}, "takes no credential 'password'"),
        ({**good, "secret_key": "sk_test_" + "a" * 600}, "longer than"),
    ):
        with pytest.raises(InvalidCredentialsError) as refused:
            validated_credentials(STRIPE, values)
        assert words in refused.value.message
        assert (refused.value.status, refused.value.code) == (422, "invalid_credentials")
        assert "pk_live_publishable" not in refused.value.message
        assert "hunter2" not in refused.value.message


def test_fields_that_are_not_secret_are_shown_and_secrets_are_redacted() -> None:
    view = redacted_view("stripe", {"secret_key": "sk_test_51Habcdef1234", "extra": "x"})
    assert view == {"secret_key": "sk_****1234", "enabled": True}
    shown = CredentialField("shortcode", "the PayBill", secret=False, pattern=r"\d{5,7}")
    assert shown.problem("174379") is None
    assert shown.problem("17a") is not None
    choice = CredentialField("environment", "where", secret=False, choices=("sandbox", "live"))
    assert "sandbox, live" in str(choice.problem("prod"))


def test_the_default_webhook_reply_is_our_shape() -> None:
    accepted = json_webhook_reply(WebhookAnswer(200, "received", "ok", outcome="applied"))
    assert (accepted.status, json.loads(accepted.body)) == (
        200,
        {"received": True, "outcome": "applied"},
    )
    refused = json_webhook_reply(WebhookAnswer(400, "signature_verification_failed", "no"))
    assert json.loads(refused.body) == {
        "error": {"code": "signature_verification_failed", "message": "no"}
    }


def test_reading_the_specs_loads_no_provider_sdk() -> None:
    probe = (
        "import sys, json; sys.path.insert(0, 'layers/shared');"
        "import payments.providers as p; [s.capabilities for s in p.SPECS.values()];"
        "print(json.dumps('stripe' in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(result.stdout) is False


def test_the_api_base_comes_from_the_credentials_environment_or_the_deployment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from payments.config import reset_settings
    from payments.providers.base import ProviderUnavailableError

    mpesa = get_spec("mpesa")
    monkeypatch.delenv("PROVIDER_API_BASE_MPESA", raising=False)
    monkeypatch.delenv("PROVIDER_API_BASE_STRIPE", raising=False)
    reset_settings()
    assert mpesa.api_base({"environment": "sandbox"}) == "https://sandbox.safaricom.co.ke"
    assert mpesa.api_base({"environment": "production"}) == "https://api.safaricom.co.ke"
    assert STRIPE.api_base({}) == "https://api.stripe.com"
    with pytest.raises(ProviderUnavailableError, match="unknown M-PESA environment 'live'"):
        mpesa.api_base({"environment": "live"})
    monkeypatch.setenv("PROVIDER_API_BASE_MPESA", "http://127.0.0.1:9")
    reset_settings()
    try:
        assert mpesa.api_base({"environment": "sandbox"}) == "http://127.0.0.1:9"
        # The override never makes an unknown environment acceptable.
        with pytest.raises(ProviderUnavailableError):
            mpesa.api_base({"environment": "live"})
    finally:
        monkeypatch.delenv("PROVIDER_API_BASE_MPESA")
        reset_settings()
