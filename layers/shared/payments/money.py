"""Money: ISO 4217 fiat in integer minor units, crypto in exact `Decimal`.

Fiat amounts are `Money(minor, currency)`: an `int` count of the currency's minor unit (cents for
USD, whole yen for JPY, fils for KWD), so sums are exact and storage is a plain integer. Crypto
amounts are `CryptoAmount(value, currency)` holding a `Decimal`, because coins have no single
minor unit we could count in (wei, satoshi and token decimals differ by chain).

Why a float never touches money: a binary float cannot hold most decimal fractions. `0.1` is
stored as 0.1000000000000000055511151231257827..., so `0.1 + 0.2 != 0.3`, and converting a float
amount to minor units either rounds silently or raises at an arbitrary point. Every entry point
here therefore raises `InvalidAmountError` (code `invalid_amount`) for a `float`, and accepts only
`int` minor units, exact decimal strings, or `Decimal`. Callers parsing JSON must use
`json.loads(body, parse_float=Decimal)` so provider numbers such as M-PESA's `1.0` arrive exact.

Parsing rules (decided once, here, for every caller):

- A decimal string is `-?(0|[1-9][0-9]*)(.[0-9]+)?`: ASCII digits only, an optional leading
  `-` (ledger reversals are negative), no `+`, no surrounding whitespace, no exponent (`1e3`), no
  thousands separators, no bare `.5` or `5.`, no leading zeros, and at most 64 characters.
  Positivity is the caller's rule to enforce (`is_positive`), not a parsing rule.
- `Money.from_decimal_string` is strict about precision: more fraction digits than the currency
  has are rejected even when they are zeros (`"1.230"` USD, `"10.0"` JPY), because an API client
  that sends them has misunderstood the currency. `Money.from_provider_amount` is value-based
  instead (`Decimal("1.0")` KES is exactly 100 cents) and rounds only when given a mode.
- At most 20 integer digits are accepted when parsing, which bounds the work an input can cause.
- Crypto values keep at most `CRYPTO_MAX_DECIMALS` (18, the wei) significant fraction digits.
  `int` is rejected for crypto because `1` BTC and 1 satoshi are too easy to confuse.

Every error is a `MoneyError` (a `ValueError`) whose `code` is a stable, machine-readable API
error code: `unknown_currency`, `unsupported_currency`, `invalid_amount`, `too_many_decimals` or
`currency_mismatch`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import (
    ROUND_05UP,
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
)
from types import MappingProxyType
from typing import ClassVar, Final, TypeAlias

__all__ = [
    "CRYPTO_CODES",
    "CRYPTO_MAX_DECIMALS",
    "FIAT_EXPONENTS",
    "MAX_INTEGER_DIGITS",
    "Amount",
    "CryptoAmount",
    "Currency",
    "CurrencyMismatchError",
    "InvalidAmountError",
    "Money",
    "MoneyError",
    "TooManyDecimalsError",
    "UnknownCurrencyError",
    "UnsupportedCurrencyError",
    "amount_for",
    "crypto_currency",
    "currency",
    "fiat_currency",
]

# ---------------------------------------------------------------------------------------------
# Errors


class MoneyError(ValueError):
    """Base of every money error; `code` is the machine-readable API error code."""

    code: ClassVar[str] = "invalid_money"


class UnknownCurrencyError(MoneyError):
    """The code is not a currency we know (or, for crypto, not a well-formed ticker)."""

    code: ClassVar[str] = "unknown_currency"


class UnsupportedCurrencyError(MoneyError):
    """A known currency of the wrong kind: crypto where fiat is required, or the reverse."""

    code: ClassVar[str] = "unsupported_currency"


class InvalidAmountError(MoneyError):
    """The amount is malformed, of the wrong type (float, bool, ...), not finite or too large."""

    code: ClassVar[str] = "invalid_amount"


class TooManyDecimalsError(MoneyError):
    """The amount is finer than the currency's minor unit and no rounding mode was given."""

    code: ClassVar[str] = "too_many_decimals"


