"""NEO Bank customer profiles: POST /v1/profiles registers a buyer with the bank (a signed
request; the bank answers a CPRN, pending or verified), GET /v1/profiles/{id}, GET
/v1/profiles?external_customer_id= and GET /v1/profiles/{id}/balance (from the ledger)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from payments.api_models import ProfileBalanceView, ProfilePage, ProfileView
from payments.http import (
    AUTHORIZED_ERRORS,
    BODY_ERRORS,
    IdempotencyKey,
    api_responses,
    create_resolver,
    id_path,
    tenant_id_of,
)
from payments.idempotency import run_idempotently
from payments.observability import observed
from payments.services import profiles

app = create_resolver()

ProfileId = Annotated[str, id_path("The profile's id (prf_...)")]


class ProfileBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_customer_id: Annotated[
        str,
        Field(
            pattern="^" + profiles.EXTERNAL_ID_PATTERN + "$",
            description="your app's id of the buyer (1-128 letters, digits, _ . : @ -)",
        ),
    ]
    email: Annotated[
        str,
        Field(max_length=254, pattern="^" + profiles.EMAIL_PATTERN + "$", description="e-mail"),
    ]
    name: Annotated[
        str, Field(min_length=1, max_length=200, pattern=r"^\S.*$", description="the buyer")
    ]
    wallet_address: Annotated[
        str,
        Field(
            pattern=r"^0x[0-9a-fA-F]{40}$",
            description="an Ethereum address; mixed case must be its EIP-55 checksum",
        ),
    ]


@app.post(
    "/v1/profiles",
    summary="Register a buyer with NEO Bank",
    description=(
        "Registers the customer with the bank (a request signed with your key) and stores the "
        "profile with the bank's CPRN. The bank may answer `pending`: `verified` then arrives "
        "by its webhook (`profile.verified`). One profile per external customer id: another "
        "is 409 `profile_exists`. A mixed-case wallet address that is not its EIP-55 checksum "
        "is 422 `invalid_profile`. Answers 201; a retry with the same Idempotency-Key answers "
        "the same profile."
    ),
    tags=["profiles"],
    status_code=201,
    responses=api_responses(
        201, ProfileView, "The profile", *BODY_ERRORS, 409, 502, 503, *AUTHORIZED_ERRORS
    ),
)
def create_profile(body: ProfileBody, idempotency_key: IdempotencyKey) -> ProfileView:
    tenant_id = tenant_id_of(app)
    result = run_idempotently(
        operation="profile",
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        body=body.model_dump(mode="json"),
        action=lambda: profiles.register_profile(
            tenant_id=tenant_id, **body.model_dump()
        ).public_view(),
        lambda_context=app.lambda_context,
    )
    return ProfileView.model_validate(result)


@app.get(
    "/v1/profiles",
    summary="The profile of one of your customers",
    description="By `external_customer_id`: a page of at most one.",
    tags=["profiles"],
    responses=api_responses(200, ProfilePage, "The profiles", 400, 422, *AUTHORIZED_ERRORS),
)
def find_profiles(
    external_customer_id: Annotated[
        str,
        Query(
            pattern="^" + profiles.EXTERNAL_ID_PATTERN + "$",
            description="your app's id of the buyer",
        ),
    ],
) -> ProfilePage:
    found = profiles.find_profile(tenant_id_of(app), external_customer_id)
    return ProfilePage.model_validate({"data": [found.public_view()] if found else []})


@app.get(
    "/v1/profiles/<profile_id>",
    summary="One profile",
    tags=["profiles"],
    responses=api_responses(200, ProfileView, "The profile", 400, 404, 422, *AUTHORIZED_ERRORS),
)
def get_profile(profile_id: ProfileId) -> ProfileView:
    return ProfileView.model_validate(
        profiles.get_profile(tenant_id_of(app), profile_id).public_view()
    )


@app.get(
    "/v1/profiles/<profile_id>/balance",
    summary="A customer's balances, per currency, from the ledger",
    description=(
        "`cleared`: cleared by the bank, not yet settled; `settled`: settled (T+2), plus any "
        "operator adjustment. Each is the balance of the customer's ledger account, which "
        "`ledger verify` proves equal to the sum of its journal lines."
    ),
    tags=["profiles"],
    responses=api_responses(
        200, ProfileBalanceView, "The balances", 400, 404, 422, *AUTHORIZED_ERRORS
    ),
)
def get_balance(profile_id: ProfileId) -> ProfileBalanceView:
    balances = profiles.profile_balance(tenant_id_of(app), profile_id)
    return ProfileBalanceView.model_validate(
        {"profile_id": profile_id, "balances": [balance.view() for balance in balances]}
    )


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
