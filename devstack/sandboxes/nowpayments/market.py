"""The sandbox's market: the currencies it lists, fixed rates, minimums and network fees.

Rates are fixed so that tests can compute what to expect: each currency has a price in US
dollars (``USD_PRICES``), and ``amount`` of ``a`` is ``amount * price(a) / price(b)`` of ``b``,
computed exactly with ``Decimal`` and then rounded to ``b``'s precision: UP for what a customer
is asked to pay (estimates, ``pay_amount``), DOWN for what reaches the merchant (the outcome,
``actually_paid_at_fiat``). Division is done at 50 digits rounding up, so the final rounding up
is exact (the next multiple of the precision is itself a 50-digit number).

The minimum of a pair (``GET /v1/min-amount``) is in ``currency_from`` units: the larger of the
network minimum of ``currency_from`` and that of ``currency_to`` converted, rounded up. Fiat
currencies have no network minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal, localcontext


@dataclass(frozen=True)
class Currency:
    code: str  # lower case, as NOWPayments writes it
    name: str
    network: str
    precision: int  # decimal places of an amount
    usd_price: Decimal
    minimum: Decimal = Decimal(0)  # network minimum, in this currency
    withdrawal_fee: Decimal = Decimal(0)  # network fee of paying out in this currency
    extra_id: bool = False  # needs a memo / destination tag (payin_extra_id)
    crypto: bool = True


def _crypto(
    code: str,
    name: str,
    network: str,
    precision: int,
    usd_price: str,
    minimum: str,
    withdrawal_fee: str,
    *,
    extra_id: bool = False,
) -> Currency:
    return Currency(
        code,
        name,
        network,
        precision,
        Decimal(usd_price),
        Decimal(minimum),
        Decimal(withdrawal_fee),
        extra_id=extra_id,
    )


def _fiat(code: str, name: str, usd_price: str) -> Currency:
    return Currency(code, name, "fiat", 2, Decimal(usd_price), crypto=False)


# code, name, network, precision, USD price, network minimum, payout network fee
CRYPTO = (
    _crypto("btc", "Bitcoin", "btc", 8, "50000", "0.0001", "0.00001"),
    _crypto("eth", "Ethereum", "eth", 8, "2500", "0.002", "0.0005"),
    _crypto("ltc", "Litecoin", "ltc", 8, "80", "0.01", "0.0001"),
    _crypto("usdttrc20", "Tether USD (Tron)", "trx", 6, "1", "1", "1"),
    _crypto("usdterc20", "Tether USD (Ethereum)", "eth", 6, "1", "15", "5"),
    _crypto("usdc", "USD Coin (Ethereum)", "eth", 6, "1", "15", "5"),
    _crypto("xrp", "Ripple", "xrp", 6, "0.5", "2", "0.1", extra_id=True),
    _crypto("xlm", "Stellar Lumens", "xlm", 7, "0.1", "5", "0.01", extra_id=True),
    _crypto("trx", "Tron", "trx", 6, "0.125", "10", "1"),
    _crypto("bnbbsc", "BNB (Binance Smart Chain)", "bsc", 8, "300", "0.01", "0.0005"),
    _crypto("doge", "Dogecoin", "doge", 8, "0.08", "20", "2"),
    _crypto("sol", "Solana", "sol", 9, "100", "0.05", "0.0001"),
)
FIAT = (
    _fiat("usd", "US Dollar", "1"),
    _fiat("eur", "Euro", "1.1"),
    _fiat("gbp", "Pound Sterling", "1.25"),
    _fiat("kes", "Kenyan Shilling", "0.0078125"),  # 128 KES to the dollar
)
CURRENCIES = {currency.code: currency for currency in (*CRYPTO, *FIAT)}
CRYPTO_CODES = tuple(currency.code for currency in CRYPTO)


def currency(code: object) -> Currency | None:
    """The currency of ``code`` (NOWPayments takes codes in any case), None if unknown."""
    return CURRENCIES.get(code.lower()) if isinstance(code, str) else None


def convert(amount: Decimal, source: Currency, target: Currency, *, up: bool) -> Decimal:
    """``amount`` of ``source`` in ``target``, rounded to its precision (up or down)."""
    with localcontext() as context:
        context.prec = 50
        context.rounding = ROUND_UP if up else ROUND_DOWN
        exact = amount * source.usd_price / target.usd_price
    return exact.quantize(Decimal(1).scaleb(-target.precision), ROUND_UP if up else ROUND_DOWN)


def min_amount(source: Currency, target: Currency) -> Decimal:
    """The least amount of ``source`` NOWPayments takes for the pair, in ``source`` units."""
    floor = convert(target.minimum, target, source, up=True) if target.minimum else Decimal(0)
    return max(source.minimum, floor)
