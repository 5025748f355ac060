"""Security-token trades through NEO Bank: a verified buyer's payment for an amount of an
ERC-1400 token, cleared (``succeeded``) then settled two business days later (``settled``).

A trade is a payment (payable ``security_token_trade`` / the profile id) whose trade fields are
in its provider details (providers.neobank_spec); everything that moves it afterwards (webhooks,
the sweeper) is the shared path. The sweeper also flags trades past their settlement due date
(``trade.settlement_overdue``, once per trade) and asks the bank about them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from payments.domain.ethereum import InvalidAddressError, checked_address
from payments.domain.events import EventEnvelope, EventType
from payments.domain.payment import Customer, Payment
from payments.domain.settlement import SETTLEMENT_DUE_AT
from payments.domain.states import PaymentStatus
from payments.errors import ConflictError, PaymentsError
from payments.logs import function_logger
from payments.money import FIAT_EXPONENTS, MoneyError, amount_for
from payments.observability import Metric, count
from payments.providers import neobank_spec as trade
from payments.providers import token_trades
from payments.providers.base import (
    ProviderError,
    ProviderRejectedError,
    TokenTradeRequest,
)
from payments.services.credentials import provider_credentials
from payments.services.profiles import get_profile
from payments.services.rate_limits import CostlyOperation, enforce_rate_limit
from payments.services.transitions import (
    PaymentNotFoundError,
    apply_transition,
    create_payment,
    new_event_id,
)
from payments.store import repositories
from payments.store.state_change import (
    CommitOutcome,
    ConditionalPut,
    HistoryRecord,
    StateChange,
    commit_state_change,
)

PROVIDER = trade.NAME
SYMBOL_PATTERN = r"[A-Z0-9]{1,11}"
MAX_QUANTITY_DECIMALS = 18
MAX_QUANTITY_DIGITS = 40
_DECIMAL = re.compile(r"[0-9]{1,40}(\.[0-9]{1,18})?")


class InvalidTradeError(PaymentsError):
    code = "invalid_trade"
    status = 422


class ProfileNotVerifiedError(ConflictError):
    code = "profile_not_verified"


class TradeNotFoundError(PaymentNotFoundError):
    code = "trade_not_found"


@dataclass(frozen=True, slots=True)
class TradeInput:
    profile_id: str
    token_contract_address: str
    token_symbol: str
    token_quantity: str
    amount: int
    currency: str
    description: str = ""


def trade_id_for(tenant_id: str, idempotency_key: str) -> str:
    """A retried request (same tenant and Idempotency-Key) resumes the same trade."""
    digest = hashlib.sha256(f"trade\x00{tenant_id}\x00{idempotency_key}".encode()).hexdigest()
    return f"pay_{digest[:32]}"


def _quantity(text: str) -> Decimal:
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise InvalidTradeError(
            "token_quantity is a positive decimal string (at most 18 decimals, no sign or exponent)"
        )
    try:
        quantity = Decimal(text)
    except InvalidOperation:
        raise InvalidTradeError("token_quantity is not a decimal") from None
    if quantity <= 0:
        raise InvalidTradeError("token_quantity must be positive")
    return quantity


def _validated(request: TradeInput) -> tuple[str, Decimal, str]:
    try:
        contract = checked_address(request.token_contract_address)
    except InvalidAddressError as error:
        raise InvalidTradeError(f"token_contract_address: {error}") from None
    if not re.fullmatch(SYMBOL_PATTERN, request.token_symbol):
        raise InvalidTradeError("token_symbol is 1-11 upper-case letters or digits")
    quantity = _quantity(request.token_quantity)
    currency = request.currency.upper()
    if currency not in FIAT_EXPONENTS:
        raise InvalidTradeError("currency is an ISO 4217 fiat currency")
    try:
        amount_for(currency, request.amount)
    except MoneyError as error:
        raise InvalidTradeError(f"amount: {error}") from None
    if isinstance(request.amount, bool) or request.amount <= 0:
        raise InvalidTradeError("amount must be a positive integer of minor units")
    return contract, quantity, currency


def start_trade(tenant_id: str, request: TradeInput, idempotency_key: str) -> dict[str, Any]:
    """Validate, check the buyer is verified, create (or resume) the trade's payment, initiate
    it at the bank with the CPRN, and go pending with the bank's tx id."""
    contract, quantity, currency = _validated(request)
    profile = get_profile(tenant_id, request.profile_id)  # a foreign id is 404
    if not profile.verified or profile.provider_ref is None:
        raise ProfileNotVerifiedError(
            f"profile {profile.profile_id} is {profile.status.value}: trades need a verified one"
        )
    provider = token_trades(PROVIDER)
    enforce_rate_limit(tenant_id, CostlyOperation.CHECKOUT)
    credentials = provider_credentials(tenant_id, PROVIDER)
    trade_id = trade_id_for(tenant_id, idempotency_key)
    payment = repositories.get_payment(tenant_id, trade_id)
    if payment is not None and (
        payment.provider_ref or payment.status is not PaymentStatus.CREATED
    ):
        # Started already (the bank answered), or refused by the bank for good: a retry with
        # the same key answers it and never asks the bank a second time.
        return trade.trade_view(payment)
    if payment is None:
        payment = create_payment(
            tenant_id=tenant_id,
            payable_type=trade.TRADE_PAYABLE_TYPE,
            payable_id=profile.profile_id,
            amount=request.amount,
            currency=currency,
            provider=PROVIDER,
            description=request.description,
            # No e-mail on the payment: the buyer's trade e-mails come from trade.* events,
            # not the generic payment receipt.
            customer=Customer(),
            payment_id=trade_id,
            extra_items=[_listed(tenant_id, trade_id)],
            provider_details={
                trade.PROFILE_ID: profile.profile_id,
                trade.CPRN: profile.provider_ref,
                trade.TOKEN_CONTRACT: contract,
                trade.TOKEN_SYMBOL: request.token_symbol,
                trade.TOKEN_QUANTITY: format(quantity, "f"),
                trade.WALLET: profile.wallet_address,
            },
        )
    try:
        accepted = provider.initiate_trade(
            credentials,
            TokenTradeRequest(
                payment=payment,
                customer_ref=profile.provider_ref,
                token_contract_address=contract,
                token_symbol=request.token_symbol,
                token_quantity=quantity,
                description=request.description,
            ),
        )
    except ProviderRejectedError:
        apply_transition(
            tenant_id=tenant_id,
            payment_id=trade_id,
            requested=PaymentStatus.FAILED,
            source="api",
            current=payment,
        )
        raise
    result = apply_transition(
        tenant_id=tenant_id,
        payment_id=trade_id,
        requested=PaymentStatus.PENDING,
        source="api",
        changes={
            "provider_ref": accepted.provider_ref,
            "provider_details": {
                **payment.provider_details,
                trade.TX_ID: accepted.provider_ref,
                "provider_status": accepted.provider_status,
            },
        },
        current=payment,
    )
    return trade.trade_view(result.payment)


