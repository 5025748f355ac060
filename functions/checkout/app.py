"""POST /v1/checkout: a Stripe hosted Checkout for one payable object."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from payments.domain.payment import Customer
from payments.http import create_resolver, tenant_id_of
from payments.idempotency import idempotency_key_from, run_idempotently
from payments.services.checkout import CheckoutInput, start_checkout

logger = Logger()
app = create_resolver()

PAYABLE = r"^[A-Za-z0-9_.:\-]+$"
EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


class CustomerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, Field(max_length=254, pattern=EMAIL)]
    name: Annotated[str | None, Field(max_length=200)] = None
    phone: Annotated[str | None, Field(max_length=32)] = None


class CheckoutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payable_type: Annotated[str, Field(min_length=1, max_length=64, pattern=PAYABLE)]
    payable_id: Annotated[str, Field(min_length=1, max_length=128, pattern=PAYABLE)]
    amount: StrictInt
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    description: Annotated[str, Field(min_length=1, max_length=500)]
    success_url: Annotated[str, Field(min_length=1, max_length=2048)]
    cancel_url: Annotated[str | None, Field(min_length=1, max_length=2048)] = None
    customer: CustomerBody | None = None
    metadata: dict[str, Annotated[str, Field(max_length=500)]] | None = None
    expires_in_minutes: Annotated[StrictInt, Field(ge=30, le=1440)] = 1440


@app.post("/v1/checkout")
def create_checkout(body: CheckoutBody) -> Response[dict[str, Any]]:
    tenant_id = tenant_id_of(app)
    key = idempotency_key_from(app.current_event.headers)
    customer = body.customer
    request = CheckoutInput(
        payable_type=body.payable_type,
        payable_id=body.payable_id,
        amount=body.amount,
        currency=body.currency,
        description=body.description,
        success_url=body.success_url,
        cancel_url=body.cancel_url,
        customer=Customer(customer.email, customer.name, customer.phone)
        if customer
        else Customer(),
        metadata=dict(body.metadata or {}),
        expires_in_minutes=body.expires_in_minutes,
    )
    result = run_idempotently(
        operation="checkout",
        tenant_id=tenant_id,
        idempotency_key=key,
        body=body.model_dump(mode="json"),
        action=lambda: start_checkout(tenant_id, request, key),
        lambda_context=app.lambda_context,
    )
    return Response(201, content_types.APPLICATION_JSON, result)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
