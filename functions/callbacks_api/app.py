"""/v1/callbacks: merchants register endpoints for our signed callbacks and inspect deliveries."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from payments.api_models import (
    DeliveryPage,
    DeliveryRetryView,
    EndpointList,
    EndpointTestView,
    EndpointView,
    EndpointWithSecretView,
)
from payments.config import get_settings
from payments.domain.events import EventType
from payments.errors import PaymentsError
from payments.http import (
    AUTHORIZED_ERRORS,
    BODY_ERRORS,
    Omittable,
    PageCursor,
    PageLimit,
    api_responses,
    create_resolver,
    id_path,
    id_query,
    tenant_id_of,
)
from payments.observability import observed
from payments.services import callbacks

app = create_resolver()

EndpointId = Annotated[str, id_path("The endpoint's id (we_...)")]
DeliveryId = Annotated[str, id_path("The delivery's id (dlv_...)")]
TAGS = ["callbacks"]


class EndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[
        str,
        Field(
            min_length=1,
            max_length=2048,
            description="an https URL whose host resolves to public addresses only",
        ),
    ]
    event_types: Omittable[
        Annotated[
            list[EventType],
            Field(max_length=50, description="event types to send; left out or [] means all"),
        ]
    ] = []
    enabled: Omittable[Annotated[StrictBool, Field(description="true or false (default true)")]] = (
        True
    )


@app.post(
    "/v1/callbacks/endpoints",
    summary="Register a callback endpoint",
    description="The answer carries the endpoint's signing secret, shown this once only.",
    tags=TAGS,
    status_code=201,
    responses=api_responses(
        201,
        EndpointWithSecretView,
        "The endpoint and its secret",
        *BODY_ERRORS,
        *AUTHORIZED_ERRORS,
    ),
)
def register_endpoint(body: EndpointBody) -> EndpointWithSecretView:
    endpoint = callbacks.register_endpoint(
        tenant_id_of(app), body.url, [t.value for t in body.event_types or []], bool(body.enabled)
    )
    return EndpointWithSecretView.model_validate(endpoint)


@app.get(
    "/v1/callbacks/endpoints",
    summary="The tenant's callback endpoints (without secrets)",
    tags=TAGS,
    responses=api_responses(200, EndpointList, "The endpoints", *AUTHORIZED_ERRORS),
)
def list_endpoints() -> EndpointList:
    return EndpointList.model_validate({"data": callbacks.list_endpoints(tenant_id_of(app))})


@app.delete(
    "/v1/callbacks/endpoints/<endpoint_id>",
    summary="Delete a callback endpoint",
    description="Deliveries still pending for it end as endpoint_disabled.",
    tags=TAGS,
    status_code=204,
    responses=api_responses(204, None, "Deleted", 400, 404, *AUTHORIZED_ERRORS),
)
def delete_endpoint(endpoint_id: EndpointId) -> Response[None]:
    callbacks.delete_endpoint(tenant_id_of(app), endpoint_id)
    return Response(204)


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: Annotated[StrictBool, Field(description="true: send callbacks; false: stop")]


@app.patch(
    "/v1/callbacks/endpoints/<endpoint_id>",
    summary="Enable or disable a callback endpoint",
    description=(
        '`{"enabled": false}` stops deliveries to it (pending ones end as endpoint_disabled); '
        '`{"enabled": true}` switches it on again and clears `disabled_reason` (an endpoint '
        "we disabled after a 410 Gone included)."
    ),
    tags=TAGS,
    responses=api_responses(
        200, EndpointView, "The endpoint", 404, *BODY_ERRORS, *AUTHORIZED_ERRORS
    ),
)
def update_endpoint(endpoint_id: EndpointId, body: EndpointPatch) -> EndpointView:
    return EndpointView.model_validate(
        callbacks.set_endpoint_enabled(tenant_id_of(app), endpoint_id, bool(body.enabled))
    )


@app.post(
    "/v1/callbacks/endpoints/<endpoint_id>/test",
    summary="Send a test event (ping) to an endpoint",
    description=(
        "A real delivery of an event of type `ping` (`data`: `endpoint_id`, `sent_at`), signed "
        "and retried like any other (docs/callbacks.md) and listed in the deliveries. 409 "
        "endpoint_disabled for a disabled endpoint; rate-limited with manual retries."
    ),
    tags=TAGS,
    status_code=202,
    responses=api_responses(
        202, EndpointTestView, "Queued for delivery", 400, 404, 409, *AUTHORIZED_ERRORS
    ),
)
def test_endpoint(endpoint_id: EndpointId) -> EndpointTestView:
    return EndpointTestView.model_validate(
        callbacks.send_test_event(tenant_id_of(app), endpoint_id)
    )


@app.post(
    "/v1/callbacks/endpoints/<endpoint_id>/rotate-secret",
    summary="Rotate an endpoint's signing secret",
    description="For 24 hours every callback is signed with both the new and the old secret.",
    tags=TAGS,
    responses=api_responses(
        200,
        EndpointWithSecretView,
        "The endpoint with its new secret",
        400,
        404,
        *AUTHORIZED_ERRORS,
    ),
)
def rotate_secret(endpoint_id: EndpointId) -> EndpointWithSecretView:
    return EndpointWithSecretView.model_validate(
        callbacks.rotate_secret(tenant_id_of(app), endpoint_id)
    )


@app.get(
    "/v1/callbacks/deliveries",
    summary="What happened to one event at each endpoint, or the tenant's deliveries",
    description=(
        "With `event_id`: that event's delivery to each endpoint (or to `endpoint_id`), one "
        "whole page (`next_cursor` null). Without: the tenant's deliveries (kept 30 days), "
        "newest first, filtered by `status` and `endpoint_id`. Each with its attempts and "
        "`created_at`; the list is cursor-paginated (`next_cursor`; a page may hold fewer "
        "than `limit` and still have a cursor). `limit` and `cursor` are for the list only."
    ),
    tags=TAGS,
    responses=api_responses(200, DeliveryPage, "The deliveries", 400, *AUTHORIZED_ERRORS),
)
def list_deliveries(
    event_id: Annotated[str | None, id_query("The event's id (evt_...)")] = None,
    endpoint_id: Annotated[str | None, id_query("Only this endpoint's deliveries")] = None,
    status: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=32,
            pattern=r"^[a-z_]+$",
            description="pending, delivered, failed or endpoint_disabled (the list only)",
        ),
    ] = None,
    limit: PageLimit = None,
    cursor: PageCursor = None,
) -> DeliveryPage:
    tenant_id = tenant_id_of(app)
    if event_id is not None:
        if status is not None or limit is not None or cursor is not None:
            raise PaymentsError(
                "status, limit and cursor are for the list without event_id",
                code="invalid_query",
            )
        # The documented page, whole: one event has a delivery per endpoint at most.
        return DeliveryPage.model_validate(
            {
                "data": callbacks.list_deliveries(tenant_id, event_id, endpoint_id),
                "next_cursor": None,
            }
        )
    return DeliveryPage.model_validate(
        callbacks.list_tenant_deliveries(
            tenant_id,
            status=status,
            endpoint_id=endpoint_id,
            limit=limit or get_settings().default_page_size,
            cursor=cursor,
        )
    )


@app.post(
    "/v1/callbacks/deliveries/<delivery_id>/retry",
    summary="Send a delivery again now",
    description="Whatever its status; a failed delivery gets a fresh retry schedule.",
    tags=TAGS,
    status_code=202,
    responses=api_responses(
        202, DeliveryRetryView, "Queued for delivery", 400, 404, *AUTHORIZED_ERRORS
    ),
)
def retry_delivery(delivery_id: DeliveryId) -> DeliveryRetryView:
    return DeliveryRetryView.model_validate(
        callbacks.retry_delivery(tenant_id_of(app), delivery_id)
    )


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
