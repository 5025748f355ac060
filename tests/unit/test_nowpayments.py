"""NOWPayments IPNs: the signed text in both canonical forms, checked against signatures made
outside our code (a Node.js ``JSON.stringify`` signer and Python's ``json.dumps``), the refusals,
the status mapping and the dedupe key."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from payments.domain.states import PaymentStatus
from payments.providers import SPECS, crypto_payments, get_spec
from payments.providers.base import Credentials, WebhookVerificationError
from payments.providers.nowpayments import (
    NowPaymentsProvider,
    javascript_signature_text,
    parse_signed_body,
    python_signature_text,
    read_payment_state,
    status_for,
)
from payments.providers.spec import Capability

SECRET = "ipn-secret-0123456789abcdef"
CREDENTIALS = Credentials(
    {"api_key": "KEY1234-ABCDEFG", "ipn_secret": SECRET, "environment": "sandbox"}
)

# The Node.js signer: JSON.parse, keys sorted at every level, JSON.stringify, HMAC-SHA512.
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
  const sig = crypto.createHmac("sha512", process.argv[2]).update(text).digest("hex");
  process.stdout.write(JSON.stringify({text, sig}));
});
"""

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def node_sign(raw: str, tmp_path: Path) -> tuple[str, str]:
    assert NODE is not None
    script = tmp_path / "sign.js"
    script.write_text(NODE_SIGNER)
    done = subprocess.run(
        [NODE, str(script), SECRET], input=raw.encode(), capture_output=True, check=True
    )
    answer = json.loads(done.stdout)
    return answer["text"], answer["sig"]


def python_sign(raw: str) -> tuple[str, str]:
    text = json.dumps(json.loads(raw), separators=(",", ":"), sort_keys=True)
    return text, hmac.new(SECRET.encode(), text.encode(), hashlib.sha512).hexdigest()


# Bodies as NOWPayments (Node.js) or another signer may write them.
IPN = (
    '{"payment_id":5077125051,"parent_payment_id":null,"invoice_id":null,'
    '"payment_status":"finished","pay_address":"bc1qexample","payin_extra_id":null,'
    '"price_amount":10,"price_currency":"usd","pay_amount":0.0002,"actually_paid":0.0002,'
    '"actually_paid_at_fiat":10,"pay_currency":"btc","order_id":"pay_abc",'
    '"order_description":"Zimmer 12 \u2013 Grüße, 東京 😀","purchase_id":"5837122679",'
    '"outcome_amount":0.00018,"outcome_currency":"btc",'
    '"fee":{"currency":"btc","depositFee":0,"withdrawalFee":0.00001,"serviceFee":1e-7},'
    '"updated_at":1763870400123}'
)
BODIES = {
    "nowpayments ipn with nested fee, non-ascii, 1e-7": IPN,
    "python-written floats": '{"b":1e-07,"a":0.10,"c":1.0,"d":[10,2.50,-0.0],"e":{"z":1,"y":"/"}}',
    "large and small numbers": (
        '{"big":123456789012345,"huge":1e21,"x":1.5e16,"y":0.000001,"z":0.0001}'
    ),
    "escapes": '{"s":"tab\\tquote\\"back\\\\slash\\u0001 é","k\\u00e9":true,"n":null}',
    "nested lists and objects": '{"fee":{"b":[{"d":1,"c":2}],"a":{}},"list":[]}',
}


@needs_node
@pytest.mark.parametrize("raw", BODIES.values(), ids=BODIES.keys())
def test_both_canonical_forms_are_the_independent_signers_texts(raw: str, tmp_path: Path) -> None:
    tree = parse_signed_body(raw.encode())
    node_text, _ = node_sign(raw, tmp_path)
    py_text, _ = python_sign(raw)
    assert javascript_signature_text(tree) == node_text
    assert python_signature_text(tree) == py_text


