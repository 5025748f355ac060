"""GET /v1/payments/{payment_id}[?refresh=true] and GET /v1/payments?payable_type=&payable_id=
or ?provider_reference=."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.api_models import PaymentDetailView, PaymentPage
from payments.config import get_settings
from payments.errors import NotFoundError, PaymentsError
from payments.http import (
    AUTHORIZED_ERRORS,
    PAYABLE_PATTERN,
    api_responses,
    create_resolver,
    id_path,
    tenant_id_of,
)
from payments.observability import observed
from payments.services import status

app = create_resolver()

PaymentId = Annotated[str, id_path("The payment's id (pay_...)")]
# Payable references: no '#' (our key separator) and nothing exotic.


@app.get(
    "/v1/payments/<payment_id>",
    summary="A payment with its refunds and history",
    description=(
        "Read with one strongly consistent query. Another tenant's payment is a 404. With "
        "`refresh=true`, an open payment is first settled from its provider's own answer (an "
        "M-PESA STK query, say), through the same path as the provider's notification, for "
        "portals that poll; `refresh` in the answer says what that did. Refreshes are "
        "rate-limited per tenant (429 with Retry-After)."
    ),
    tags=["payments"],
    responses=api_responses(
        200, PaymentDetailView, "The payment", 400, 404, 429, *AUTHORIZED_ERRORS
    ),
)
def get_payment(
    payment_id: PaymentId,
    refresh: Annotated[
        bool, Query(description="Ask the provider first when the payment is open")
    ] = False,
) -> PaymentDetailView:
    tenant_id = tenant_id_of(app)
    view = (
        status.refreshed_payment_status(tenant_id, payment_id)
        if refresh
        else status.payment_status(tenant_id, payment_id)
    )
    if view is None:
        raise NotFoundError(f"no payment {payment_id}", code="payment_not_found")
    return PaymentDetailView.model_validate(view)


@app.get(
    "/v1/payments",
    summary="The payments of one payable object (newest first), or the one a provider reference "
    "names",
    description=(
        "Either `payable_type` with `payable_id` (cursor pagination: pass `next_cursor` back as "
        "`cursor` until it is null), or `provider_reference` alone: the provider's id of the "
        "payment (an M-PESA CheckoutRequestID `ws_CO_...`, a Stripe Checkout Session id), a "
        "page of at most one. Neither is 400 `missing_field`; both, 400 `invalid_query`."
    ),
    tags=["payments"],
    responses=api_responses(200, PaymentPage, "One page of payments", 400, 422, *AUTHORIZED_ERRORS),
)
def list_payments(
    payable_type: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=PAYABLE_PATTERN,
            description="Your object's type, e.g. booking",
        ),
    ] = None,
    payable_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=128,
            pattern=PAYABLE_PATTERN,
            description="Your object's id, e.g. bk_1001",
        ),
    ] = None,
    provider_reference: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            pattern=PAYABLE_PATTERN,
            description="The provider's id of the payment, e.g. ws_CO_...",
        ),
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=100, description="Page size, 1-100 (default 25)")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=2048,
            description="The previous page's next_cursor, for this same query only",
        ),
    ] = None,
) -> PaymentPage:
    tenant_id = tenant_id_of(app)
    if provider_reference is not None:
        if payable_type is not None or payable_id is not None or cursor is not None:
            raise PaymentsError(
                "provider_reference is used alone", code="invalid_query", status=400
            )
        return PaymentPage.model_validate(
            status.payments_by_provider_reference(tenant_id, provider_reference)
        )
    if payable_type is None or payable_id is None:
        raise PaymentsError(
            "give payable_type and payable_id, or provider_reference",
            code="missing_field",
            status=400,
        )
    page = status.payments_for_payable(
        tenant_id,
        payable_type,
        payable_id,
        limit=limit or get_settings().default_page_size,
        cursor=cursor,
    )
    return PaymentPage.model_validate(page)


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
