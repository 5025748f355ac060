"""The REST glue every API function shares: resolver factory, tenant context, error mapping.

Every client error leaves as ``{"error": {"code": "...", "message": "..."}}`` with the right
4xx; anything unexpected is a 500 carrying only a correlation id (the request id), and the
details go to the log under that id.

Before a route sees a request, :class:`PaymentsResolver` screens its raw body the same way for
every route, present and future: a body that is not JSON (by content type, encoding, syntax,
size or nesting depth) is refused with a specific 4xx, so no parser deep inside a handler can
turn a client's bytes into a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from payments.api_models import ErrorBody
from payments.auth_context import (
    OperatorContext,
    authorizer_context,
    is_operator,
    operator_context,
)
from payments.errors import ForbiddenError, InvalidQueryError, PaymentsError, UnauthorizedError
from payments.logs import function_logger
from payments.money import MoneyError

# A JSON request body larger than this is refused (413) before it is parsed; the largest
# legitimate body (a checkout with full metadata) is about a third of it.
MAX_JSON_BODY_BYTES = 64 * 1024
# Deeper nesting than this is refused (400): no route takes more than three levels, and
# recursive parsers must never meet attacker-chosen depth.
MAX_JSON_DEPTH = 32
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


# --- request screening ---------------------------------------------------------------------


def screened_event(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event with a body that is safe to parse as JSON; raises PaymentsError (a 4xx) when
    the body cannot be one.

    An absent body on a write becomes ``{}``, so the route's own schema says what is missing
    (and a refund of "all that remains" needs no body at all).
    """
    if str(event.get("httpMethod", "")).upper() not in _BODY_METHODS:
        return event
    raw = event.get("body")
    if raw is None or raw == "":
        return {**event, "body": "{}", "isBase64Encoded": False}
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(str(raw), validate=True)
        except (binascii.Error, ValueError):
            raise PaymentsError(
                "the request body is not valid base64", code="invalid_encoding"
            ) from None
    else:
        data = str(raw).encode("utf-8", errors="surrogatepass")
    if len(data) > MAX_JSON_BODY_BYTES:
        raise PaymentsError(
            f"the request body is larger than {MAX_JSON_BODY_BYTES} bytes",
            code="payload_too_large",
            status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        )
    media_type, _, parameters = _header(event, "content-type").partition(";")
    charset = _charset(parameters)
    if not _is_json_media_type(media_type) or charset not in {None, "utf-8", "utf8"}:
        raise PaymentsError(
            "send the body as JSON with the header Content-Type: application/json",
            code="unsupported_media_type",
            status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PaymentsError("the request body is not UTF-8 text", code="invalid_encoding") from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise PaymentsError(
            f"the request body nests deeper than {MAX_JSON_DEPTH} levels",
            code="nesting_too_deep",
        )
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        # ValueError covers malformed JSON, NaN/Infinity and integers beyond Python's
        # digit limit; none of them is JSON a route could take.
        raise PaymentsError("the request body is not valid JSON", code="invalid_json") from None
    # Checked above: JSON in UTF-8, whatever spelling the client used. Powertools' validation
    # recognises only the plain media type.
    screened = {**event, "body": text, "isBase64Encoded": False}
    screened["headers"] = _json_content_type(event.get("headers"), content_types.APPLICATION_JSON)
    if event.get("multiValueHeaders"):
        screened["multiValueHeaders"] = _json_content_type(
            event["multiValueHeaders"], [content_types.APPLICATION_JSON]
        )
    return screened


def _json_content_type(headers: Mapping[str, Any] | None, value: Any) -> dict[str, Any]:
    kept = {k: v for k, v in (headers or {}).items() if str(k).lower() != "content-type"}
    return {**kept, "Content-Type": value}


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text``, without parsing it (linear)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _header(event: Mapping[str, Any], name: str) -> str:
    for key, value in (event.get("headers") or {}).items():
        if str(key).lower() == name and isinstance(value, str):
            return value
    return ""


def _is_json_media_type(media_type: str) -> bool:
    kind = media_type.strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _charset(parameters: str) -> str | None:
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


class PaymentsResolver(APIGatewayRestResolver):
    """Powertools' REST resolver, with request screening in front of routing and validation.

    Powertools keeps the request being resolved on its ``BaseRouter`` class, shared by every
    resolver of the process. Lambda runs one request per process at a time, but the devstack
    serves concurrent requests as threads of one process, where a handler could read another
    request's event (its tenant). Each thread therefore keeps its own request here.
    """

    _request = threading.local()

    @property
    def current_event(self) -> Any:
        return self._request.event

    @current_event.setter
    def current_event(self, value: Any) -> None:
        self._request.event = value

    @property
    def lambda_context(self) -> Any:
        return self._request.context

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._request.context = value

    def _to_proxy_event(self, event: dict[str, Any]) -> Any:
        proxy = super()._to_proxy_event(event)
        self._request.event = proxy  # what resolve() is about to put on the shared class
        return proxy

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        self._request.context = context
        try:
            event = screened_event(event)
        except PaymentsError as refusal:
            return _proxy_error(refusal)
        return super().resolve(event, context)


def _proxy_error(error: PaymentsError) -> dict[str, Any]:
    """An error as the API Gateway proxy response, for refusals made before routing."""
    return {
        "statusCode": int(error.status),
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": {"code": error.code, "message": error.message}}),
        "isBase64Encoded": False,
    }


# --- request models ------------------------------------------------------------------------

T = TypeVar("T")


def _refuse_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError(
            "null_not_allowed", "null is not a value here: leave the field out instead"
        )
    return value


def _no_null_default(schema: dict[str, Any]) -> None:
    if "default" in schema and schema["default"] is None:
        del schema["default"]


# An optional field that may be left out but never sent as null: ``null`` is refused (422
# null_not_allowed) instead of silently meaning "the default" (pydantic never validates a
# default, so leaving the field out still gives None). At run time the field's type is T itself,
# not a union with None, so the schema shows T and error locations stay plain field paths.
if TYPE_CHECKING:
    Omittable = Annotated[T | None, ...]
else:
    Omittable = Annotated[
        T, BeforeValidator(_refuse_null), Field(json_schema_extra=_no_null_default)
    ]

# Our ids (pay_..., we_..., dlv_..., evt_...): never a key separator or anything exotic.
ID_PATTERN = r"^[A-Za-z0-9_\-]+$"


def id_path(description: str) -> Any:
    """A path parameter holding one of our ids."""
    return PathParam(min_length=1, max_length=64, pattern=ID_PATTERN, description=description)


def id_query(description: str) -> Any:
    """A query parameter holding one of our ids."""
    return Query(min_length=1, max_length=64, pattern=ID_PATTERN, description=description)


# What a payment is for, in the merchant's own terms (a booking, a hotspot plan): the same
# rules on every route that takes or filters by them.
PAYABLE_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
PayableType = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=PAYABLE_PATTERN,
        description="your object's type, e.g. booking (letters, digits, _ . : -)",
    ),
]
PayableId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=PAYABLE_PATTERN,
        description="your object's id, e.g. bk_1001 (letters, digits, _ . : -)",
    ),
]