class CurrencyMismatchError(MoneyError):
    """Arithmetic or comparison between amounts of different currencies."""

    code: ClassVar[str] = "currency_mismatch"


# ---------------------------------------------------------------------------------------------
# Currencies

# ISO 4217 list one, minor-unit exponents. Fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI,
# UYW), precious metals, SDR/testing codes (no minor unit) and withdrawn codes are left out: no
# provider of ours takes payments in them.
FIAT_EXPONENTS: Final[Mapping[str, int]] = MappingProxyType(
    {
        # exponent 0
        "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
        "PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
        # exponent 3
        "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
        # exponent 2
        "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2,
        "AWG": 2, "AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BMD": 2, "BND": 2,
        "BOB": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2,
        "CDF": 2, "CHF": 2, "CNY": 2, "COP": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2,
        "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2,
        "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GTQ": 2, "GYD": 2,
        "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "IRR": 2,
        "JMD": 2, "KES": 2, "KGS": 2, "KHR": 2, "KPW": 2, "KYD": 2, "KZT": 2, "LAK": 2,
        "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2,
        "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2,
        "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2,
        "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2,
        "RSD": 2, "RUB": 2, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2,
        "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2,
        "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2,
        "TZS": 2, "UAH": 2, "USD": 2, "UYU": 2, "UZS": 2, "VED": 2, "VES": 2, "WST": 2,
        "XCD": 2, "XCG": 2, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
    }
)  # fmt: skip

# Coins that `currency()` resolves without the explicit `crypto_currency()` path. Any other
# well-formed ticker (NOWPayments lists hundreds, e.g. USDTTRC20) goes through `crypto_currency`.
CRYPTO_CODES: Final[frozenset[str]] = frozenset(
    {
        "ADA", "AVAX", "BCH", "BNB", "BTC", "DAI", "DASH", "DOGE", "DOT", "ETC", "ETH", "LTC",
        "MATIC", "POL", "SHIB", "SOL", "TON", "TRX", "USDC", "USDT", "XLM", "XMR", "XRP", "ZEC",
    }
)  # fmt: skip

# The finest unit among common coins (ETH's wei); finer crypto values are rejected.
CRYPTO_MAX_DECIMALS: Final = 18
# Parsed amounts may have at most this many integer (major-unit) digits.
MAX_INTEGER_DIGITS: Final = 20

_CRYPTO_CODE_RE: Final = re.compile(r"[A-Z0-9]{2,20}")
_DECIMAL_RE: Final = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_MAX_DECIMAL_STRING_LENGTH: Final = 64
_MAX_DESCRIBED_LENGTH: Final = 40
_ROUNDING_MODES: Final = frozenset(
    {
        ROUND_05UP,
        ROUND_CEILING,
        ROUND_DOWN,
        ROUND_FLOOR,
        ROUND_HALF_DOWN,
        ROUND_HALF_EVEN,
        ROUND_HALF_UP,
        ROUND_UP,
    }
)
# Decimal arithmetic honours a context precision (28 digits by default) and would silently round
# a large crypto sum. Bounded inputs fit easily in 60 digits; the traps make any rounding loud.
_EXACT: Final = Context(
    prec=60, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact, Rounded]
)


@dataclass(frozen=True, slots=True)
class Currency:
    """A currency: upper-case code, minor-unit exponent, and whether it is crypto.

    For crypto, `exponent` is the most fraction digits we keep (`CRYPTO_MAX_DECIMALS`); crypto
    amounts are never counted in integer minor units.
    """

    code: str
    exponent: int
    is_crypto: bool


_FIAT: Final[Mapping[str, Currency]] = MappingProxyType(
    {code: Currency(code, exponent, False) for code, exponent in FIAT_EXPONENTS.items()}
)
_KNOWN_CRYPTO: Final[Mapping[str, Currency]] = MappingProxyType(
    {code: Currency(code, CRYPTO_MAX_DECIMALS, True) for code in CRYPTO_CODES}
)


