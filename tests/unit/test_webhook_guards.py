"""Webhook guards that need no AWS: the signed-timestamp window (both directions, as the Stripe
adapter applies it to signatures made by the stripe SDK's own signer) and the per-provider
source allow-list settings."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import stripe
from pydantic import ValidationError

from devstack.template import load_template
from payments.config import Settings
from payments.providers.base import (
    Credentials,
    WebhookVerificationError,
    check_signed_timestamp,
)
from payments.providers.stripe import PUBLISHED_WEBHOOK_SOURCE_IPS, StripeProvider

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_unit_test_secret_0123456789"
EVENT = {"id": "evt_1", "object": "event", "type": "customer.created", "data": {"object": {}}}


# --- the shared rule -------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300])
def test_timestamps_within_300_s_either_way_pass(offset: int) -> None:
    check_signed_timestamp(1_800_000_000 + offset, 1_800_000_000.0)


@pytest.mark.parametrize(
    ("offset", "words"),
    [(301, "301 s in the future"), (86_400, "86400 s in the future"), (-301, "301 s old")],
)
def test_timestamps_beyond_300_s_either_way_are_refused_with_the_direction(
    offset: int, words: str
) -> None:
    with pytest.raises(WebhookVerificationError) as refused:
        check_signed_timestamp(1_800_000_000 + offset, 1_800_000_000.0)
    assert refused.value.reason.startswith("Timestamp outside the tolerance zone")
    assert words in refused.value.reason


def test_a_tolerance_is_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        check_signed_timestamp(0, 0.0, tolerance=0)


# --- the Stripe adapter, with signatures from the stripe SDK ---------------------------------


def _stripe_headers(payload: bytes, stamp: int) -> dict[str, str]:
    v1 = stripe.WebhookSignature._compute_signature(f"{stamp}.{payload.decode()}", SECRET)
    return {"stripe-signature": f"t={stamp},v1={v1}"}


def _verify(payload: bytes, headers: dict[str, str]) -> str:
    credentials = Credentials({"secret_key": "sk_test_x", "webhook_secret": SECRET})
    return StripeProvider().verify_webhook(credentials, payload, headers).event_id


@pytest.mark.parametrize("offset", [600, 86_400])
def test_stripe_refuses_signatures_from_the_future(offset: int) -> None:
    payload = json.dumps(EVENT).encode()
    # The SDK alone would accept this one: it only looks at old timestamps.
    stamp = int(time.time()) + offset
    assert stripe.WebhookSignature.verify_header(
        payload.decode(), _stripe_headers(payload, stamp)["stripe-signature"], SECRET, 300
    )
    with pytest.raises(WebhookVerificationError, match="in the future"):
        _verify(payload, _stripe_headers(payload, stamp))


def test_stripe_accepts_299_s_ahead_and_refuses_301_s_old() -> None:
    payload = json.dumps(EVENT).encode()
    assert _verify(payload, _stripe_headers(payload, int(time.time()) + 299)) == "evt_1"
    with pytest.raises(WebhookVerificationError, match="301 s old"):
        _verify(payload, _stripe_headers(payload, int(time.time()) - 301))


def test_stripe_checks_the_timestamp_the_signature_covers() -> None:
    """The SDK signs over the first ``t``; a second, current ``t`` appended by someone else
    must not make a future-dated signature pass."""
    payload = json.dumps(EVENT).encode()
    future = int(time.time()) + 3600
    header = _stripe_headers(payload, future)["stripe-signature"]
    with pytest.raises(WebhookVerificationError, match="in the future"):
        _verify(payload, {"stripe-signature": f"{header},t={int(time.time())}"})


def test_a_bad_signature_is_refused_before_the_timestamp_is_considered() -> None:
    payload = json.dumps(EVENT).encode()
    headers = _stripe_headers(payload, int(time.time()) + 86_400)
    with pytest.raises(WebhookVerificationError, match="No signatures found matching"):
        _verify(payload + b" ", headers)


# --- source allow-lists ----------------------------------------------------------------------


def test_source_networks_come_from_one_variable_per_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_SOURCE_CIDRS_STRIPE", " 3.18.12.63 , 2001:db8:5::/48,10.1.0.0/16")
    monkeypatch.setenv("WEBHOOK_SOURCE_CIDRS_MPESA", "196.201.214.200/32")
    settings = Settings()
    assert [str(n) for n in settings.webhook_source_networks("stripe")] == [
        "3.18.12.63/32",
        "2001:db8:5::/48",
        "10.1.0.0/16",
    ]
    # A provider added later needs only its variable (its template parameter), no new field.
    assert [str(n) for n in settings.webhook_source_networks("mpesa")] == ["196.201.214.200/32"]
    assert settings.webhook_source_networks("nowpayments") == ()


def test_an_empty_list_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SOURCE_CIDRS_STRIPE", "  ")
    assert Settings().webhook_source_networks("stripe") == ()


@pytest.mark.parametrize(
    "value",
    [
        "3.18.12.63/24",  # host bits set: almost surely a typo for /32 or x.x.x.0/24
        "3.18.12.300",
        "3.18.12.63,,3.69.109.8",
        "3.18.12.63;3.69.109.8",
        "2001:db8::1/48",
        "stripe.com",
    ],
)
def test_a_bad_list_fails_the_settings_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("WEBHOOK_SOURCE_CIDRS_STRIPE", value)
    with pytest.raises(ValidationError, match=r"WEBHOOK_SOURCE_CIDRS_STRIPE: .* is not a network"):
        Settings()


def test_the_template_passes_the_parameter_off_by_default_and_checks_its_syntax() -> None:
    template = load_template()
    parameter = template["Parameters"]["StripeWebhookSourceCidrs"]
    assert parameter["Default"] == ""
    function = template["Resources"]["WebhookStripeFunction"]["Properties"]
    assert function["Environment"]["Variables"]["WEBHOOK_SOURCE_CIDRS_STRIPE"] == {
        "Ref": "StripeWebhookSourceCidrs"
    }
    pattern = re.compile(parameter["AllowedPattern"])
    for good in ["", ",".join(PUBLISHED_WEBHOOK_SOURCE_IPS), "3.18.12.63/32, 2001:db8::/32"]:
        assert pattern.fullmatch(good), good
    for bad in ["3.18.12.63;3.69.109.8", "stripe.com", "3.18.12.63/", ",3.18.12.63"]:
        assert not pattern.fullmatch(bad), bad


def test_stripes_published_list_is_the_documented_ready_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ready = ",".join(PUBLISHED_WEBHOOK_SOURCE_IPS)
    monkeypatch.setenv("WEBHOOK_SOURCE_CIDRS_STRIPE", ready)
    assert len(Settings().webhook_source_networks("stripe")) == len(PUBLISHED_WEBHOOK_SOURCE_IPS)
    assert f"StripeWebhookSourceCidrs={ready}" in (ROOT / "docs/providers/stripe.md").read_text()