# RFC 3339 date-time with a required offset. A pydantic datetime would also take a number
# ("0.5" as seconds since the epoch) or a bare date, which the document does not promise.
RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)


def parse_instant(value: str | None, name: str) -> datetime | None:
    """A query's RFC 3339 date-time (its pattern checked the form) in UTC; 400 invalid_query
    for one that is no real moment (February 30th, before year 1 in UTC)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError(name)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidQueryError(f"{name} is not a valid RFC 3339 date-time") from None


# Every list route's page size and cursor (the previous page's opaque next_cursor, base64url).
PageLimit = Annotated[int | None, Query(ge=1, le=100, description="Page size, 1-100 (default 25)")]
PageCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=2048,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="The previous page's next_cursor",
    ),
]

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Required on every write: 1-255 printable ASCII characters without spaces. The same "
            "key with the same body replays the first answer for 24 h; use a new key for every "
            "operation you mean to start."
        ),
    ),
]


# --- OpenAPI responses ---------------------------------------------------------------------

_ERROR_DESCRIPTIONS = {
    400: "Malformed request: body not JSON/UTF-8, too deep, or a bad header, path or query "
    "parameter",
    401: "Missing, unknown or revoked API key",
    403: "The key may not call this route",
    404: "No such object for this tenant (or no such route)",
    409: "Conflicts with the object's state or with a request still running",
    413: "Request body too large",
    415: "Request body is not sent as application/json",
    422: "A well-formed body that breaks the route's rules",
    429: "Rate limited: retry after the Retry-After header's seconds",
    500: "Unexpected error: quote the correlation_id",
    502: "The payment provider did not answer: retry with the same Idempotency-Key",
    503: "Concurrent changes to the same object: retry shortly",
}
# What any authorized route can answer, whatever it does.
AUTHORIZED_ERRORS = (401, 403, 429, 500)
# What any route with a JSON body can answer on top.
BODY_ERRORS = (400, 413, 415, 422)


def api_responses(
    status: int,
    model: type[BaseModel] | None,
    description: str,
    *errors: int,
    media: dict[str, Any] | None = None,
) -> dict[int, OpenAPIResponse]:
    """The documented answers of a route: its success and its errors. The success body is
    ``model`` as JSON, or the ``media`` given (media type -> schema), or nothing."""
    success: OpenAPIResponse = {"description": description}
    if model is not None:
        success["content"] = {content_types.APPLICATION_JSON: {"model": model}}
    elif media:
        success["content"] = {kind: {"schema": schema} for kind, schema in media.items()}
    documented: dict[int, OpenAPIResponse] = {status: success}
    for code in sorted(set(errors)):
        documented[code] = {
            "description": _ERROR_DESCRIPTIONS[code],
            "content": {content_types.APPLICATION_JSON: {"model": ErrorBody}},
        }
    return documented


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
    "null_not_allowed": "null_not_allowed",
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
_IDEMPOTENCY_HEADER = "idempotency-key"


def _validation_code(error_type: str, location: str, name: str) -> str:
    if location == "header" and name.lower() == _IDEMPOTENCY_HEADER:
        absent = error_type in {"missing", "string_too_short"}
        return "idempotency_key_required" if absent else "invalid_idempotency_key"
    if error_type in _VALIDATION_CODES:
        return _VALIDATION_CODES[error_type]
    if error_type.endswith(("_type", "_parsing")):
        return "invalid_type"
    return "invalid_value"


def _field_path(parts: tuple[Any, ...]) -> str:
    """``customer.email``, ``event_types[0]``: a path into the request, never an offset."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _unwrap(annotation: Any) -> Any:
    """The model inside ``Model | None``, ``list[Model]``, ``dict[str, Model]``."""
    for argument in getattr(annotation, "__args__", ()) or ():
        inner = _unwrap(argument)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return annotation