def _normalize_code(code: object) -> str:
    if not isinstance(code, str):
        raise UnknownCurrencyError(f"currency code must be a string, got {_describe(code)}")
    if not code.isascii():
        raise UnknownCurrencyError(f"unknown currency {_describe(code)}")
    return code.upper()


def currency(code: str) -> Currency:
    """Resolve a known fiat or crypto code, case-insensitively.

    Raises `UnknownCurrencyError` for anything else, including well-formed crypto tickers outside
    `CRYPTO_CODES`: those need the explicit `crypto_currency()`.
    """
    normalized = _normalize_code(code)
    found = _FIAT.get(normalized) or _KNOWN_CRYPTO.get(normalized)
    if found is None:
        raise UnknownCurrencyError(f"unknown currency {_describe(code)}")
    return found


def fiat_currency(code: str) -> Currency:
    """Resolve an ISO 4217 fiat code; `UnsupportedCurrencyError` if it names a known coin."""
    normalized = _normalize_code(code)
    found = _FIAT.get(normalized)
    if found is not None:
        return found
    if normalized in _KNOWN_CRYPTO:
        raise UnsupportedCurrencyError(
            f"{normalized} is a crypto currency; a fiat currency is required here"
        )
    raise UnknownCurrencyError(f"unknown currency {_describe(code)}")


def crypto_currency(code: str) -> Currency:
    """Resolve any well-formed crypto ticker (2-20 ASCII letters/digits), known or not.

    This is the deliberate path for provider coin lists (NOWPayments' `usdttrc20`, ...). An ISO
    4217 fiat code raises `UnsupportedCurrencyError`; a malformed code `UnknownCurrencyError`.
    """
    normalized = _normalize_code(code)
    if normalized in _FIAT:
        raise UnsupportedCurrencyError(
            f"{normalized} is a fiat currency; a crypto currency is required here"
        )
    known = _KNOWN_CRYPTO.get(normalized)
    if known is not None:
        return known
    if _CRYPTO_CODE_RE.fullmatch(normalized) is None:
        raise UnknownCurrencyError(f"malformed crypto currency code {_describe(code)}")
    return Currency(normalized, CRYPTO_MAX_DECIMALS, True)


# ---------------------------------------------------------------------------------------------
# Input checks shared by every constructor


def _describe(value: object) -> str:
    """A short repr for error messages, so a huge input cannot bloat logs and responses."""
    text = repr(value)
    return text if len(text) <= _MAX_DESCRIBED_LENGTH else text[: _MAX_DESCRIBED_LENGTH - 3] + "..."


def _reject_float(value: object) -> None:
    if isinstance(value, float):
        raise InvalidAmountError(
            f"amount {_describe(value)} is a float; binary floats cannot represent decimal "
            "money exactly (0.1 is not 0.1): pass a decimal string or Decimal"
        )


def _match_decimal_string(value: str) -> re.Match[str]:
    match = _DECIMAL_RE.fullmatch(value) if len(value) <= _MAX_DECIMAL_STRING_LENGTH else None
    if match is None:
        raise InvalidAmountError(
            f"amount {_describe(value)} is not a plain decimal string like '12.34' "
            "(optional '-', ASCII digits, no '+', spaces, exponent or separators)"
        )
    if len(match.group(2)) > MAX_INTEGER_DIGITS:
        raise InvalidAmountError(f"amount {_describe(value)} is too large")
    return match


def _to_decimal(value: object) -> Decimal:
    """A finite Decimal from a decimal string or Decimal; everything else is refused."""
    _reject_float(value)
    if isinstance(value, str):
        return Decimal(_match_decimal_string(value).group(0))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidAmountError(f"amount {_describe(value)} is not a finite number")
        return value
    raise InvalidAmountError(
        f"amount must be a decimal string or Decimal, got {type(value).__name__}"
    )


