"""Whether a provider can take an amount: one check for every way a payment starts."""

from __future__ import annotations

from payments.errors import UnprocessableError
from payments.money import Money
from payments.providers.spec import AmountNotSupportedError, ProviderSpec


def check_provider_amount(spec: ProviderSpec, money: Money) -> int:
    """``money`` in the provider's units: positive, representable (422 amount_not_supported)
    and under its ceiling for one payment (422 amount_too_large)."""
    if money.minor <= 0:
        raise UnprocessableError("amount must be a positive integer", code="invalid_amount")
    try:
        in_provider_units = spec.units.to_provider(money.minor, money.currency)
    except AmountNotSupportedError as error:
        raise UnprocessableError(str(error), code="amount_not_supported") from None
    limit = spec.limits.max_amount
    if limit is not None and in_provider_units > limit:
        raise UnprocessableError(
            f"amount is above {spec.display_name}'s ceiling for one payment "
            f"({limit} in its units; {money.currency} {money.minor} is {in_provider_units})",
            code="amount_too_large",
        )
    return in_provider_units
