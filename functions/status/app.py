"""GET /v1/payments/{payment_id}[?refresh=true], GET /v1/payments (of one payable, by provider
reference, or the tenant's, filtered and searched), GET /v1/payments/export (CSV),
GET /v1/payments/{payment_id}/activity and GET /v1/reports."""

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.api_models import PaymentActivityView, PaymentDetailView, PaymentPage, ReportView
from payments.config import get_settings
from payments.errors import NotFoundError, PaymentsError
from payments.http import (
    AUTHORIZED_ERRORS,
    PAYABLE_PATTERN,
    RFC3339_PATTERN,
    PageLimit,
    api_responses,
    create_resolver,
    id_path,
    parse_instant,
    tenant_id_of,
)
from payments.observability import observed
from payments.services import payment_search, status

app = create_resolver()

PaymentId = Annotated[str, id_path("The payment's id (pay_...)")]
_NAME = r"^[a-z][a-z0-9_]*$"
StatusFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=32, pattern=_NAME, description="Only this status, e.g. failed"),
]
ProviderFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=32, pattern=_NAME, description="Only this provider, e.g. mpesa"),
]
CurrencyFilter = Annotated[
    str | None,
    Query(
        min_length=2,
        max_length=16,
        pattern=r"^[A-Za-z0-9]+$",
        description="Only this currency, e.g. KES (any case)",
    ),
]
CreatedFrom = Annotated[
    str | None,
    Query(
        max_length=40,
        pattern=RFC3339_PATTERN,
        json_schema_extra={"format": "date-time"},
        description="Only payments created at or after this time (RFC 3339 with a time zone)",
    ),
]
CreatedTo = Annotated[
    str | None,
    Query(
        max_length=40,
        pattern=RFC3339_PATTERN,
        json_schema_extra={"format": "date-time"},
        description="Only payments created before this time (RFC 3339 with a time zone)",
    ),
]
SearchQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=payment_search.MAX_QUERY_LENGTH,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description=(
            "Search: a payment id (pay_...), a provider reference, a payable id or a "
            "customer e-mail (any case)"
        ),
    ),
]


def _filters(
    status_filter: str | None,
    provider: str | None,
    payable_type: str | None,
    currency: str | None,
    created_from: str | None,
    created_to: str | None,
) -> payment_search.PaymentFilters:
    from payments.domain.states import PaymentStatus

    if status_filter is not None and status_filter not in {s.value for s in PaymentStatus}:
        raise PaymentsError(f"no payment status {status_filter}", code="invalid_query", status=400)
    return payment_search.PaymentFilters(
        status=status_filter,
        provider=provider,
        payable_type=payable_type,
        currency=currency.upper() if currency else None,
        created_from=parse_instant(created_from, "created_from"),
        created_to=parse_instant(created_to, "created_to"),
    )


CSV_COLUMNS = (
    "payment_id",
    "created_at",
    "status",
    "provider",
    "payable_type",
    "payable_id",
    "currency",
    "amount",
    "amount_captured",
    "amount_refunded",
    "provider_reference",
    "description",
)
# What a spreadsheet would take for a formula (CSV injection): such a cell gets a leading '.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