def _significant(value: Decimal) -> tuple[int, tuple[int, ...], int]:
    """(sign, digits, exponent) of a finite Decimal with trailing zeros removed; zero is 0E0.

    Works on the digit tuple, not through a context, so no precision limit can round it.
    """
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN/Infinity; callers check first
        raise InvalidAmountError(f"amount {_describe(value)} is not a finite number")
    end = len(digits)
    while end > 1 and digits[end - 1] == 0:
        end -= 1
    if digits[:end] == (0,):
        return 0, (0,), 0
    return sign, digits[:end], exponent + len(digits) - end


def _check_magnitude(value: Decimal, digits: tuple[int, ...], exponent: int) -> None:
    if len(digits) + exponent > MAX_INTEGER_DIGITS:
        raise InvalidAmountError(f"amount {_describe(value)} is too large")


def _coefficient(sign: int, digits: tuple[int, ...]) -> int:
    magnitude = int("".join(map(str, digits)))
    return -magnitude if sign else magnitude


def _check_rounding(rounding: str | None) -> None:
    if rounding is not None and rounding not in _ROUNDING_MODES:
        # A programming error, not bad input: deliberately not a MoneyError.
        raise ValueError(f"unknown rounding mode {rounding!r}; use a decimal.ROUND_* constant")


# ---------------------------------------------------------------------------------------------
# Fiat


@dataclass(frozen=True, slots=True)
class Money:
    """A fiat amount in integer minor units of an ISO 4217 currency (stored upper-case).

    `Money(1234, "usd")` is USD 12.34. Negative amounts are allowed (refunds, reversals).
    """

    minor: int
    currency: str

    def __post_init__(self) -> None:
        _reject_float(self.minor)
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidAmountError(f"minor units must be an int, got {type(self.minor).__name__}")
        object.__setattr__(self, "currency", fiat_currency(self.currency).code)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal_string(cls, value: str | Decimal, currency: str) -> Money:
        """Parse an exact amount in major units, e.g. `"12.34"` USD -> 1234 minor.

        Strict: more fraction digits than the currency has (`"1.234"` USD, `"1.5"` or even
        `"1.0"` JPY) raise `TooManyDecimalsError`; see the module docstring for the grammar.
        """
        fiat = fiat_currency(currency)
        if isinstance(value, str):
            match = _match_decimal_string(value)
            negative, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
            if len(fraction) > fiat.exponent:
                raise _too_many_decimals(value, fiat)
            minor = int(whole + fraction.ljust(fiat.exponent, "0"))
            return cls(-minor if negative else minor, fiat.code)
        decimal_value = _to_decimal(value)
        exponent = decimal_value.as_tuple().exponent
        assert isinstance(exponent, int)  # _to_decimal guarantees a finite value
        if exponent < -fiat.exponent:
            raise _too_many_decimals(decimal_value, fiat)
        return cls._from_exact(decimal_value, fiat)

    @classmethod
    def from_provider_amount(
        cls, value: str | int | Decimal, currency: str, rounding: str | None = None
    ) -> Money:
        """Convert a provider's major-unit amount (M-PESA `1.0` KES -> 100 minor) exactly.

        Value-based: trailing zeros are fine (`Decimal("100.00")` JPY is 100). An amount finer
        than the minor unit raises `TooManyDecimalsError` unless `rounding` is a
        `decimal.ROUND_*` mode, which is then applied.
        """
        _check_rounding(rounding)
        fiat = fiat_currency(currency)
        _reject_float(value)
        if isinstance(value, bool):
            raise InvalidAmountError("amount must not be a bool")
        if isinstance(value, int):
            if abs(value) >= 10**MAX_INTEGER_DIGITS:
                raise InvalidAmountError(f"amount {_describe(value)} is too large")
            return cls(value * 10**fiat.exponent, fiat.code)
        decimal_value = _to_decimal(value)
        _sign, digits, exponent = _significant(decimal_value)
        if exponent >= -fiat.exponent:
            return cls._from_exact(decimal_value, fiat)
        if rounding is None:
            raise _too_many_decimals(decimal_value, fiat)
        _check_magnitude(decimal_value, digits, exponent)
        rounder = Context(prec=MAX_INTEGER_DIGITS + fiat.exponent + 2, traps=[InvalidOperation])
        quantum = Decimal((0, (1,), -fiat.exponent))
        rounded = decimal_value.quantize(quantum, rounding=rounding, context=rounder)
        return cls._from_exact(rounded, fiat)

    @classmethod
    def _from_exact(cls, value: Decimal, fiat: Currency) -> Money:
        """`value` is finite with no digit finer than the minor unit."""
        sign, digits, exponent = _significant(value)
        if digits == (0,):
            return cls(0, fiat.code)
        _check_magnitude(value, digits, exponent)
        return cls(_coefficient(sign, digits) * 10 ** (exponent + fiat.exponent), fiat.code)

    # -- rendering ----------------------------------------------------------------------------

    @property
    def exponent(self) -> int:
        return FIAT_EXPONENTS[self.currency]

    def to_decimal_string(self) -> str:
        """Exact major-unit string: `"12.34"`, `"0.005"` (KWD), `"1500"` (JPY), `"-0.05"`."""
        exponent = self.exponent
        if exponent == 0:
            return str(self.minor)
        whole, fraction = divmod(abs(self.minor), 10**exponent)
        sign = "-" if self.minor < 0 else ""
        return f"{sign}{whole}.{fraction:0{exponent}d}"

    def to_decimal(self) -> Decimal:
        """The exact major-unit value as a Decimal (never rounded by a context)."""
        return Decimal(self.to_decimal_string())

    def __str__(self) -> str:
        return f"{self.to_decimal_string()} {self.currency}"

    # -- predicates and arithmetic ------------------------------------------------------------

    def is_zero(self) -> bool:
        return self.minor == 0

    def is_positive(self) -> bool:
        return self.minor > 0

    def is_negative(self) -> bool:
        return self.minor < 0

    def _same_currency(self, other: Money, operation: str) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot {operation} {self.currency} and {other.currency} amounts"
            )

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "add")
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "subtract")
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.minor >= other.minor


