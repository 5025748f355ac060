"""Money: minor units per ISO 4217, exact parsing and rendering, crypto Decimals, no floats."""

from __future__ import annotations

import pickle
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest

from payments.money import (
    CRYPTO_CODES,
    CRYPTO_MAX_DECIMALS,
    FIAT_EXPONENTS,
    CryptoAmount,
    Currency,
    CurrencyMismatchError,
    InvalidAmountError,
    Money,
    MoneyError,
    TooManyDecimalsError,
    UnknownCurrencyError,
    UnsupportedCurrencyError,
    amount_for,
    crypto_currency,
    currency,
    fiat_currency,
)

# ---------------------------------------------------------------------------------------------
# Currency table

ZERO_DECIMAL_CODES = ["JPY", "KRW", "CLP", "ISK", "VND", "UGX", "RWF", "XOF", "XAF"]
THREE_DECIMAL_CODES = ["KWD", "BHD", "OMR", "JOD", "TND", "IQD", "LYD"]
TWO_DECIMAL_CODES = [
    "USD",
    "EUR",
    "GBP",
    "KES",
    "TZS",
    "NGN",
    "GHS",
    "ZAR",
    "CNY",
    "INR",
    "AUD",
    "CAD",
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "AED",
    "SAR",
    "HKD",
    "SGD",
    "NZD",
    "MXN",
    "BRL",
    "PLN",
    "CZK",
    "HUF",
    "TRY",
    "ILS",
    "EGP",
    "MAD",
    "PHP",
    "IDR",
    "MYR",
    "THB",
]
ISO_4217_EXPONENTS = {
    **dict.fromkeys(ZERO_DECIMAL_CODES, 0),
    **dict.fromkeys(TWO_DECIMAL_CODES, 2),
    **dict.fromkeys(THREE_DECIMAL_CODES, 3),
}


@pytest.mark.parametrize(("code", "exponent"), sorted(ISO_4217_EXPONENTS.items()))
def test_fiat_exponents_follow_iso_4217(code: str, exponent: int) -> None:
    assert FIAT_EXPONENTS[code] == exponent
    assert currency(code) == Currency(code, exponent, is_crypto=False)


@pytest.mark.parametrize("code", ["usd", "Usd", "uSD", "USD"])
def test_currency_lookup_is_case_insensitive_and_normalized(code: str) -> None:
    assert currency(code).code == "USD"
    assert fiat_currency(code).code == "USD"
    assert Money(1, code).currency == "USD"


@pytest.mark.parametrize(
    "code", ["XYZ", "US", "USDX", "", " USD", "USD ", "\uff35\uff33\uff24", "XAU"]
)
def test_unknown_fiat_codes_are_rejected(code: str) -> None:
    with pytest.raises(UnknownCurrencyError) as caught:
        currency(code)
    assert caught.value.code == "unknown_currency"


def test_non_string_currency_code_is_rejected() -> None:
    with pytest.raises(UnknownCurrencyError):
        currency(840)  # type: ignore[arg-type]


def test_fiat_and_crypto_tables_do_not_overlap() -> None:
    assert not CRYPTO_CODES & FIAT_EXPONENTS.keys()


@pytest.mark.parametrize("code", ["BTC", "eth", "USDT", "usdc", "SOL", "DOGE"])
def test_known_crypto_resolves_without_the_explicit_path(code: str) -> None:
    resolved = currency(code)
    assert resolved == Currency(code.upper(), CRYPTO_MAX_DECIMALS, is_crypto=True)


def test_unlisted_crypto_needs_the_explicit_path() -> None:
    with pytest.raises(UnknownCurrencyError):
        currency("usdttrc20")
    assert crypto_currency("usdttrc20") == Currency("USDTTRC20", CRYPTO_MAX_DECIMALS, True)
    assert crypto_currency("1inch").code == "1INCH"


@pytest.mark.parametrize("code", ["X", "usdt-trc20", "usdt trc20", "A" * 21, "", "bítcoin"])
def test_malformed_crypto_codes_are_rejected(code: str) -> None:
    with pytest.raises(UnknownCurrencyError) as caught:
        crypto_currency(code)
    assert caught.value.code == "unknown_currency"


