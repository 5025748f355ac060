"""POST /v1/mpesa/stk-push: an M-PESA STK prompt on the customer's phone, for one payable
object, with the tenant's own Daraja credentials."""

from typing import Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from payments.api_models import StkPushView
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
from payments.services.stk_push import (
    MAX_ACCOUNT_REFERENCE,
    MAX_AMOUNT_KES,
    MAX_TRANSACTION_DESC,
    StkPushInput,
    start_stk_push,
)

app = create_resolver()

DARAJA_TEXT = r"^[ -~]+$"  # printable ASCII: what Daraja passes to the customer's phone
EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"


class PushCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Omittable[
        Annotated[str, Field(max_length=254, pattern=EMAIL, description="an e-mail address")]
    ] = None
    name: Omittable[Annotated[str, Field(max_length=200, description="at most 200 characters")]] = (
        None
    )


class StkPushBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payable_type: PayableType
    payable_id: PayableId
    amount: Annotated[
        StrictInt,
        Field(
            description=(
                "KES in minor units (cents), whole shillings only: 5000 is KES 50; 100 to "
                f"{MAX_AMOUNT_KES * 100} (KES 1 to {MAX_AMOUNT_KES:,}); a non-multiple of 100 is "
                "422 amount_not_supported"
            )
        ),
    ]
    phone_number: Annotated[
        str,
        Field(
            min_length=9,
            max_length=20,
            description=(
                "the customer's Safaricom number: 2547XXXXXXXX or 2541XXXXXXXX, also +254..., "
                "07.../01... or 7.../1...; anything else is 422 invalid_phone_number"
            ),
        ),
    ]
    account_reference: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_ACCOUNT_REFERENCE,
            pattern=DARAJA_TEXT,
            description=f"shown to the customer, 1-{MAX_ACCOUNT_REFERENCE} printable characters",
        ),
    ]
    transaction_desc: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_TRANSACTION_DESC,
            pattern=DARAJA_TEXT,
            description=f"1-{MAX_TRANSACTION_DESC} printable characters",
        ),
    ]
    customer: Omittable[PushCustomer] = Field(
        default=None,
        description="optional: with an e-mail the customer gets the payment receipt (Omnisend)",
    )


@app.post(
    "/v1/mpesa/stk-push",
    summary="Prompt a customer's phone to pay with M-PESA (STK push)",
    description=(
        "Creates the payment and sends the STK push with your own Daraja credentials "
        "(`PUT /v1/providers/mpesa/credentials`) to your PayBill or Till. Answers 202 while the "
        "customer decides; the outcome arrives as the `payment.*` event and signed callback, and "
        "`GET /v1/payments/{payment_id}?refresh=true` asks Daraja on demand. A retry with the "
        "same Idempotency-Key resumes the same payment. A second push to a phone whose earlier "
        "prompt is still open (Daraja's 2-minute window) is 409 `duplicate_push` with "
        "Retry-After; Daraja's refusals are 422 `provider_rejected` with its `errorCode`."
    ),
    tags=["mpesa"],
    status_code=202,
    responses=api_responses(
        202,
        StkPushView,
        "The payment, pending while the customer answers the prompt",
        *BODY_ERRORS,
        409,
        429,
        502,
        503,
        *AUTHORIZED_ERRORS,
    ),
)
def create_stk_push(body: StkPushBody, idempotency_key: IdempotencyKey) -> StkPushView:
    tenant_id = tenant_id_of(app)
    request = StkPushInput(
        payable_type=body.payable_type,
        payable_id=body.payable_id,
        amount=body.amount,
        phone_number=body.phone_number,
        account_reference=body.account_reference,
        transaction_desc=body.transaction_desc,
        customer_email=body.customer.email if body.customer else None,
        customer_name=body.customer.name if body.customer else None,
    )
    result = run_idempotently(
        operation="stk_push",
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        body=body.model_dump(mode="json"),
        action=lambda: start_stk_push(tenant_id, request, idempotency_key),
        lambda_context=app.lambda_context,
    )
    return StkPushView.model_validate(result)


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