@needs_node
@pytest.mark.parametrize("raw", BODIES.values(), ids=BODIES.keys())
def test_a_signature_of_either_signer_verifies(raw: str, tmp_path: Path) -> None:
    body = {**json.loads(raw), "payment_id": 1, "payment_status": "waiting"}
    raw = json.dumps(body, ensure_ascii=False)
    adapter = NowPaymentsProvider()
    for _, signature in (node_sign(raw, tmp_path), python_sign(raw)):
        event = adapter.verify_webhook(CREDENTIALS, raw.encode(), {"x-nowpayments-sig": signature})
        assert event.details["nowpayments_payment_id"] == "1"
        # Hex case does not matter; a signature is one of the two texts' HMACs.
        adapter.verify_webhook(CREDENTIALS, raw.encode(), {"x-nowpayments-sig": signature.upper()})


@needs_node
def test_the_forms_differ_where_python_and_javascript_disagree(tmp_path: Path) -> None:
    node_text, node_sig = node_sign(IPN, tmp_path)
    py_text, _py_sig = python_sign(IPN)
    assert node_text != py_text
    assert "1e-7" in node_text and "1e-07" in py_text  # noqa: PT018
    assert "東京" in node_text and "\\u6771\\u4eac" in py_text  # noqa: PT018
    event = NowPaymentsProvider().verify_webhook(
        CREDENTIALS, IPN.encode(), {"x-nowpayments-sig": node_sig}
    )
    assert event.event_id == "5077125051:finished:1763870400123"
    assert event.payment_id == "pay_abc"
    assert event.details["pay_amount"] == "0.0002"


def _refusal(raw: bytes, headers: dict[str, str]) -> str:
    with pytest.raises(WebhookVerificationError) as refused:
        NowPaymentsProvider().verify_webhook(CREDENTIALS, raw, headers)
    return refused.value.reason


def test_unsigned_wrongly_signed_tampered_and_non_json_bodies_are_refused() -> None:
    _, signature = python_sign(IPN)
    assert _refusal(IPN.encode(), {}).startswith("missing_signature")
    assert _refusal(IPN.encode(), {"x-nowpayments-sig": ""}).startswith("missing_signature")
    assert _refusal(IPN.encode(), {"x-nowpayments-sig": "ab" * 64}) == "signature_mismatch"
    assert _refusal(IPN.encode(), {"x-nowpayments-sig": "nothex"}).startswith("signature_mismatch")
    tampered = IPN.replace('"actually_paid":0.0002', '"actually_paid":0.0003')
    assert _refusal(tampered.encode(), {"x-nowpayments-sig": signature}) == "signature_mismatch"
    other_secret = hmac.new(
        b"another",
        json.dumps(json.loads(IPN), separators=(",", ":"), sort_keys=True).encode(),
        hashlib.sha512,
    ).hexdigest()
    assert _refusal(IPN.encode(), {"x-nowpayments-sig": other_secret}) == "signature_mismatch"
    for raw in (b"not json", b"[1,2]", b'"text"', b"\xff\xfe", b'{"a":NaN}'):
        assert _refusal(raw, {"x-nowpayments-sig": signature}).startswith("malformed_body")


def test_a_body_with_duplicate_keys_is_refused_even_when_signed() -> None:
    raw = '{"payment_status":"waiting","payment_id":1,"payment_status":"finished"}'
    _, signature = python_sign(raw)  # Python keeps the last: a signer and we could disagree
    assert _refusal(raw.encode(), {"x-nowpayments-sig": signature}).startswith("malformed_body")


def test_without_an_ipn_secret_nothing_verifies() -> None:
    _, signature = python_sign(IPN)
    credentials = Credentials({"api_key": "KEY1234-ABCDEFG", "environment": "sandbox"})
    with pytest.raises(WebhookVerificationError, match="not_configured"):
        NowPaymentsProvider().verify_webhook(
            credentials, IPN.encode(), {"x-nowpayments-sig": signature}
        )