@app.get(
    "/v1/payments/export",
    summary="The tenant's payments as CSV",
    description=(
        "The same filters and search `q` as the tenant's list (GET /v1/payments without "
        "payable_id or provider_reference), newest first, as `text/csv` (UTF-8) with the "
        "columns payment_id, created_at, status, provider, payable_type, payable_id, currency, "
        "amount, amount_captured, amount_refunded, provider_reference, description (amounts as "
        "the API gives them). A cell that starts with = + - @, a tab or a carriage return is "
        "prefixed with ' (no spreadsheet formula). At most 10 000 rows; `X-Truncated: true` "
        "when more matched."
    ),
    tags=["payments"],
    responses=api_responses(
        200,
        None,
        "The payments, one row each, after a header row",
        400,
        *AUTHORIZED_ERRORS,
        media={"text/csv": {"type": "string"}},
    ),
)
def export_payments(
    status_filter: Annotated[
        str | None,
        Query(
            alias="status",
            min_length=1,
            max_length=32,
            pattern=_NAME,
            description="Only this status",
        ),
    ] = None,
    provider: ProviderFilter = None,
    payable_type: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=PAYABLE_PATTERN,
            description="Only this type of your objects, e.g. booking",
        ),
    ] = None,
    currency: CurrencyFilter = None,
    created_from: CreatedFrom = None,
    created_to: CreatedTo = None,
    q: SearchQuery = None,
) -> Response[str]:
    tenant_id = tenant_id_of(app)
    rows, truncated = payment_search.export_payments(
        tenant_id,
        _filters(status_filter, provider, payable_type, currency, created_from, created_to),
        q=q,
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [csv_cell(row.get(column)) for column in CSV_COLUMNS[:-2]]
            + [
                csv_cell(row.get("provider_reference")),
                csv_cell(row.get("description")),
            ]
        )
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    headers = {
        "Content-Disposition": f'attachment; filename="payments-{today}.csv"',
        "Cache-Control": "no-store",
    }
    if truncated:
        headers["X-Truncated"] = "true"
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=out.getvalue(),
        headers=headers,
    )


@app.get(
    "/v1/payments/<payment_id>",
    summary="A payment with its refunds and history",
    description=(
        "Read with one strongly consistent query. Another tenant's payment is a 404. With "
        "`refresh=true`, an open payment is first settled from its provider's own answer (an "
        "M-PESA STK query, say), through the same path as the provider's notification, for "
        "portals that poll; `refresh` in the answer says what that did. Refreshes are "
        "rate-limited per tenant (429 with Retry-After)."
    ),
    tags=["payments"],
    responses=api_responses(
        200, PaymentDetailView, "The payment", 400, 404, 429, *AUTHORIZED_ERRORS
    ),
)
def get_payment(
    payment_id: PaymentId,
    refresh: Annotated[
        bool, Query(description="Ask the provider first when the payment is open")
    ] = False,
) -> PaymentDetailView:
    tenant_id = tenant_id_of(app)
    view = (
        status.refreshed_payment_status(tenant_id, payment_id)
        if refresh
        else status.payment_status(tenant_id, payment_id)
    )
    if view is None:
        raise NotFoundError(f"no payment {payment_id}", code="payment_not_found")
    return PaymentDetailView.model_validate(view)


@app.get(
    "/v1/payments",
    summary="The tenant's payments (newest first, filtered, searched), those of one payable "
    "object, or the one a provider reference names",
    description=(
        "Three modes. `payable_type` with `payable_id`: that object's payments (cursor "
        "pagination: pass `next_cursor` back as `cursor` until it is null). "
        "`provider_reference` alone: the provider's id of the payment (an M-PESA "
        "CheckoutRequestID `ws_CO_...`, a Stripe Checkout Session id), a page of at most one. "
        "Neither: all the tenant's payments, newest first, with the filters `status`, "
        "`provider`, `payable_type`, `currency`, `created_from` (inclusive), `created_to` "
        "(exclusive) and the search `q` (a payment id, a provider reference, a payable id or "
        "a customer e-mail, any case); a page may hold fewer than `limit` (even none) and "
        "still have a cursor when the read budget ran out: follow `next_cursor` until it is "
        "null. The list looks back to the tenant's creation, at most 400 days. "
        "`payable_id` without `payable_type` is 400 `missing_field`; `provider_reference` "
        "with anything else, 400 `invalid_query`."
    ),
    tags=["payments"],
    responses=api_responses(200, PaymentPage, "One page of payments", 400, 422, *AUTHORIZED_ERRORS),
)
def list_payments(
    payable_type: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=PAYABLE_PATTERN,
            description="Your object's type, e.g. booking",
        ),
    ] = None,
    payable_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=128,
            pattern=PAYABLE_PATTERN,
            description="Your object's id, e.g. bk_1001",
        ),
    ] = None,
    provider_reference: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            pattern=PAYABLE_PATTERN,
            description="The provider's id of the payment, e.g. ws_CO_...",
        ),
    ] = None,
    limit: PageLimit = None,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=2048,
            description="The previous page's next_cursor, for this same query only",
        ),
    ] = None,
    status_filter: Annotated[
        str | None,
        Query(
            alias="status",
            min_length=1,
            max_length=32,
            pattern=_NAME,
            description="Only this status, e.g. failed (the tenant's list only)",
        ),
    ] = None,
    provider: ProviderFilter = None,
    currency: CurrencyFilter = None,
    created_from: CreatedFrom = None,
    created_to: CreatedTo = None,
    q: SearchQuery = None,
) -> PaymentPage:
    tenant_id = tenant_id_of(app)
    listing = (status_filter, provider, currency, created_from, created_to, q)
    if provider_reference is not None:
        if (
            payable_type is not None
            or payable_id is not None
            or cursor is not None
            or any(value is not None for value in listing)
        ):
            raise PaymentsError(
                "provider_reference is used alone", code="invalid_query", status=400
            )
        return PaymentPage.model_validate(
            status.payments_by_provider_reference(tenant_id, provider_reference)
        )
    if payable_id is None:
        return PaymentPage.model_validate(
            payment_search.list_payments(
                tenant_id,
                _filters(status_filter, provider, payable_type, currency, created_from, created_to),
                q=q,
                limit=limit or get_settings().default_page_size,
                cursor=cursor,
            )
        )
    if payable_type is None:
        raise PaymentsError(
            "payable_id needs payable_type (or leave both out to list every payment)",
            code="missing_field",
            status=400,
        )
    if any(value is not None for value in listing):
        raise PaymentsError(
            "the filters and q are for the tenant's list, not with payable_id",
            code="invalid_query",
            status=400,
        )
    page = status.payments_for_payable(
        tenant_id,
        payable_type,
        payable_id,
        limit=limit or get_settings().default_page_size,
        cursor=cursor,
    )
    return PaymentPage.model_validate(page)


