"""JSON as NOWPayments writes it, and the two texts an IPN signature can be computed over.

NOWPayments runs on Node.js: its answers and IPN bodies are ``JSON.stringify`` output, so an
amount is a JSON *number* in JavaScript's formatting (``0.0001``, ``0.00001``, ``1e-7``, ``10``:
no point on a whole number). The sandbox keeps every amount a ``Decimal`` and writes these texts
itself (:func:`render`) instead of passing floats to ``json``: the digits are the Decimal's, so
a receiver that parses the raw text with ``parse_float=Decimal`` reads exactly what was meant.
A number must have at most 15 significant digits and be below 10^15, so that it is also what a
receiver parsing it as a double gets back (every amount here is far inside that).

The signature, ``x-nowpayments-sig`` = hex HMAC-SHA512 keyed with the account's IPN secret, is
computed over one of two canonical texts of the body (``ChaosSettings.signature_form``):

- :func:`python_signature_text` ("python", the default): what a Python receiver computes with
  ``json.dumps(json.loads(raw), separators=(",", ":"), sort_keys=True)``: keys sorted at every
  level, non-ASCII escaped as ``\\uXXXX`` (``ensure_ascii``), numbers as Python writes the
  int or float it parsed: ``10``, ``0.0001``, but ``1e-05`` and ``1e-07``;
- :func:`javascript_signature_text` ("javascript"): ``JSON.stringify`` of the body with its keys
  sorted at every level: UTF-8 text unescaped, numbers in JavaScript's form (``0.00001``,
  ``1e-7``).

The two agree on a body of ASCII text whose numbers are all at least 0.0001 and disagree
otherwise; the body sent (:func:`wire_text`) is JavaScript's, in NOWPayments' own key order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

NumberFormat = Callable[[Decimal], str]

_MAX_DIGITS = 15
_LIMIT = Decimal("1e15")


def _digits(value: Decimal) -> tuple[bool, str, int]:
    """Sign, significant digits and the exponent of the first digit of a non-zero ``value``."""
    if not value.is_finite() or abs(value) >= _LIMIT:
        raise ValueError(f"{value} cannot be an amount on the wire")
    sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    if len(text) > _MAX_DIGITS:
        raise ValueError(f"{value} has more than {_MAX_DIGITS} significant digits")
    return bool(sign), text, exponent + len(text) - 1


def javascript_number(value: Decimal) -> str:
    """``Number.prototype.toString`` of ``value``: fixed notation from 1e-6 up to 1e21,
    otherwise ``1e-7`` / ``1.5e-7`` (ECMA-262 Number::toString)."""
    if value == 0:
        return "0"
    negative, digits, first = _digits(value)
    k, n = len(digits), first + 1  # the value is 0.<digits> * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return f"-{text}" if negative else text


def python_number(value: Decimal) -> str:
    """What ``json.dumps`` writes for the number Python's ``json.loads`` makes of the wire text:
    an int for a whole number (the wire has no point), else ``repr`` of the float: fixed
    notation for exponents -4..15, otherwise ``1e-05`` / ``1.5e-07`` (two exponent digits)."""
    if value == value.to_integral_value():
        return str(int(value))
    negative, digits, first = _digits(value)
    if -4 <= first < 16:
        text = format(abs(value).normalize(), "f")
    else:
        mantissa = digits if len(digits) == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'-' if first < 0 else '+'}{abs(first):02d}"
    return f"-{text}" if negative else text


def render(value: Any, *, number: NumberFormat, ensure_ascii: bool, sort_keys: bool) -> str:
    """Compact JSON of ``value`` (dicts, lists, str, bool, None, int and Decimal numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return number(Decimal(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=ensure_ascii)
    options: dict[str, Any] = {
        "number": number,
        "ensure_ascii": ensure_ascii,
        "sort_keys": sort_keys,
    }
    if isinstance(value, list | tuple):
        return "[" + ",".join(render(item, **options) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value) if sort_keys else list(value)
        members = (
            f"{json.dumps(key, ensure_ascii=ensure_ascii)}:{render(value[key], **options)}"
            for key in keys
        )
        return "{" + ",".join(members) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as NOWPayments JSON")


def wire_text(value: Any) -> str:
    """What NOWPayments sends: ``JSON.stringify(value)``, keys in their own order."""
    return render(value, number=javascript_number, ensure_ascii=False, sort_keys=False)


def python_signature_text(body: Any) -> str:
    """``json.dumps(body, separators=(",", ":"), sort_keys=True)`` of the body as Python parses
    it (the signed text of the "python" form)."""
    return render(body, number=python_number, ensure_ascii=True, sort_keys=True)


def javascript_signature_text(body: Any) -> str:
    """``JSON.stringify`` of the body with keys sorted recursively (the "javascript" form)."""
    return render(body, number=javascript_number, ensure_ascii=False, sort_keys=True)


SIGNATURE_FORMS: dict[str, Callable[[Any], str]] = {
    "python": python_signature_text,
    "javascript": javascript_signature_text,
}


def ipn_signature(secret: str, signed_text: str) -> str:
    """``x-nowpayments-sig``: hex HMAC-SHA512 of the signed text, keyed with the IPN secret."""
    return hmac.new(secret.encode(), signed_text.encode("utf-8"), hashlib.sha512).hexdigest()