def test_fiat_code_is_not_a_crypto_code_and_vice_versa() -> None:
    with pytest.raises(UnsupportedCurrencyError) as caught:
        crypto_currency("usd")
    assert caught.value.code == "unsupported_currency"
    with pytest.raises(UnsupportedCurrencyError):
        fiat_currency("BTC")
    with pytest.raises(UnsupportedCurrencyError):
        Money(100, "BTC")


# ---------------------------------------------------------------------------------------------
# Money: construction

# (currency, decimal string, minor units), one block per exponent class.
ROUND_TRIPS = [
    ("JPY", "0", 0),
    ("JPY", "1", 1),
    ("JPY", "1500", 1500),
    ("JPY", "-20", -20),
    ("UGX", "50000", 50000),
    ("USD", "0.00", 0),
    ("USD", "0.01", 1),
    ("USD", "12.34", 1234),
    ("USD", "100.00", 10000),
    ("USD", "-0.05", -5),
    ("KES", "1.00", 100),
    ("EUR", "99999999999999999999.99", 9999999999999999999999),
    ("KWD", "0.005", 5),
    ("KWD", "1.000", 1000),
    ("BHD", "12.345", 12345),
    ("TND", "-3.210", -3210),
]


@pytest.mark.parametrize(("code", "text", "minor"), ROUND_TRIPS)
def test_decimal_string_round_trip(code: str, text: str, minor: int) -> None:
    money = Money.from_decimal_string(text, code)
    assert money == Money(minor, code)
    assert money.to_decimal_string() == text
    assert Money.from_decimal_string(Decimal(text), code) == money
    assert money.to_decimal() == Decimal(text)


@pytest.mark.parametrize(
    ("code", "text", "minor"),
    [("USD", "12.3", 1230), ("USD", "12", 1200), ("KWD", "0.5", 500), ("USD", "-0", 0)],
)
def test_fewer_decimals_than_the_currency_are_padded(code: str, text: str, minor: int) -> None:
    assert Money.from_decimal_string(text, code).minor == minor


def test_rendering_examples() -> None:
    assert Money(5, "KWD").to_decimal_string() == "0.005"
    assert Money(1500, "JPY").to_decimal_string() == "1500"
    assert Money(-1, "USD").to_decimal_string() == "-0.01"
    assert str(Money(1234, "usd")) == "12.34 USD"


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("USD", "1.234"),
        ("USD", "1.230"),
        ("JPY", "1.5"),
        ("JPY", "10.0"),
        ("UGX", "1.0"),
        ("KWD", "0.0005"),
        ("USD", Decimal("1.234")),
        ("JPY", Decimal("1.0")),
    ],
)
def test_more_decimals_than_the_currency_are_rejected(code: str, value: str | Decimal) -> None:
    with pytest.raises(TooManyDecimalsError) as caught:
        Money.from_decimal_string(value, code)
    assert caught.value.code == "too_many_decimals"
    assert code in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        " 1.00",
        "1.00 ",
        "1.00\n",
        "+1.00",
        "--1",
        "1e2",
        "1E-2",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "1,000.00",
        "1_000",
        ".5",
        "5.",
        "007",
        "0x10",
        "١٢",  # Arabic-Indic digits: Decimal() would accept them
        "1" * 21,
        "1" * 100,
    ],
)
def test_malformed_decimal_strings_are_rejected(text: str) -> None:
    with pytest.raises(InvalidAmountError) as caught:
        Money.from_decimal_string(text, "USD")
    assert caught.value.code == "invalid_amount"


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")]
)
def test_non_finite_decimals_are_rejected(value: Decimal) -> None:
    with pytest.raises(InvalidAmountError):
        Money.from_decimal_string(value, "USD")
    with pytest.raises(InvalidAmountError):
        Money.from_provider_amount(value, "USD")


@pytest.mark.parametrize("value", [Decimal("1E+20"), Decimal("1E+999999999"), 10**20])
def test_absurdly_large_amounts_are_rejected_cheaply(value: Decimal | int) -> None:
    with pytest.raises(InvalidAmountError):
        Money.from_provider_amount(value, "USD")


def test_decimal_with_exponent_is_exact_when_already_a_decimal() -> None:
    assert Money.from_decimal_string(Decimal("1E+2"), "USD").minor == 10000
    assert Money.from_decimal_string(Decimal("0E+999999999"), "USD").is_zero()