@app.get(
    "/v1/payments/<payment_id>/activity",
    summary="Everything that happened to a payment",
    description=(
        "The payment (as GET /v1/payments/{id}), its customer, amounts (captured, refunded, "
        "pending, refundable), ledger entries, the provider notifications that moved it (open "
        "one's raw payload with GET /v1/webhooks/inbox/{id}), and its outbox events (kept a "
        "week) with each callback delivery and its attempts. Another tenant's payment is 404 "
        "payment_not_found."
    ),
    tags=["payments"],
    responses=api_responses(
        200, PaymentActivityView, "The payment's activity", 400, 404, *AUTHORIZED_ERRORS
    ),
)
def payment_activity(payment_id: PaymentId) -> PaymentActivityView:
    from payments.services.activity import payment_activity as activity

    view = activity(tenant_id_of(app), payment_id)
    if view is None:
        raise NotFoundError(f"no payment {payment_id}", code="payment_not_found")
    return PaymentActivityView.model_validate(view)


DayQuery = Annotated[
    str | None,
    Query(
        min_length=10,
        max_length=10,
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        json_schema_extra={"format": "date"},
        description="A UTC day, YYYY-MM-DD",
    ),
]


@app.get(
    "/v1/reports",
    summary="Payments per day, provider and currency, with totals and rates",
    description=(
        "For the UTC days `from` to `to` (inclusive, at most 92; default the last 30 days): "
        "per day (of the payments' creation), provider and currency, how many payments, how "
        "many were captured (succeeded) and failed, the volume (sum of amount_captured) and the "
        "refunded sum; totals per provider and currency with the success rate (captured / "
        "count) and refund rate (refunded / volume). Only days with payments have rows. "
        "`truncated` is true when the report's read budget ran out before the oldest day "
        "(docs/dashboard-api.md). Bad dates or range: 400 invalid_query."
    ),
    tags=["payments"],
    responses=api_responses(200, ReportView, "The report", 400, *AUTHORIZED_ERRORS),
)
def get_report(
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            min_length=10,
            max_length=10,
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            json_schema_extra={"format": "date"},
            description="The first UTC day, YYYY-MM-DD (default 29 days before `to`)",
        ),
    ] = None,
    to: DayQuery = None,
) -> ReportView:
    from payments.services import reports

    return ReportView.model_validate(
        reports.report(
            tenant_id_of(app),
            first=reports.parse_day(from_, "from"),
            last=reports.parse_day(to, "to"),
        )
    )


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
