"""POST /v1/payments/{payment_id}/refunds: refund all that remains, or part of it."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from payments.http import create_resolver, tenant_id_of
from payments.idempotency import idempotency_key_from, run_idempotently
from payments.services.refunds import request_refund

logger = Logger()
app = create_resolver()


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: StrictInt | None = None
    reason: Annotated[str | None, Field(max_length=64)] = None


@app.post("/v1/payments/<payment_id>/refunds")
def create_refund(
    payment_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")],
    body: RefundBody,
) -> Response[dict[str, Any]]:
    tenant_id = tenant_id_of(app)
    key = idempotency_key_from(app.current_event.headers)
    result = run_idempotently(
        operation=f"refund:{payment_id}",
        tenant_id=tenant_id,
        idempotency_key=key,
        body=body.model_dump(mode="json"),
        action=lambda: request_refund(
            tenant_id=tenant_id,
            payment_id=payment_id,
            amount=body.amount,
            reason=body.reason,
            idempotency_key=key,
        ),
        lambda_context=app.lambda_context,
    )
    return Response(201, content_types.APPLICATION_JSON, result)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