def _too_many_decimals(value: object, fiat: Currency) -> TooManyDecimalsError:
    places = "no decimal places" if fiat.exponent == 0 else f"{fiat.exponent} decimal places"
    return TooManyDecimalsError(f"amount {_describe(value)} has more than {places} for {fiat.code}")


# ---------------------------------------------------------------------------------------------
# Crypto


def _canonical_crypto(value: object, code: str) -> Decimal:
    """Validate a crypto value and return it without trailing zeros or exponent notation."""
    if isinstance(value, str):
        raise InvalidAmountError("CryptoAmount takes a Decimal; use CryptoAmount.parse for strings")
    decimal_value = _to_decimal(value)
    sign, digits, exponent = _significant(decimal_value)
    if exponent < -CRYPTO_MAX_DECIMALS:
        raise TooManyDecimalsError(
            f"amount {_describe(value)} has more than {CRYPTO_MAX_DECIMALS} decimal places "
            f"for {code}"
        )
    _check_magnitude(decimal_value, digits, exponent)
    if exponent > 0:  # 1E+2 -> 100, so the stored value renders without an exponent
        digits, exponent = digits + (0,) * exponent, 0
    return Decimal((sign, digits, exponent))


@dataclass(frozen=True, slots=True)
class CryptoAmount:
    """A crypto amount: an exact `Decimal` and an upper-case ticker (any well-formed one).

    The constructor takes a `Decimal`; `CryptoAmount.parse` also takes a decimal string. The value
    is stored canonical (`Decimal("1.50")` -> `1.5`). Negative values are allowed for ledger
    reversals; check `is_positive()` where a payment amount is expected.
    """

    value: Decimal
    currency: str

    def __post_init__(self) -> None:
        code = crypto_currency(self.currency).code
        object.__setattr__(self, "currency", code)
        object.__setattr__(self, "value", _canonical_crypto(self.value, code))

    @classmethod
    def parse(cls, value: str | Decimal, currency: str) -> CryptoAmount:
        """From a decimal string (`"0.00012"`) or Decimal; floats and ints are refused."""
        return cls(_to_decimal(value), currency)

    @classmethod
    def zero(cls, currency: str) -> CryptoAmount:
        return cls(Decimal(0), currency)

    def to_decimal_string(self) -> str:
        """Plain notation, no trailing zeros: `"0.00012"`, never `"1.2E-4"`; zero is `"0"`."""
        return format(self.value, "f")

    def __str__(self) -> str:
        return f"{self.to_decimal_string()} {self.currency}"

    def is_zero(self) -> bool:
        return self.value == 0

    def is_positive(self) -> bool:
        return self.value > 0

    def is_negative(self) -> bool:
        return self.value < 0

    def _same_currency(self, other: CryptoAmount, operation: str) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                f"cannot {operation} {self.currency} and {other.currency} amounts"
            )

    def __add__(self, other: CryptoAmount) -> CryptoAmount:
        if not isinstance(other, CryptoAmount):
            return NotImplemented
        self._same_currency(other, "add")
        return CryptoAmount(_EXACT.add(self.value, other.value), self.currency)

    def __sub__(self, other: CryptoAmount) -> CryptoAmount:
        if not isinstance(other, CryptoAmount):
            return NotImplemented
        self._same_currency(other, "subtract")
        return CryptoAmount(_EXACT.subtract(self.value, other.value), self.currency)

    def __neg__(self) -> CryptoAmount:
        return CryptoAmount(self.value.copy_negate(), self.currency)

    def __abs__(self) -> CryptoAmount:
        return CryptoAmount(self.value.copy_abs(), self.currency)

    def __lt__(self, other: CryptoAmount) -> bool:
        if not isinstance(other, CryptoAmount):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.value < other.value

    def __le__(self, other: CryptoAmount) -> bool:
        if not isinstance(other, CryptoAmount):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.value <= other.value

    def __gt__(self, other: CryptoAmount) -> bool:
        if not isinstance(other, CryptoAmount):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.value > other.value

    def __ge__(self, other: CryptoAmount) -> bool:
        if not isinstance(other, CryptoAmount):
            return NotImplemented
        self._same_currency(other, "compare")
        return self.value >= other.value


