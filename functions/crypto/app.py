"""Crypto payments through NOWPayments with the tenant's own account: POST /v1/crypto/payments
(an address and an exact amount to send), POST /v1/crypto/invoices (a hosted invoice page),
GET /v1/crypto/currencies and GET /v1/crypto/estimate."""

from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from payments.api_models import (
    CryptoCurrenciesView,
    CryptoEstimateView,
    CryptoInvoiceView,
    CryptoPaymentView,
)
from payments.http import (
    AUTHORIZED_ERRORS,
    BODY_ERRORS,
    IdempotencyKey,
    Omittable,
    PayableId,
    PayableType,
    api_responses,
    create_resolver,
    tenant_id_of,
)
from payments.idempotency import run_idempotently
from payments.observability import observed
from payments.services.crypto import (
    CryptoInvoiceInput,
    CryptoPaymentInput,
    EstimateInput,
    estimate,
    listed_currencies,
    start_crypto_invoice,
    start_crypto_payment,
)

app = create_resolver()

CURRENCY = r"^[A-Za-z0-9]{2,20}$"
URL = r"^https?://[^\s]+$"


def _price_amount(value: object) -> int | str:
    # One error at `price_amount` (not one per member of a union), and a float never passes.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError(
            "price_type",
            "price_amount is an integer of minor units or a decimal string, never a JSON float",
        )
    return value


PriceAmount = Annotated[
    int | str,
    PlainValidator(_price_amount),
    WithJsonSchema({"oneOf": [{"type": "integer"}, {"type": "string"}]}),
]


class PricedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payable_type: PayableType
    payable_id: PayableId
    price_amount: Annotated[
        PriceAmount,
        Field(
            description=(
                "the order's price: integer minor units for a fiat price_currency (1000 is "
                'USD 10.00), a decimal string for a crypto one ("0.0015"); a JSON float is '
                "refused (422 invalid_type)"
            )
        ),
    ]
    price_currency: Annotated[
        str, Field(pattern=CURRENCY, description="ISO 4217 (USD, EUR) or a coin (BTC)")
    ]
    order_description: Omittable[
        Annotated[str, Field(min_length=1, max_length=200, description="1-200 characters")]
    ] = None


class CryptoPaymentBody(PricedBody):
    pay_currency: Annotated[
        str,
        Field(
            pattern=CURRENCY,
            description="the coin the customer pays in, one of GET /v1/crypto/currencies",
        ),
    ]


class CryptoInvoiceBody(PricedBody):
    pay_currency: Omittable[
        Annotated[
            str,
            Field(
                pattern=CURRENCY,
                description="the coin, one of GET /v1/crypto/currencies; omitted: the "
                "customer chooses on the invoice page",
            ),
        ]
    ] = None
    success_url: Omittable[
        Annotated[str, Field(max_length=2048, pattern=URL, description="an http(s) URL")]
    ] = None
    cancel_url: Omittable[
        Annotated[str, Field(max_length=2048, pattern=URL, description="an http(s) URL")]
    ] = None


CRYPTO_ERRORS = (*BODY_ERRORS, 409, 429, 502, 503, *AUTHORIZED_ERRORS)


@app.post(
    "/v1/crypto/payments",
    summary="Take a crypto payment: an address and an exact amount to send",
    description=(
        "Creates a NOWPayments payment with your own account (`PUT "
        "/v1/providers/nowpayments/credentials`) for the price and coin, with our IPN URL "
        "and the payment id as `order_id`, and our payment in that coin (`amount` = "
        "`pay_amount`, the price kept as `price_amount`). Answers 201; the outcome arrives "
        "as the `payment.*` event once NOWPayments' signed IPN is confirmed by its API. A "
        "price below NOWPayments' minimum for the coin is 422 `amount_below_minimum` (asked "
        "before anything is created); a coin it does not list is 422 `unsupported_currency`. "
        "A retry with the same Idempotency-Key answers the same payment."
    ),
    tags=["crypto"],
    status_code=201,
    responses=api_responses(201, CryptoPaymentView, "The payment to send", *CRYPTO_ERRORS),
)
def create_crypto_payment(
    body: CryptoPaymentBody, idempotency_key: IdempotencyKey
) -> CryptoPaymentView:
    request = CryptoPaymentInput(**_fields(body))
    result = _started(
        "crypto_payment",
        body,
        idempotency_key,
        lambda tenant_id: start_crypto_payment(tenant_id, request, idempotency_key),
    )
    return CryptoPaymentView.model_validate(result)


