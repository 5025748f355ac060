"""/v1/webhooks: what a tenant can see of the webhooks its providers send: their health per
provider, daily statistics, and the inbox of what arrived (with one event's raw payload).

Read-only, scoped to the caller's tenant (docs/webhooks.md has the rules and the numbers'
exactness).
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.api_models import (
    InboxEntryDetailView,
    InboxPage,
    WebhookHealthList,
    WebhookStatsList,
)
from payments.config import get_settings
from payments.http import (
    AUTHORIZED_ERRORS,
    RFC3339_PATTERN,
    PageCursor,
    PageLimit,
    api_responses,
    create_resolver,
    parse_instant,
    tenant_id_of,
)
from payments.observability import observed
from payments.services import webhook_stats

app = create_resolver()

TAGS = ["webhooks"]
ProviderQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=32,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Only this provider (one that sends webhooks, e.g. stripe, mpesa)",
    ),
]


@app.get(
    "/v1/webhooks/health",
    summary="The health of each provider's webhooks for this tenant",
    description=(
        "Per provider that sends webhooks: the last delivery received, accepted and rejected "
        "(with the reason), the share accepted over the last hour and day, and a status: "
        "silent (nothing in 24 h), failing (nothing accepted in the last hour though "
        "deliveries came, or none all day), degraded (under 95% accepted over the hour or "
        "the day), else healthy (docs/webhooks.md)."
    ),
    tags=TAGS,
    responses=api_responses(200, WebhookHealthList, "Each provider's health", *AUTHORIZED_ERRORS),
)
def get_health() -> WebhookHealthList:
    return WebhookHealthList.model_validate(webhook_stats.webhook_health(tenant_id_of(app)))


@app.get(
    "/v1/webhooks/stats",
    summary="Daily webhook statistics per provider",
    description=(
        "Per provider and UTC day (oldest first, today last): deliveries received, and how "
        "each ended (applied, duplicate, ignored, rejected, the rejections by reason), with "
        "the median and 95th percentile processing time. Kept 35 days. 400 invalid_query for "
        "days out of range, unknown_provider / webhooks_not_supported for provider."
    ),
    tags=TAGS,
    responses=api_responses(200, WebhookStatsList, "The statistics", 400, *AUTHORIZED_ERRORS),
)
def get_stats(
    days: Annotated[
        int,
        Query(ge=1, le=webhook_stats.MAX_DAYS, description="How many days, 1-35 (default 7)"),
    ] = webhook_stats.DEFAULT_DAYS,
    provider: ProviderQuery = None,
) -> WebhookStatsList:
    return WebhookStatsList.model_validate(
        webhook_stats.webhook_daily_stats(tenant_id_of(app), days=days, provider=provider)
    )


@app.get(
    "/v1/webhooks/inbox",
    summary="What providers sent this tenant, newest first",
    description=(
        "Accepted, ignored and rejected deliveries as recorded (rejections within the storage "
        "allowance), without their payloads: GET /v1/webhooks/inbox/{id} has one's raw body. "
        "Filters: provider, status (accepted, ignored, rejected; a duplicate is not recorded "
        "again, it is counted in GET /v1/webhooks/stats and health), reason (exact), since "
        "(inclusive) and until (exclusive). "
        "Cursor pagination: pass `next_cursor` back as `cursor` (with the same filters) until "
        "it is null."
    ),
    tags=TAGS,
    responses=api_responses(200, InboxPage, "One page of the inbox", 400, *AUTHORIZED_ERRORS),
)
def list_inbox(
    provider: ProviderQuery = None,
    status: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=16,
            pattern=r"^[a-z]+$",
            description="accepted, ignored or rejected",
        ),
    ] = None,
    since: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=RFC3339_PATTERN,
            json_schema_extra={"format": "date-time"},
            description="Only what arrived at or after this time (RFC 3339 with a time zone)",
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=RFC3339_PATTERN,
            json_schema_extra={"format": "date-time"},
            description="Only what arrived before this time (RFC 3339 with a time zone)",
        ),
    ] = None,
    reason: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=500,
            pattern=r"^[^\x00-\x1f\x7f]+$",
            description="Only entries with exactly this reason, e.g. invalid_signature",
        ),
    ] = None,
    limit: PageLimit = None,
    cursor: PageCursor = None,
) -> InboxPage:
    return InboxPage.model_validate(
        webhook_stats.inbox_page(
            tenant_id_of(app),
            provider=provider,
            status=status,
            since=parse_instant(since, "since"),
            limit=limit or get_settings().default_page_size,
            cursor=cursor,
            reason=reason,
            until=parse_instant(until, "until"),
        )
    )


@app.get(
    "/v1/webhooks/inbox/<entry_id>",
    summary="One delivery from the inbox, with its raw payload",
    description="Another tenant's entry, or an id that is no entry, is 404 inbox_entry_not_found.",
    tags=TAGS,
    responses=api_responses(
        200, InboxEntryDetailView, "The entry and its payload", 400, 404, *AUTHORIZED_ERRORS
    ),
)
def get_inbox_entry(
    entry_id: Annotated[
        str,
        Path(
            min_length=5,
            max_length=512,
            pattern=r"^ibx_[A-Za-z0-9_\-]+$",
            description="The entry's id (ibx_...)",
        ),
    ],
) -> InboxEntryDetailView:
    return InboxEntryDetailView.model_validate(
        webhook_stats.inbox_entry(tenant_id_of(app), entry_id)
    )


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
