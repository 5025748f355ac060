"""/v1/callbacks: merchants register endpoints for our signed callbacks and inspect deliveries."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from payments.domain.events import EventType
from payments.http import create_resolver, tenant_id_of
from payments.services import callbacks

logger = Logger()
app = create_resolver()

Identifier = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


class EndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    event_types: Annotated[list[EventType], Field(max_length=50)] = []
    enabled: bool = True


@app.post("/v1/callbacks/endpoints")
def register_endpoint(body: EndpointBody) -> Response[dict[str, Any]]:
    endpoint = callbacks.register_endpoint(
        tenant_id_of(app), body.url, [t.value for t in body.event_types], body.enabled
    )
    return Response(201, content_types.APPLICATION_JSON, endpoint)


@app.get("/v1/callbacks/endpoints")
def list_endpoints() -> dict[str, Any]:
    return {"data": callbacks.list_endpoints(tenant_id_of(app))}


@app.delete("/v1/callbacks/endpoints/<endpoint_id>")
def delete_endpoint(endpoint_id: Identifier) -> Response[str]:
    callbacks.delete_endpoint(tenant_id_of(app), endpoint_id)
    return Response(204, content_types.APPLICATION_JSON, "")


@app.post("/v1/callbacks/endpoints/<endpoint_id>/rotate-secret")
def rotate_secret(endpoint_id: Identifier) -> dict[str, Any]:
    return callbacks.rotate_secret(tenant_id_of(app), endpoint_id)


@app.get("/v1/callbacks/deliveries")
def list_deliveries(
    event_id: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")],
    endpoint_id: Annotated[
        str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    ] = None,
) -> dict[str, Any]:
    return {"data": callbacks.list_deliveries(tenant_id_of(app), event_id, endpoint_id)}


@app.post("/v1/callbacks/deliveries/<delivery_id>/retry")
def retry_delivery(delivery_id: Identifier) -> Response[dict[str, Any]]:
    result = callbacks.retry_delivery(tenant_id_of(app), delivery_id)
    return Response(202, content_types.APPLICATION_JSON, result)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
