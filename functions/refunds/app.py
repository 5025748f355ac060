"""POST /v1/payments/{payment_id}/refunds: refund all that remains, or part of it."""

from typing import Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from payments.api_models import RefundView
from payments.http import (
    AUTHORIZED_ERRORS,
    BODY_ERRORS,
    IdempotencyKey,
    Omittable,
    api_responses,
    create_resolver,
    id_path,
    tenant_id_of,
)
from payments.idempotency import run_idempotently
from payments.observability import observed
from payments.services.refunds import refund_reasons, request_refund

app = create_resolver()

REASONS = "; ".join(
    f"{provider}: {', '.join(sorted(reasons))}" for provider, reasons in refund_reasons().items()
)


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Omittable[
        Annotated[
            StrictInt,
            Field(
                description=(
                    "an integer in minor units, e.g. 1500 for 15.00; leave it out to refund "
                    "all that remains (null is refused)"
                )
            ),
        ]
    ] = None
    reason: Omittable[
        Annotated[
            str,
            Field(max_length=64, description=f"a reason the payment's provider takes: {REASONS}"),
        ]
    ] = None


@app.post(
    "/v1/payments/<payment_id>/refunds",
    summary="Refund all that remains of a payment, or part of it",
    description=(
        "The amount is reserved first, then the provider is asked. An omitted amount means all "
        "that remains; `null` is refused."
    ),
    tags=["payments"],
    status_code=201,
    responses=api_responses(
        201, RefundView, "The refund", *BODY_ERRORS, 404, 409, 502, 503, *AUTHORIZED_ERRORS
    ),
)
def create_refund(
    payment_id: Annotated[str, id_path("The payment's id (pay_...)")],
    body: RefundBody,
    idempotency_key: IdempotencyKey,
) -> RefundView:
    tenant_id = tenant_id_of(app)
    result = run_idempotently(
        operation=f"refund:{payment_id}",
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        body=body.model_dump(mode="json"),
        action=lambda: request_refund(
            tenant_id=tenant_id,
            payment_id=payment_id,
            amount=body.amount,
            reason=body.reason,
            idempotency_key=idempotency_key,
        ),
        lambda_context=app.lambda_context,
    )
    return RefundView.model_validate(result)


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
