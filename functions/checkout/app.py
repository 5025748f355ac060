"""POST /v1/checkout: a Stripe hosted Checkout for one payable object."""

from typing import Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from payments.api_models import CheckoutView
from payments.domain.payment import Customer
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
from payments.services.checkout import CheckoutInput, checkout_providers, start_checkout

app = create_resolver()

EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
REDIRECT = "https URL (http only for localhost, 127.0.0.1 or ::1), no user or password"
HOSTED = ", ".join(checkout_providers())


class CustomerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Annotated[
        str, Field(max_length=254, pattern=EMAIL, description="an e-mail address, a@b.co")
    ]
    name: Omittable[Annotated[str, Field(max_length=200, description="at most 200 characters")]] = (
        None
    )
    phone: Omittable[Annotated[str, Field(max_length=32, description="at most 32 characters")]] = (
        None
    )


class CheckoutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payable_type: PayableType
    payable_id: PayableId
    amount: Annotated[
        StrictInt,
        Field(description="an integer in minor units, e.g. 4500 for 45.00 (JPY 500 is 500)"),
    ]
    currency: Annotated[
        str,
        Field(min_length=3, max_length=3, description="an ISO 4217 fiat code, e.g. USD or KES"),
    ]
    description: Annotated[
        str,
        Field(
            min_length=1,
            max_length=500,
            description="1-500 characters, shown as the line item on the payment page",
        ),
    ]
    success_url: Omittable[
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=2048,
                description=(
                    f"where the customer goes after paying: an {REDIRECT} (required by "
                    "providers that send the customer back, Stripe included)"
                ),
            ),
        ]
    ] = None
    cancel_url: Omittable[
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=2048,
                description=f"where the page's back link goes: an {REDIRECT}",
            ),
        ]
    ] = None
    customer: Omittable[CustomerBody] = None
    metadata: Omittable[
        Annotated[
            dict[str, Annotated[str, Field(max_length=500)]],
            Field(
                description="at most 48 string values (keys 1-40 characters, values at most 500)"
            ),
        ]
    ] = None
    provider: Omittable[
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=32,
                pattern=r"^[a-z0-9_]+$",
                description=f"a provider with a hosted checkout: {HOSTED} (default stripe)",
            ),
        ]
    ] = "stripe"
    expires_in_minutes: Omittable[
        Annotated[
            StrictInt,
            Field(ge=30, le=1440, description="an integer from 30 to 1440 (default 1440)"),
        ]
    ] = 1440


@app.post(
    "/v1/checkout",
    summary="Start a hosted checkout for one payable object",
    description=(
        "Creates the payment and its Stripe Checkout session; send the customer to "
        "`checkout_url`. A retry with the same Idempotency-Key resumes the same payment."
    ),
    tags=["checkout"],
    status_code=201,
    responses=api_responses(
        201,
        CheckoutView,
        "The payment and where to pay it",
        *BODY_ERRORS,
        409,
        502,
        503,
        *AUTHORIZED_ERRORS,
    ),
)
def create_checkout(body: CheckoutBody, idempotency_key: IdempotencyKey) -> CheckoutView:
    tenant_id = tenant_id_of(app)
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
        expires_in_minutes=body.expires_in_minutes or 1440,
        provider=body.provider or "stripe",
    )
    result = run_idempotently(
        operation="checkout",
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        body=body.model_dump(mode="json"),
        action=lambda: start_checkout(tenant_id, request, idempotency_key),
        lambda_context=app.lambda_context,
    )
    return CheckoutView.model_validate(result)


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