@pytest.mark.parametrize(
    ("status", "paid", "expected"),
    [
        ("waiting", "0", PaymentStatus.PENDING),
        ("confirming", "0.0002", PaymentStatus.PENDING),
        ("confirmed", "0.0002", PaymentStatus.PENDING),
        ("sending", "0.0002", PaymentStatus.PENDING),
        ("partially_paid", "0.0001", PaymentStatus.PENDING),
        ("finished", "0.0002", PaymentStatus.SUCCEEDED),
        ("finished", "0.0003", PaymentStatus.SUCCEEDED),
        ("finished", "0.00019", PaymentStatus.PENDING),  # underpaid: never fulfilled
        ("failed", "0", PaymentStatus.FAILED),
        ("expired", "0", PaymentStatus.EXPIRED),
        ("refunded", "0.0002", None),
    ],
)
def test_statuses_map_to_ours(status: str, paid: str, expected: PaymentStatus | None) -> None:
    state = read_payment_state(
        {"payment_id": 7, "payment_status": status, "pay_amount": Decimal("0.0002"),
         "pay_currency": "btc", "actually_paid": Decimal(paid)}
    )  # fmt: skip
    assert status_for(state) is expected
    details = state.details()
    assert details["provider_status"] == status
    assert details["actually_paid"] == format(Decimal(paid).normalize(), "f")


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="payment_status"):
        read_payment_state({"payment_id": 7, "payment_status": "done"})


def test_the_dedupe_key_is_payment_status_and_update() -> None:
    base = {"payment_id": 7, "payment_status": "partially_paid", "actually_paid": Decimal("0.1")}
    assert read_payment_state(base).dedupe_key == "7:partially_paid:0.1"
    with_time = {**base, "updated_at": 1763870400123}
    assert read_payment_state(with_time).dedupe_key == "7:partially_paid:1763870400123"
    more = {**base, "actually_paid": Decimal("0.15")}
    assert read_payment_state(more).dedupe_key != read_payment_state(base).dedupe_key


def test_the_spec_declares_its_capabilities_and_credentials() -> None:
    spec = get_spec("nowpayments")
    assert SPECS["nowpayments"] is spec
    assert spec.capabilities == {
        Capability.CRYPTO_PAYMENTS,
        Capability.SWEEP,
        Capability.WEBHOOKS,
        Capability.WEBHOOK_CONFIRMATION,
        Capability.CREDENTIAL_TEST,
    }
    assert [(f.name, f.secret) for f in spec.credential_fields] == [
        ("api_key", True),
        ("ipn_secret", True),
        ("environment", False),
    ]
    assert spec.api_base({"environment": "production"}) == "https://api.nowpayments.io"
    assert isinstance(crypto_payments("nowpayments"), NowPaymentsProvider)


def test_the_sample_events_are_a_signed_and_an_unsigned_ipn() -> None:
    samples = Path(__file__).parents[2] / "events" / "webhook_nowpayments"
    credentials = Credentials(
        {**CREDENTIALS.values, "ipn_secret": "sandbox-ipn-secret-for-the-sample"}
    )
    signed = json.loads((samples / "ipn_finished.json").read_text())
    raw = signed["body"]
    assert signed["headers"]["x-nowpayments-sig"] == python_sign_with(credentials, raw)
    event = NowPaymentsProvider().verify_webhook(credentials, raw.encode(), signed["headers"])
    assert (event.event_type, event.requested_status) == ("ipn", PaymentStatus.SUCCEEDED)
    unsigned = json.loads((samples / "ipn_unsigned.json").read_text())
    with pytest.raises(WebhookVerificationError, match="missing_signature"):
        NowPaymentsProvider().verify_webhook(
            credentials, unsigned["body"].encode(), unsigned["headers"]
        )


def python_sign_with(credentials: Credentials, raw: str) -> str:
    text = json.dumps(json.loads(raw), separators=(",", ":"), sort_keys=True)
    secret = credentials.values["ipn_secret"].encode()
    return hmac.new(secret, text.encode(), hashlib.sha512).hexdigest()
