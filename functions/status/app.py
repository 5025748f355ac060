"""GET /v1/payments/{payment_id} and GET /v1/payments?payable_type=&payable_id=."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.api_models import PaymentDetailView, PaymentPage
from payments.config import get_settings
from payments.errors import NotFoundError
from payments.http import AUTHORIZED_ERRORS, api_responses, create_resolver, id_path, tenant_id_of
from payments.services import status

logger = Logger()
tracer = Tracer()
app = create_resolver()

PaymentId = Annotated[str, id_path("The payment's id (pay_...)")]
# Payable references: no '#' (our key separator) and nothing exotic.
PAYABLE_PATTERN = r"^[A-Za-z0-9_.:\-]+$"


@app.get(
    "/v1/payments/<payment_id>",
    summary="A payment with its refunds and history",
    description="Read with one strongly consistent query. Another tenant's payment is a 404.",
    tags=["payments"],
    responses=api_responses(200, PaymentDetailView, "The payment", 400, 404, *AUTHORIZED_ERRORS),
)
@tracer.capture_method
def get_payment(payment_id: PaymentId) -> PaymentDetailView:
    view = status.payment_status(tenant_id_of(app), payment_id)
    if view is None:
        raise NotFoundError(f"no payment {payment_id}", code="payment_not_found")
    return PaymentDetailView.model_validate(view)


@app.get(
    "/v1/payments",
    summary="The payments of one payable object, newest first",
    description="Cursor pagination: pass `next_cursor` back as `cursor` until it is null.",
    tags=["payments"],
    responses=api_responses(200, PaymentPage, "One page of payments", 400, *AUTHORIZED_ERRORS),
)
@tracer.capture_method
def list_payments(
    payable_type: Annotated[
        str,
        Query(
            min_length=1,
            max_length=64,
            pattern=PAYABLE_PATTERN,
            description="Your object's type, e.g. booking",
        ),
    ],
    payable_id: Annotated[
        str,
        Query(
            min_length=1,
            max_length=128,
            pattern=PAYABLE_PATTERN,
            description="Your object's id, e.g. bk_1001",
        ),
    ],
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
    page = status.payments_for_payable(
        tenant_id_of(app),
        payable_type,
        payable_id,
        limit=limit or get_settings().default_page_size,
        cursor=cursor,
    )
    return PaymentPage.model_validate(page)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