def _listed(tenant_id: str, trade_id: str) -> ConditionalPut:
    """The trade's entry in its tenant's list, written in the payment's creation transaction."""
    from payments.store.models import TradeListItem, utc_key_time

    pk, sk = TradeListItem.key(tenant_id, utc_key_time(datetime.now(UTC)), trade_id)
    item = TradeListItem(pk, sk, item_type="trade_list", payment_id=trade_id, tenant_id=tenant_id)
    return ConditionalPut(item, TradeListItem.pk.does_not_exist())


def get_trade(tenant_id: str, trade_id: str) -> dict[str, Any]:
    payment = repositories.get_payment(tenant_id, trade_id)
    if payment is None or not trade.is_trade_payment(payment):
        raise TradeNotFoundError(f"no trade {trade_id}")
    return trade.trade_view(payment)


SETTLEMENT_STATES = ("pending", "in_transit", "overdue", "settled", "failed", "reversed")


def list_trades(
    tenant_id: str,
    profile_id: str | None,
    *,
    status: str | None,
    settlement: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A buyer's trades (``profile_id``), or all the tenant's (None: the marketplace's
    settlements view), newest first, filtered by status and settlement state within the page
    read: a filtered page may hold fewer than ``limit``."""
    if profile_id is None:
        payments, next_cursor = repositories.list_tenant_trades(
            tenant_id, limit=limit, cursor=cursor
        )
    else:
        get_profile(tenant_id, profile_id)
        page = repositories.list_payments_for_payable(
            tenant_id, trade.TRADE_PAYABLE_TYPE, profile_id, limit=limit, cursor=cursor
        )
        payments, next_cursor = page.payments, page.next_cursor
    now = datetime.now(UTC)
    views = [
        trade.trade_view(payment, now) for payment in payments if trade.is_trade_payment(payment)
    ]
    views = [
        view
        for view in views
        if (status is None or view["status"] == status)
        and (settlement is None or view["settlement"] == settlement)
    ]
    return views, next_cursor


# --- overdue settlements (the sweeper) -----------------------------------------------------


def flag_overdue(payment: Payment, now: datetime) -> bool:
    """Mark a cleared trade past its due date as overdue and emit ``trade.settlement_overdue``
    (once: the mark is written with the event, conditional on the version it was decided on).
    False when it was flagged already or moved meanwhile."""
    if trade.OVERDUE_FLAGGED_AT in payment.provider_details:
        return False
    if payment.status is not PaymentStatus.SUCCEEDED:
        return False
    from payments.domain.settlement import moment_text

    updated = payment.with_changes(
        now,
        provider_details={**payment.provider_details, trade.OVERDUE_FLAGGED_AT: moment_text(now)},
    )
    event = EventEnvelope(
        new_event_id(),
        EventType.TRADE_SETTLEMENT_OVERDUE,
        payment.tenant_id,
        now,
        {"trade": trade.trade_view(updated, now)},
    )
    change = StateChange(
        payment=updated,
        history=HistoryRecord(
            payment.status, payment.status, False, "settlement_overdue", "sweeper"
        ),
        occurred_at=now,
        expected_version=payment.version,
        expected_status=payment.status,
        events=[event],
    )
    committed = commit_state_change(change) is CommitOutcome.COMMITTED
    if committed:
        function_logger().warning(
            "trade settlement overdue",
            extra={"payment_id": payment.payment_id, "due": payment.provider_details.get(
                SETTLEMENT_DUE_AT)},
        )  # fmt: skip
    return committed


def overdue_trades(now: datetime) -> list[Payment]:
    return [
        payment
        for payment in repositories.cleared_payments_due_before(now)
        if trade.is_trade_payment(payment)
    ]


def sweep_overdue(now: datetime) -> tuple[int, int]:
    """Flag every trade past due and ask the bank about it (its answer applies through the
    shared path): (overdue, settled by the bank's answer)."""
    from payments.services.sweeper import settle_from_provider

    overdue = overdue_trades(now)
    settled = 0
    log = function_logger()
    for payment in overdue:
        try:
            flag_overdue(payment, now)
        except Exception:  # one bad trade must not stop the sweep of the others
            log.exception(
                "sweeper could not flag an overdue trade", extra={"payment_id": payment.payment_id}
            )
            continue
        try:
            # The bank is asked by tx id; its answer applies to the payment as it is then
            # (apply_provider_event reads it), so the flag just written needs no re-read.
            outcome = settle_from_provider(payment)
        except ProviderError as error:
            log.warning(
                "sweeper could not ask the bank about an overdue trade",
                extra={"payment_id": payment.payment_id, "code": error.code},
            )
            continue
        except Exception:  # the same: logged, and the next sweep asks again
            log.exception(
                "sweeper failed on an overdue trade", extra={"payment_id": payment.payment_id}
            )
            continue
        if outcome is not None and outcome[0].requested_status is PaymentStatus.SETTLED:
            settled += 1
    count(Metric.SETTLEMENTS_OVERDUE, len(overdue) - settled, provider=PROVIDER)
    return len(overdue), settled