def _field_description(app: APIGatewayRestResolver, location: str, parts: tuple[Any, ...]) -> str:
    """The documented expectation of the field at ``parts`` (its schema description)."""
    route = app.context.get("_route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not parts:
        return ""
    if location != "body":
        params = {
            "query": dependant.query_params,
            "path": dependant.path_params,
            "header": dependant.header_params,
        }.get(location, [])
        for param in params:
            if str(param.alias).lower() == str(parts[0]).lower():
                return str(param.field_info.description or "")
        return ""
    if not dependant.body_params:
        return ""
    model: Any = dependant.body_params[0].field_info.annotation
    description = ""
    for part in parts:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return ""
        description = str(fields[part].description or "")
        model = _unwrap(fields[part].annotation)
    return description


def _validation_response(
    app: APIGatewayRestResolver, error: RequestValidationError
) -> Response[dict[str, Any]]:
    details = []
    for e in error.errors():
        loc = tuple(e.get("loc", ("body",))) or ("body",)
        location, parts = str(loc[0]), loc[1:]
        code = _validation_code(str(e.get("type", "")), location, str(parts[0] if parts else ""))
        if code == "invalid_json":
            parts = ()  # pydantic points at a character offset: meaningless to a client
        expected = _field_description(app, location, parts)
        reason = str(e.get("msg") or code)
        details.append(
            {
                "field": _field_path(parts) or location,
                "in": location,
                "code": code,
                "message": f"{reason}; expected {expected}" if expected else reason,
            }
        )
    first = details[0] if details else {"code": "invalid_request", "in": "body", "field": "body"}
    # Unparseable JSON and bad query/path/header parameters are malformed requests (400); a
    # body that parses but does not fit the schema is unprocessable (422).
    malformed = first["code"] == "invalid_json" or first["in"] in {"query", "path", "header"}
    status = HTTPStatus.BAD_REQUEST if malformed else HTTPStatus.UNPROCESSABLE_ENTITY
    where = f"{first['in']} field '{first['field']}'"
    message = {
        "invalid_json": "request body is not valid JSON",
        "missing_field": f"{where} is required",
        "unknown_field": f"{where} is not allowed",
        "idempotency_key_required": "the Idempotency-Key header is required for this request",
        "invalid_idempotency_key": "Idempotency-Key must be 1-255 printable ASCII characters",
    }.get(str(first["code"]), f"{where} is invalid: {first.get('message', first['code'])}")
    return error_response(status, str(first["code"]), message, details=details)


def create_resolver() -> PaymentsResolver:
    """An API Gateway REST resolver with screening, validation and our one error mapping."""
    app = PaymentsResolver(enable_validation=True)

    @app.exception_handler(PaymentsError)
    def _payments_error(error: PaymentsError) -> Response[dict[str, Any]]:
        response = error_response(error.status, error.code, error.message)
        if error.retry_after_seconds is not None:
            response.headers["Retry-After"] = str(error.retry_after_seconds)
        return response

    @app.exception_handler(MoneyError)
    def _money_error(error: MoneyError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, error.code, str(error))

    @app.exception_handler(RequestValidationError)
    def _validation_error(error: RequestValidationError) -> Response[dict[str, Any]]:
        return _validation_response(app, error)

    @app.not_found
    def _route_not_found(_: RouteNotFoundError) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.NOT_FOUND, "route_not_found", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[dict[str, Any]]:
        correlation_id = correlation_id_of(app)
        function_logger().exception("unhandled error", extra={"correlation_id": correlation_id})
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
    """The tenant the authorizer resolved for this request; never taken from the client.

    An operator's request is 403 forbidden (the authorizer's policy keeps operator keys off
    merchant routes: this is the second line); no tenant at all is 401."""
    event = app.current_event.raw_event
    if is_operator(event):
        raise ForbiddenError("operator keys cannot call merchant routes; use a tenant's API key")
    tenant_id = authorizer_context(event).get("tenant_id")
    if not isinstance(tenant_id, str) or not tenant_id:
        raise UnauthorizedError("missing tenant context")
    return tenant_id


def operator_of(app: APIGatewayRestResolver) -> OperatorContext:
    """The operator calling an operator route; 403 forbidden for anyone else (a merchant key
    never gets here past the authorizer's policy: this is the second line)."""
    operator = operator_context(app.current_event.raw_event)
    if operator is None:
        raise ForbiddenError("this route takes an operator key")
    return operator