@pytest.mark.parametrize("minor", [1.0, 0.1, True, False, "100", Decimal(100), None])
def test_minor_units_must_be_an_int(minor: object) -> None:
    with pytest.raises(InvalidAmountError) as caught:
        Money(minor, "USD")  # type: ignore[arg-type]
    assert caught.value.code == "invalid_amount"


def test_float_error_explains_why() -> None:
    with pytest.raises(InvalidAmountError, match="float"):
        Money.from_decimal_string(0.1, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0.1, 1.0, True, 12, None, b"1.00"])
def test_from_decimal_string_takes_only_strings_and_decimals(value: object) -> None:
    with pytest.raises(InvalidAmountError):
        Money.from_decimal_string(value, "USD")  # type: ignore[arg-type]


def test_unknown_currency_is_rejected_on_construction() -> None:
    with pytest.raises(UnknownCurrencyError):
        Money(100, "XXX")
    with pytest.raises(UnknownCurrencyError):
        Money.from_decimal_string("1.00", "dollars")


def test_money_is_immutable_and_hashable() -> None:
    money = Money(100, "USD")
    with pytest.raises(AttributeError):
        money.minor = 5  # type: ignore[misc]
    assert {money, Money(100, "usd")} == {money}
    assert pickle.loads(pickle.dumps(money)) == money


# ---------------------------------------------------------------------------------------------
# Money: provider amounts (major units, value-based)


@pytest.mark.parametrize(
    ("value", "code", "minor"),
    [
        (Decimal("1.0"), "KES", 100),  # M-PESA's Amount 1.0, parsed with parse_float=Decimal
        (Decimal(1), "KES", 100),
        (1, "KES", 100),
        (1500, "JPY", 1500),
        (Decimal("100.00"), "JPY", 100),
        ("100.00", "JPY", 100),
        ("12.340", "USD", 1234),
        (Decimal("1E+1"), "USD", 1000),
        (Decimal("-2.5"), "KWD", -2500),
    ],
)
def test_provider_amounts_convert_exactly(
    value: str | int | Decimal, code: str, minor: int
) -> None:
    assert Money.from_provider_amount(value, code) == Money(minor, code)


@pytest.mark.parametrize(
    ("value", "code"),
    [(Decimal("1.005"), "KES"), ("1.5", "JPY"), (Decimal("0.0001"), "KWD")],
)
def test_provider_amounts_never_round_silently(value: str | Decimal, code: str) -> None:
    with pytest.raises(TooManyDecimalsError):
        Money.from_provider_amount(value, code)


@pytest.mark.parametrize(
    ("value", "code", "rounding", "minor"),
    [
        (Decimal("1.005"), "KES", ROUND_HALF_UP, 101),
        (Decimal("1.005"), "KES", ROUND_HALF_EVEN, 100),
        (Decimal("1.009"), "KES", ROUND_DOWN, 100),
        ("2.5", "JPY", ROUND_HALF_EVEN, 2),
        (Decimal("-0.0015"), "KWD", ROUND_HALF_UP, -2),
        (Decimal("99.999"), "USD", ROUND_HALF_UP, 10000),
        (Decimal("1E-999999"), "USD", ROUND_HALF_UP, 0),
    ],
)
def test_provider_amounts_round_only_with_an_explicit_mode(
    value: str | Decimal, code: str, rounding: str, minor: int
) -> None:
    assert Money.from_provider_amount(value, code, rounding=rounding).minor == minor


def test_unknown_rounding_mode_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="rounding") as caught:
        Money.from_provider_amount(Decimal("1.005"), "KES", rounding="half-up")
    assert not isinstance(caught.value, MoneyError)


@pytest.mark.parametrize("value", [1.0, True, None, [1]])
def test_provider_amounts_refuse_floats_and_other_types(value: object) -> None:
    with pytest.raises(InvalidAmountError):
        Money.from_provider_amount(value, "KES")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Money: arithmetic and comparison


def test_same_currency_arithmetic() -> None:
    usd = Money.from_decimal_string
    assert usd("10.00", "USD") + usd("0.05", "USD") == Money(1005, "USD")
    assert usd("10.00", "USD") - usd("12.50", "USD") == Money(-250, "USD")
    assert -Money(5, "USD") == Money(-5, "USD")
    assert abs(Money(-5, "USD")) == Money(5, "USD")
    total = sum([Money(1, "JPY"), Money(2, "JPY")], Money.zero("JPY"))
    assert total == Money(3, "JPY")


