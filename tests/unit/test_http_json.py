"""The shared stdlib JSON client's number rule: amounts in and out are exact decimals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.providers.http_json import encode, json_object


def test_answers_are_parsed_with_exact_decimals() -> None:
    body = json_object(b'{"pay_amount": 0.1, "tiny": 1e-07, "n": 10, "nested": {"x": 0.30}}')
    assert body == {
        "pay_amount": Decimal("0.1"),
        "tiny": Decimal("1e-07"),
        "n": 10,
        "nested": {"x": Decimal("0.30")},
    }
    assert type(body["pay_amount"]) is Decimal
    assert type(body["n"]) is int


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"', b""])
def test_an_answer_that_is_not_an_object_is_empty(raw: bytes) -> None:
    assert json_object(raw) == {}


def test_bodies_write_decimals_from_their_digits_and_refuse_floats() -> None:
    sent = encode({"price_amount": Decimal("0.10"), "tiny": Decimal("1E-7"), "n": 3, "s": "é"})
    assert sent == b'{"price_amount":0.10,"tiny":0.0000001,"n":3,"s":"\\u00e9"}'
    with pytest.raises(TypeError):
        encode({"price_amount": 0.1})
    with pytest.raises(ValueError, match="finite"):
        encode({"price_amount": Decimal("NaN")})
