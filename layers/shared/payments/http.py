"""The REST glue every API function shares: resolver factory, tenant context, error mapping.

Every client error leaves as ``{"error": {"code": "...", "message": "..."}}`` with the right
4xx; anything unexpected is a 500 carrying only a correlation id (the request id), and the
details go to the log under that id.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from payments.errors import PaymentsError, UnauthorizedError
from payments.money import MoneyError

logger = Logger(child=True)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    correlation_id: str | None = None,
) -> Response[dict[str, Any]]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    if correlation_id:
        error["correlation_id"] = correlation_id
    return Response(
        status_code=int(status), content_type=content_types.APPLICATION_JSON, body={"error": error}
    )


# pydantic error type -> our code. Anything else is `invalid_value`.
_VALIDATION_CODES = {
    "json_invalid": "invalid_json",
    "json_type": "invalid_json",
    "model_attributes_type": "invalid_json",
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "string_too_long": "value_too_long",
    "too_long": "value_too_long",
    "string_too_short": "value_too_short",
    "too_short": "value_too_short",
    "string_pattern_mismatch": "invalid_format",
    "greater_than": "value_out_of_range",
    "greater_than_equal": "value_out_of_range",
    "less_than": "value_out_of_range",
    "less_than_equal": "value_out_of_range",
    "literal_error": "invalid_value",
    "enum": "invalid_value",
}


def _validation_code(error_type: str) -> str:
    if error_type in _VALIDATION_CODES:
        return _VALIDATION_CODES[error_type]
    if error_type.endswith(("_type", "_parsing")):
        return "invalid_type"
    return "invalid_value"


def _validation_response(error: RequestValidationError) -> Response[dict[str, Any]]:
    errors = list(error.errors())
    details = [
        {
            "field": ".".join(str(part) for part in e.get("loc", ())[1:]) or "body",
            "in": str(e.get("loc", ("body",))[0]),
            "code": _validation_code(str(e.get("type", ""))),
        }
        for e in errors
    ]
    first = details[0] if details else {"code": "invalid_request", "in": "body", "field": "body"}
    # Unparseable JSON and bad query/path parameters are malformed requests (400); a body
    # that parses but does not fit the schema is unprocessable (422).
    malformed = first["code"] == "invalid_json" or first["in"] in {"query", "path", "header"}
    status = HTTPStatus.BAD_REQUEST if malformed else HTTPStatus.UNPROCESSABLE_ENTITY
    where = f"{first['in']} field '{first['field']}'"
    message = {
        "invalid_json": "request body is not valid JSON",
        "missing_field": f"{where} is required",
        "unknown_field": f"{where} is not allowed",
    }.get(first["code"], f"{where} is invalid ({first['code']})")
    return error_response(status, first["code"], message, details=details)


def create_resolver() -> APIGatewayRestResolver:
    """An API Gateway REST resolver with validation on and our one error mapping."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(PaymentsError)
    def _payments_error(error: PaymentsError) -> Response[dict[str, Any]]:
        return error_response(error.status, error.code, error.message)

    @app.exception_handler(MoneyError)
    def _money_error(error: MoneyError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, error.code, str(error))

    @app.exception_handler(RequestValidationError)
    def _validation_error(error: RequestValidationError) -> Response[dict[str, Any]]:
        return _validation_response(error)

    @app.not_found
    def _route_not_found(_: RouteNotFoundError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.NOT_FOUND, "route_not_found", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[dict[str, Any]]:
        correlation_id = correlation_id_of(app)
        logger.exception("unhandled error", extra={"correlation_id": correlation_id})
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "internal_error",
            f"internal error; quote correlation id {correlation_id}",
            correlation_id=correlation_id,
        )

    return app


def correlation_id_of(app: APIGatewayRestResolver) -> str:
    context = app.current_event.raw_event.get("requestContext") or {}
    return str(context.get("requestId") or "unknown")


def tenant_id_of(app: APIGatewayRestResolver) -> str:
    """The tenant the authorizer resolved for this request; never taken from the client."""
    context = app.current_event.raw_event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    tenant_id = authorizer.get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise UnauthorizedError("missing tenant context")
    return tenant_id
