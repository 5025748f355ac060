"""GET /v1/payments/{payment_id} and GET /v1/payments?payable_type=&payable_id=."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.config import get_settings
from payments.errors import NotFoundError
from payments.http import create_resolver, tenant_id_of
from payments.services import status

logger = Logger()
tracer = Tracer()
app = create_resolver()

IdentifierPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
# Payable references: no '#' (our key separator) and nothing exotic.
PAYABLE_PATTERN = r"^[A-Za-z0-9_.:\-]+$"


@app.get("/v1/payments/<payment_id>")
@tracer.capture_method
def get_payment(payment_id: IdentifierPath) -> dict[str, Any]:
    view = status.payment_status(tenant_id_of(app), payment_id)
    if view is None:
        raise NotFoundError(f"no payment {payment_id}", code="payment_not_found")
    return view


@app.get("/v1/payments")
@tracer.capture_method
def list_payments(
    payable_type: Annotated[str, Query(min_length=1, max_length=64, pattern=PAYABLE_PATTERN)],
    payable_id: Annotated[str, Query(min_length=1, max_length=128, pattern=PAYABLE_PATTERN)],
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> dict[str, Any]:
    return status.payments_for_payable(
        tenant_id_of(app),
        payable_type,
        payable_id,
        limit=limit or get_settings().default_page_size,
        cursor=cursor,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
