"""/v1/admin: the platform operator's API, across tenants (operator keys only).

The authorizer lets only operator keys (``opk_...``) reach these routes and denies them to
merchant keys; each route checks the caller is an operator again (``operator_of``). Every
request, reads and refusals included, is written to the audit log by the handler's wrapper
(``admin.audited``) before its route runs: no route can forget it.
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from payments.api_models import (
    AdminSearchResult,
    AdminWebhookHealthList,
    AuditPage,
    DeadLetterQueueList,
    IssuedApiKeyView,
    LedgerVerifyView,
    OperatorMeView,
    ReplayView,
    TenantList,
    TenantView,
)
from payments.config import get_settings
from payments.http import (
    AUTHORIZED_ERRORS,
    BODY_ERRORS,
    PageCursor,
    PageLimit,
    api_responses,
    create_resolver,
    operator_of,
)
from payments.observability import observed
from payments.services import admin

app = create_resolver()

TAGS = ["operator"]
TENANT_ID_PATTERN = r"^ten_[A-Za-z0-9_\-]{1,60}$"
TenantIdPath = Annotated[
    str,
    Path(
        min_length=5, max_length=64, pattern=TENANT_ID_PATTERN, description="The tenant (ten_...)"
    ),
]
# No control characters: a name is shown in listings, logs and the dashboard.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]+$"
OPERATOR_ERRORS = (*AUTHORIZED_ERRORS, 503)

# Every route by "<METHOD> <API Gateway resource>": the audit log's `action`. A test holds this,
# the routes below and template.yaml's AdminFunction events together.
ACTIONS = {
    "GET /v1/admin/me": "me",
    "GET /v1/admin/tenants": "list_tenants",
    "POST /v1/admin/tenants": "create_tenant",
    "POST /v1/admin/tenants/{tenant_id}/suspend": "suspend_tenant",
    "POST /v1/admin/tenants/{tenant_id}/activate": "activate_tenant",
    "POST /v1/admin/tenants/{tenant_id}/api-keys": "issue_api_key",
    "GET /v1/admin/search": "search",
    "GET /v1/admin/webhooks/health": "webhooks_health",
    "GET /v1/admin/dlq": "list_dlqs",
    "POST /v1/admin/dlq/{name}/replay": "replay_dlq",
    "POST /v1/admin/ledger/verify": "verify_ledger",
    "GET /v1/admin/audit": "list_audit",
}


class CreateTenantBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=100,
            pattern=TEXT_PATTERN,
            description="the merchant's name, 1-100 characters (no control characters)",
        ),
    ]


class LedgerVerifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # null is a value here (every tenant), so not Omittable.
    tenant_id: Annotated[
        str | None,
        Field(
            min_length=5,
            max_length=64,
            pattern=TENANT_ID_PATTERN,
            description="only this tenant (ten_...); null or left out: every tenant",
        ),
    ] = None


@app.get(
    "/v1/admin/me",
    summary="The operator this key belongs to",
    tags=TAGS,
    responses=api_responses(200, OperatorMeView, "The operator", *OPERATOR_ERRORS),
)
def me() -> OperatorMeView:
    operator = operator_of(app)
    return OperatorMeView(
        operator_id=operator.operator_id, name=operator.name, key_id=operator.key_id
    )


@app.get(
    "/v1/admin/tenants",
    summary="Every tenant, with its API keys (ids only)",
    tags=TAGS,
    responses=api_responses(200, TenantList, "The tenants, oldest first", *OPERATOR_ERRORS),
)
def list_tenants() -> TenantList:
    operator_of(app)
    return TenantList.model_validate(admin.list_tenants())


@app.post(
    "/v1/admin/tenants",
    summary="Create a tenant",
    description="An active tenant with its usage key in the default usage plan, and no API "
    "key yet: POST /v1/admin/tenants/{tenant_id}/api-keys issues one.",
    tags=TAGS,
    status_code=201,
    responses=api_responses(201, TenantView, "The new tenant", *BODY_ERRORS, *OPERATOR_ERRORS),
)
def create_tenant(body: CreateTenantBody) -> TenantView:
    operator_of(app)
    return TenantView.model_validate(admin.create_tenant(body.name.strip() or body.name))


@app.post(
    "/v1/admin/tenants/<tenant_id>/suspend",
    summary="Suspend a tenant",
    description="Every API key of the tenant is refused (401) from now on, at the latest when "
    "API Gateway's 300 s authorizer cache expires. 404 tenant_not_found.",
    tags=TAGS,
    responses=api_responses(200, TenantView, "The tenant", 400, 404, *OPERATOR_ERRORS),
)
def suspend_tenant(tenant_id: TenantIdPath) -> TenantView:
    operator_of(app)
    return TenantView.model_validate(admin.set_tenant_status(tenant_id, "suspended"))


@app.post(
    "/v1/admin/tenants/<tenant_id>/activate",
    summary="Activate a suspended tenant",
    description="Its keys that are not revoked work again. 404 tenant_not_found.",
    tags=TAGS,
    responses=api_responses(200, TenantView, "The tenant", 400, 404, *OPERATOR_ERRORS),
)
def activate_tenant(tenant_id: TenantIdPath) -> TenantView:
    operator_of(app)
    return TenantView.model_validate(admin.set_tenant_status(tenant_id, "active"))


@app.post(
    "/v1/admin/tenants/<tenant_id>/api-keys",
    summary="Issue an API key for a tenant",
    description="The key is in the answer this once; only its SHA-256 is stored. 404 "
    "tenant_not_found; 409 tenant_suspended.",
    tags=TAGS,
    status_code=201,
    responses=api_responses(
        201, IssuedApiKeyView, "The key, shown once", 400, 404, 409, *OPERATOR_ERRORS
    ),
)
def issue_api_key(tenant_id: TenantIdPath) -> IssuedApiKeyView:
    operator_of(app)
    return IssuedApiKeyView.model_validate(admin.issue_api_key(tenant_id))


@app.get(
    "/v1/admin/search",
    summary="Find a payment in any tenant",
    description="`q` is a payment id (pay_...) or a provider reference (a Checkout Session "
    "id, an M-PESA CheckoutRequestID...); at most 50 matches.",
    tags=TAGS,
    responses=api_responses(200, AdminSearchResult, "The matches", 400, *OPERATOR_ERRORS),
)
def search(
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=256,
            pattern=TEXT_PATTERN,
            description="What to look for, 1-256 characters",
        ),
    ],
) -> AdminSearchResult:
    operator_of(app)
    return AdminSearchResult.model_validate(admin.search(q.strip() or q))


@app.get(
    "/v1/admin/webhooks/health",
    summary="Every tenant's webhook health per provider",
    description="What GET /v1/webhooks/health shows each tenant, for all of them.",
    tags=TAGS,
    responses=api_responses(200, AdminWebhookHealthList, "Health by tenant", *OPERATOR_ERRORS),
)
def webhooks_health() -> AdminWebhookHealthList:
    operator_of(app)
    return AdminWebhookHealthList.model_validate(admin.webhooks_health())


@app.get(
    "/v1/admin/dlq",
    summary="The dead-letter queues and how many messages wait in each",
    tags=TAGS,
    responses=api_responses(200, DeadLetterQueueList, "The queues", *OPERATOR_ERRORS),
)
def list_dlqs() -> DeadLetterQueueList:
    operator_of(app)
    return DeadLetterQueueList.model_validate(admin.dead_letter_queues())


@app.post(
    "/v1/admin/dlq/<name>/replay",
    summary="Re-drive a dead-letter queue",
    description="callbacks: every failed delivery gets a fresh retry schedule (as `payctl "
    "callbacks replay`). notify and outbox have no replay: 409 not_replayable.",
    tags=TAGS,
    responses=api_responses(200, ReplayView, "What was replayed", 400, 404, 409, *OPERATOR_ERRORS),
)
def replay_dlq(
    name: Annotated[
        str,
        Path(pattern=r"^(callbacks|notify|outbox)$", description="callbacks, notify or outbox"),
    ],
) -> ReplayView:
    operator_of(app)
    return ReplayView.model_validate(admin.replay_dead_letter_queue(name))


@app.post(
    "/v1/admin/ledger/verify",
    summary="Prove the ledger: every balance equals its journal, every entry balances",
    description="As `payctl ledger verify`, for one tenant or all. 404 tenant_not_found.",
    tags=TAGS,
    responses=api_responses(
        200, LedgerVerifyView, "The check, per tenant", 404, *BODY_ERRORS, *OPERATOR_ERRORS
    ),
)
def verify_ledger(body: LedgerVerifyBody) -> LedgerVerifyView:
    operator_of(app)
    return LedgerVerifyView.model_validate(admin.verify(body.tenant_id))


@app.get(
    "/v1/admin/audit",
    summary="The audit log of the operator API, newest first",
    description="One entry per request to /v1/admin/... (this one included): who, what, when "
    "and the answer's status; kept 400 days. Pass `next_cursor` back as `cursor` until null.",
    tags=TAGS,
    responses=api_responses(200, AuditPage, "One page of the log", 400, *OPERATOR_ERRORS),
)
def list_audit(
    limit: PageLimit = None,
    cursor: PageCursor = None,
) -> AuditPage:
    operator_of(app)
    return AuditPage.model_validate(
        admin.audit_page(limit=limit or get_settings().default_page_size, cursor=cursor)
    )


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return admin.audited(app.resolve, event, context, actions=ACTIONS)