# ---------------------------------------------------------------------------------------------
# Ledger amounts

# A ledger line's amount: int minor units for fiat, Decimal for crypto.
Amount: TypeAlias = int | Decimal


def amount_for(currency_code: str | Currency, value: object) -> Amount:
    """Validate a ledger amount for a currency: fiat -> `int` (not bool), crypto -> `Decimal`.

    A code is resolved with `currency()` (known fiat and crypto); a `Decimal` in any other
    well-formed, non-ISO ticker is crypto (`crypto_currency()`), because a ledger line or a
    stored payment carries only its code and NOWPayments pays in hundreds of coins
    (``USDTTRC20``). An int in an unknown code is still `UnknownCurrencyError`. Crypto values
    come back canonical (see `CryptoAmount`).
    """
    if isinstance(currency_code, Currency):
        # Re-resolve rather than trust a hand-built Currency's exponent or kind.
        resolved = (crypto_currency if currency_code.is_crypto else fiat_currency)(
            currency_code.code
        )
    elif isinstance(value, Decimal) and _normalize_code(currency_code) not in _FIAT:
        resolved = crypto_currency(currency_code)
    else:
        resolved = currency(currency_code)
    _reject_float(value)
    if resolved.is_crypto:
        if not isinstance(value, Decimal):
            raise InvalidAmountError(
                f"{resolved.code} ledger amounts must be Decimal, got {type(value).__name__}"
            )
        return _canonical_crypto(value, resolved.code)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmountError(
            f"{resolved.code} ledger amounts must be int minor units, got {type(value).__name__}"
        )
    return value