def _fields(body: PricedBody) -> dict[str, Any]:
    return {**body.model_dump(), "order_description": body.order_description or ""}


def _started(
    operation: str,
    body: PricedBody,
    idempotency_key: str,
    start: Callable[[str], dict[str, Any]],
) -> dict[str, Any]:
    """``start(tenant_id)`` once per Idempotency-Key and body (a replay answers the first)."""
    tenant_id = tenant_id_of(app)
    return run_idempotently(
        operation=operation,
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        body=body.model_dump(mode="json"),
        action=lambda: start(tenant_id),
        lambda_context=app.lambda_context,
    )


@app.post(
    "/v1/crypto/invoices",
    summary="A hosted NOWPayments invoice page for a price",
    description=(
        "Creates a NOWPayments invoice (its `invoice_url` is where the customer chooses a "
        "coin and pays) and our payment in the price currency; the payment made through the "
        "page is linked to ours by `order_id` and the invoice id. Answers 201."
    ),
    tags=["crypto"],
    status_code=201,
    responses=api_responses(201, CryptoInvoiceView, "The invoice", *CRYPTO_ERRORS),
)
def create_crypto_invoice(
    body: CryptoInvoiceBody, idempotency_key: IdempotencyKey
) -> CryptoInvoiceView:
    request = CryptoInvoiceInput(**_fields(body))
    result = _started(
        "crypto_invoice",
        body,
        idempotency_key,
        lambda tenant_id: start_crypto_invoice(tenant_id, request, idempotency_key),
    )
    return CryptoInvoiceView.model_validate(result)


@app.get(
    "/v1/crypto/currencies",
    summary="The coins NOWPayments takes for your account",
    description="Cached for every caller of your tenant up to an hour.",
    tags=["crypto"],
    responses=api_responses(200, CryptoCurrenciesView, "The coins", 409, 502, *AUTHORIZED_ERRORS),
)
def get_currencies() -> CryptoCurrenciesView:
    return CryptoCurrenciesView(currencies=list(listed_currencies(tenant_id_of(app))))


@app.get(
    "/v1/crypto/estimate",
    summary="What an amount comes to in another currency, and the pair's minimum",
    description=(
        "`amount` is a decimal string (`10.50`; no exponent, no sign); currencies are ISO "
        "4217 or coins of GET /v1/crypto/currencies, at least one a coin. Bad queries are 400 "
        "(`invalid_amount`, `too_many_decimals`, `unknown_currency`, `unsupported_currency`)."
    ),
    tags=["crypto"],
    responses=api_responses(
        200, CryptoEstimateView, "The estimate", 400, 409, 502, *AUTHORIZED_ERRORS
    ),
)
def get_estimate(
    amount: Annotated[
        str, Query(min_length=1, max_length=64, description="a positive decimal string")
    ],
    currency_from: Annotated[str, Query(pattern=CURRENCY, description="ISO 4217 or a coin")],
    currency_to: Annotated[str, Query(pattern=CURRENCY, description="ISO 4217 or a coin")],
) -> CryptoEstimateView:
    result = estimate(
        tenant_id_of(app),
        EstimateInput(amount=amount, currency_from=currency_from, currency_to=currency_to),
    )
    return CryptoEstimateView.model_validate(result)


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