def test_predicates() -> None:
    assert Money.zero("USD").is_zero()
    assert Money(1, "USD").is_positive()
    assert not Money(0, "USD").is_positive()
    assert Money(-1, "USD").is_negative()


def test_comparisons_within_a_currency() -> None:
    small, large = Money(1, "EUR"), Money(2, "EUR")
    assert small < large
    assert small <= large
    assert large > small
    assert large >= small
    assert small <= Money(1, "EUR")
    assert max(small, large) is large


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_mixing_currencies_is_rejected(operation: object) -> None:
    with pytest.raises(CurrencyMismatchError) as caught:
        operation(Money(100, "USD"), Money(100, "EUR"))  # type: ignore[operator]
    assert caught.value.code == "currency_mismatch"
    assert "USD" in str(caught.value)
    assert "EUR" in str(caught.value)


def test_different_currencies_are_simply_unequal() -> None:
    assert Money(100, "USD") != Money(100, "EUR")


def test_money_does_not_mix_with_plain_numbers() -> None:
    with pytest.raises(TypeError):
        Money(100, "USD") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(100, "USD") < 1  # type: ignore[operator]  # noqa: B015
    with pytest.raises(TypeError):
        Money(100, "USD") + CryptoAmount(Decimal(1), "BTC")  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------
# Crypto


def test_wei_precision_survives() -> None:
    one_wei = CryptoAmount.parse("0.000000000000000001", "ETH")
    assert one_wei.value == Decimal("1E-18")
    assert one_wei.to_decimal_string() == "0.000000000000000001"
    assert (one_wei + one_wei).to_decimal_string() == "0.000000000000000002"


def test_sums_beyond_the_default_decimal_precision_stay_exact() -> None:
    # 38 significant digits: the default Decimal context (28 digits) would round this sum.
    big = CryptoAmount.parse("12345678901234567890.123456789012345678", "ETH")
    wei = CryptoAmount.parse("0.000000000000000001", "ETH")
    assert (big + wei).to_decimal_string() == "12345678901234567890.123456789012345679"
    assert (big - wei).to_decimal_string() == "12345678901234567890.123456789012345677"
    assert (-big).to_decimal_string() == "-12345678901234567890.123456789012345678"


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (Decimal("1.2E-4"), "0.00012"),
        ("0.00012", "0.00012"),
        ("1.50000000", "1.5"),
        (Decimal("1E+2"), "100"),
        ("100", "100"),
        ("0.00000000", "0"),
        ("-0", "0"),
        ("-0.5", "-0.5"),
    ],
)
def test_crypto_renders_canonical_without_exponent(value: str | Decimal, rendered: str) -> None:
    amount = CryptoAmount.parse(value, "BTC")
    assert amount.to_decimal_string() == rendered
    assert str(amount) == f"{rendered} BTC"
    assert "E" not in repr(amount.value)


def test_crypto_equality_is_by_value() -> None:
    assert CryptoAmount.parse("1.50", "btc") == CryptoAmount(Decimal("1.5"), "BTC")
    assert hash(CryptoAmount.parse("1.50", "BTC")) == hash(CryptoAmount.parse("1.5", "BTC"))


@pytest.mark.parametrize("value", [0.1, 1, True, None, "1e-4", "NaN", " 1", "+1"])
def test_crypto_refuses_floats_ints_and_malformed_strings(value: object) -> None:
    with pytest.raises(InvalidAmountError) as caught:
        CryptoAmount.parse(value, "BTC")  # type: ignore[arg-type]
    assert caught.value.code == "invalid_amount"


@pytest.mark.parametrize("value", [0.1, 1, "0.1", Decimal("NaN"), Decimal("-Infinity")])
def test_crypto_constructor_takes_a_finite_decimal(value: object) -> None:
    with pytest.raises(InvalidAmountError):
        CryptoAmount(value, "BTC")  # type: ignore[arg-type]


def test_crypto_finer_than_wei_is_rejected() -> None:
    with pytest.raises(TooManyDecimalsError) as caught:
        CryptoAmount.parse("0.0000000000000000001", "ETH")
    assert caught.value.code == "too_many_decimals"
    # Trailing zeros past the limit are not precision, so they are fine.
    assert CryptoAmount.parse("1.00000000000000000000000", "ETH").to_decimal_string() == "1"


