"""NEO Bank security-token trades: POST /v1/trades (for a verified profile: the bank is asked
to take the payment, signed, with the buyer's CPRN), GET /v1/trades/{id} and GET
/v1/trades?profile_id=&status=&settlement= (the settlements view)."""

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from payments.api_models import TradePage, TradeView
from payments.config import get_settings
from payments.domain.states import PaymentStatus
from payments.http import (
    AUTHORIZED_ERRORS,
    BODY_ERRORS,
    IdempotencyKey,
    Omittable,
    PageLimit,
    api_responses,
    create_resolver,
    id_path,
    id_query,
    tenant_id_of,
)
from payments.idempotency import run_idempotently
from payments.observability import observed
from payments.services import trades

app = create_resolver()


class TradeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: Annotated[
        str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$", description="prf_...")
    ]
    token_contract_address: Annotated[
        str,
        Field(
            pattern=r"^0x[0-9a-fA-F]{40}$",
            description="the ERC-1400 contract (0x + 40 hex; mixed case: EIP-55 checksum)",
        ),
    ]
    token_symbol: Annotated[
        str, Field(pattern="^" + trades.SYMBOL_PATTERN + "$", description="e.g. ACME")
    ]
    token_quantity: Annotated[
        str,
        Field(
            min_length=1,
            max_length=60,
            description="a positive decimal string, at most 18 decimals (e.g. 10.5)",
        ),
    ]
    amount: Annotated[
        StrictInt,
        Field(gt=0, le=10**15, description="integer minor units (USD 250.00 is 25000)"),
    ]
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217, e.g. USD")]
    description: Omittable[
        Annotated[str, Field(min_length=1, max_length=200, description="1-200 characters")]
    ] = None


@app.post(
    "/v1/trades",
    summary="Buy an amount of a security token through NEO Bank",
    description=(
        "For a verified profile only (409 `profile_not_verified` otherwise; a profile of "
        "another tenant is 404): initiates the payment at the bank (signed, carrying the "
        "buyer's CPRN) and answers 201 with the trade, whose `tx_id` is the bank's. The bank "
        "clears it (`trade.succeeded`, status `succeeded`, `settlement_due_at` = clearing + 2 "
        "business days) and settles it (`trade.settled`, status `settled`, with the wallet and "
        "token to deliver), or fails it (`trade.failed`). A retry with the same "
        "Idempotency-Key answers the same trade."
    ),
    tags=["trades"],
    status_code=201,
    responses=api_responses(
        201, TradeView, "The trade", *BODY_ERRORS, 404, 409, 502, 503, *AUTHORIZED_ERRORS
    ),
)
def create_trade(body: TradeBody, idempotency_key: IdempotencyKey) -> TradeView:
    tenant_id = tenant_id_of(app)
    request = trades.TradeInput(**{**body.model_dump(), "description": body.description or ""})
    result = run_idempotently(
        operation="trade",
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        body=body.model_dump(mode="json"),
        action=lambda: trades.start_trade(tenant_id, request, idempotency_key),
        lambda_context=app.lambda_context,
    )
    return TradeView.model_validate(result)


@app.get(
    "/v1/trades/<trade_id>",
    summary="One trade, with its settlement state and due date",
    tags=["trades"],
    responses=api_responses(200, TradeView, "The trade", 400, 404, 422, *AUTHORIZED_ERRORS),
)
def get_trade(trade_id: Annotated[str, id_path("The trade's id (pay_...)")]) -> TradeView:
    return TradeView.model_validate(trades.get_trade(tenant_id_of(app), trade_id))


@app.get(
    "/v1/trades",
    summary="Trades (a buyer's, or all of yours), newest first, by status and settlement state",
    description=(
        "Without `profile_id`, every trade of yours: the settlements view across buyers. "
        "`settlement` is pending, in_transit, overdue (cleared, past its due date), settled, "
        "failed or reversed. Filters apply within each page read, so a page may hold fewer "
        "than `limit` trades: follow `next_cursor` until it is null."
    ),
    tags=["trades"],
    responses=api_responses(
        200, TradePage, "One page of trades", 400, 404, 422, *AUTHORIZED_ERRORS
    ),
)
def list_trades(
    profile_id: Annotated[
        str | None, id_query("The buyer's profile id (prf_...); omitted: every trade")
    ] = None,
    status: Annotated[PaymentStatus | None, Query(description="The trade's status")] = None,
    settlement: Annotated[
        Literal["pending", "in_transit", "overdue", "settled", "failed", "reversed"] | None,
        Query(description="The settlement state"),
    ] = None,
    limit: PageLimit = None,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=2048, description="The previous page's next_cursor"),
    ] = None,
) -> TradePage:
    views, next_cursor = trades.list_trades(
        tenant_id_of(app),
        profile_id,
        status=status.value if status else None,
        settlement=settlement,
        limit=limit or get_settings().default_page_size,
        cursor=cursor,
    )
    return TradePage.model_validate({"data": views, "next_cursor": next_cursor})


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
