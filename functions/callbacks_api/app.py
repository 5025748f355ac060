"""/v1/callbacks: merchants register endpoints for our signed callbacks and inspect deliveries."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from payments.api_models import (
    DeliveryList,
    DeliveryRetryView,
    EndpointList,
    EndpointWithSecretView,
)
from payments.domain.events import EventType
from payments.http import (
    AUTHORIZED_ERRORS,
    BODY_ERRORS,
    Omittable,
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
    summary="What happened to one event at each endpoint",
    tags=TAGS,
    responses=api_responses(200, DeliveryList, "The deliveries", 400, *AUTHORIZED_ERRORS),
)
def list_deliveries(
    event_id: Annotated[str, id_query("The event's id (evt_...)")],
    endpoint_id: Annotated[str | None, id_query("Only this endpoint's delivery")] = None,
) -> DeliveryList:
    return DeliveryList.model_validate(
        {"data": callbacks.list_deliveries(tenant_id_of(app), event_id, endpoint_id)}
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