def test_crypto_accepts_unlisted_wellformed_tickers() -> None:
    amount = CryptoAmount.parse("25.5", "usdttrc20")
    assert amount.currency == "USDTTRC20"
    with pytest.raises(UnsupportedCurrencyError):
        CryptoAmount.parse("1", "USD")
    with pytest.raises(UnknownCurrencyError):
        CryptoAmount.parse("1", "usdt-trc20")


def test_crypto_negative_values_are_allowed_for_reversals() -> None:
    refund = -CryptoAmount.parse("0.5", "SOL")
    assert refund.is_negative()
    assert not refund.is_positive()
    assert abs(refund) == CryptoAmount.parse("0.5", "SOL")
    assert CryptoAmount.zero("SOL").is_zero()


def test_crypto_arithmetic_and_comparison_within_a_currency() -> None:
    a, b = CryptoAmount.parse("0.1", "BTC"), CryptoAmount.parse("0.2", "BTC")
    assert a + b == CryptoAmount.parse("0.3", "BTC")
    assert b - a == a
    assert a < b
    assert a <= b
    assert b > a
    assert b >= a


def test_crypto_mixing_currencies_is_rejected() -> None:
    with pytest.raises(CurrencyMismatchError):
        CryptoAmount.parse("1", "BTC") + CryptoAmount.parse("1", "ETH")
    with pytest.raises(CurrencyMismatchError):
        CryptoAmount.parse("1", "BTC") < CryptoAmount.parse("1", "ETH")  # noqa: B015


# ---------------------------------------------------------------------------------------------
# Ledger amounts


def test_amount_for_fiat_takes_int_minor_units() -> None:
    assert amount_for("usd", 1234) == 1234
    assert amount_for("JPY", -5) == -5


def test_amount_for_crypto_takes_decimal() -> None:
    assert amount_for("BTC", Decimal("0.00010000")) == Decimal("0.0001")
    assert amount_for(crypto_currency("usdttrc20"), Decimal(2)) == Decimal(2)


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("USD", 12.34),
        ("USD", True),
        ("USD", Decimal("12.34")),
        ("USD", "1234"),
        ("BTC", 0.1),
        ("BTC", 1),
        ("BTC", "0.1"),
        ("BTC", Decimal("NaN")),
    ],
)
def test_amount_for_rejects_the_wrong_type(code: str, value: object) -> None:
    with pytest.raises(InvalidAmountError) as caught:
        amount_for(code, value)
    assert caught.value.code == "invalid_amount"


def test_amount_for_takes_a_decimal_in_any_well_formed_ticker_as_crypto() -> None:
    # A ledger line or stored payment carries only its code: NOWPayments' USDTTRC20 must do.
    assert amount_for("usdttrc20", Decimal("1.50")) == Decimal("1.5")
    with pytest.raises(UnknownCurrencyError):
        amount_for("XXX", 1)  # an int in an unknown code is no amount of anything
    with pytest.raises(UnknownCurrencyError):
        amount_for("usdt-trc20", Decimal(1))  # not a ticker
    with pytest.raises(InvalidAmountError):
        amount_for("usd", Decimal("1.5"))  # fiat stays int minor units


def test_amount_for_does_not_trust_a_hand_built_currency() -> None:
    with pytest.raises(UnsupportedCurrencyError):
        amount_for(Currency("USD", 18, is_crypto=True), Decimal(1))


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UnknownCurrencyError, "unknown_currency"),
        (UnsupportedCurrencyError, "unsupported_currency"),
        (InvalidAmountError, "invalid_amount"),
        (TooManyDecimalsError, "too_many_decimals"),
        (CurrencyMismatchError, "currency_mismatch"),
    ],
)
def test_every_error_is_a_value_error_with_an_api_code(error: type[MoneyError], code: str) -> None:
    assert issubclass(error, MoneyError)
    assert issubclass(error, ValueError)
    assert error.code == code
    assert error("message").code == code


def test_error_messages_stay_short_for_huge_inputs() -> None:
    with pytest.raises(InvalidAmountError) as caught:
        Money.from_decimal_string("9" * 10_000, "USD")
    assert len(str(caught.value)) < 300
