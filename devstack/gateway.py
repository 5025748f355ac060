"""A local API Gateway (REST) in front of the real handlers.

Each request becomes the proxy event API Gateway would send: the route comes from the
template's ``Api`` events, the Lambda REQUEST authorizer runs first (its allow policy cached per
``Authorization`` header for the template's ``ReauthorizeEvery``), and its context reaches the
function as ``requestContext.authorizer``. Responses are mapped back exactly as API Gateway's
proxy integration does.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devstack.http_server import Response
from devstack.lambdas import FunctionRegistry
from devstack.template import ACCOUNT_ID, ApiRoute, LocalStack
from devstack.throttle import UsagePlanThrottle

API_ID = "local"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass(frozen=True)
class _CompiledRoute:
    route: ApiRoute
    pattern: re.Pattern[str]
    specificity: tuple[int, int]


def _compile(route: ApiRoute) -> _CompiledRoute:
    parts = []
    params = 0
    for segment in route.path.strip("/").split("/"):
        match = re.fullmatch(r"\{(\w+)(\+?)\}", segment)
        if match:
            params += 1
            name, greedy = match.groups()
            parts.append(f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    pattern = re.compile("^/" + "/".join(parts) + "/?$")
    # Literal segments win over parameters, as in API Gateway.
    return _CompiledRoute(route, pattern, (params, -len(route.path)))


class _AuthorizerCache:
    def __init__(self, ttl_seconds: int) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry and entry[0] > time.monotonic():
                return entry[1]
            self._entries.pop(key, None)
            return None

    def put(self, key: str, policy: dict[str, Any]) -> None:
        if self._ttl > 0:
            with self._lock:
                self._entries[key] = (time.monotonic() + self._ttl, policy)


# --- access log ----------------------------------------------------------------------------

access_logger = logging.getLogger("devstack.access")
_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]*[A-Za-z0-9_])")


class AccessLog:
    """The stage's access log: one line per request in the template's own
    ``AccessLogSetting.Format``, written to the ``devstack.access`` logger.

    Each ``$context.<name>`` takes the local request's value, or ``-`` where there is none (as
    in AWS: no tenant before the authorizer ran). Values are JSON-escaped, since the Format
    quotes every one, so a quote in a User-Agent cannot break the line.
    """

    def __init__(self, stack: LocalStack) -> None:
        self.format: str | None = None
        for _, spec in stack.resources_of_type("AWS::Serverless::Api"):
            setting = (spec.get("Properties") or {}).get("AccessLogSetting") or {}
            if setting.get("Format"):
                self.format = str(stack.resolve(setting["Format"]))

    def line(self, variables: dict[str, str]) -> str | None:
        if self.format is None:
            return None

        def value(match: re.Match[str]) -> str:
            return json.dumps(variables.get(match.group(1), "-"))[1:-1]

        return _CONTEXT_VARIABLE.sub(value, self.format)

    def write(self, variables: dict[str, str]) -> None:
        line = self.line(variables)
        if line is not None:
            access_logger.info(line)


class _ServingRecord(threading.local):
    """What the access log learns while this thread serves one request: the proxy event
    (request id, route, authorizer context), the gateway error answered, the function's time."""

    event: dict[str, Any] | None = None
    error: tuple[str, int, str] | None = None
    integration_latency: str | None = None

    def reset(self) -> None:
        self.event, self.error, self.integration_latency = None, None, None

    def variables(
        self,
        method: str,
        raw_path: str,
        headers: dict[str, str],
        source_ip: str,
        *,
        started_at: datetime,
        status: int,
    ) -> dict[str, str]:
        """``$context`` variables by name; only those listed here, never a header or the body."""
        context: dict[str, Any] = (self.event or {}).get("requestContext") or {}
        request_id = str(context.get("requestId") or uuid.uuid4())
        user_agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), None)
        variables = {
            "requestId": request_id,
            "extendedRequestId": uuid.uuid5(uuid.NAMESPACE_OID, request_id).hex[:16],
            "requestTime": started_at.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": str(int(started_at.timestamp() * 1000)),
            "httpMethod": method,
            "path": urlsplit(raw_path).path,
            "protocol": "HTTP/1.1",
            "status": str(status),
            "identity.sourceIp": source_ip,
        }
        if user_agent is not None:
            variables["identity.userAgent"] = user_agent
        for name in ("resourcePath", "stage"):
            if context.get(name):
                variables[name] = str(context[name])
        for name, value in (context.get("authorizer") or {}).items():
            if value is not None:
                variables[f"authorizer.{name}"] = str(value)
        if self.integration_latency is not None:
            variables["integrationLatency"] = self.integration_latency
        if self.error is not None:
            variables["error.responseType"], variables["error.message"] = (
                self.error[0],
                self.error[2],
            )
        return variables


def _elapsed_ms(started: float) -> str:
    return str(int((time.monotonic() - started) * 1000))


class _GatewayResponder:
    """Serves a gateway through devstack.http_server: ``handle`` answers (status, headers,
    body) and ``error`` API Gateway's own errors."""

    max_body_bytes = MAX_BODY_BYTES

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def error(self, kind: tuple[str, int, str]) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Response:
        status, reply_headers, reply = self.handle(method, target, headers, body, client_ip)
        return Response(status, reply, content_type=None, headers=reply_headers)

    def refuse_body(self, status: int) -> Response:
        status, reply_headers, reply = self.error(TOO_LARGE if status == 413 else BAD_BODY)
        return Response(status, reply, content_type=None, headers=reply_headers)


class RestApiGateway(_GatewayResponder):
    def __init__(
        self, stack: LocalStack, functions: FunctionRegistry, *, cache_ttl: int | None = None
    ) -> None:
        self.stack = stack
        self.functions = functions
        self.stage = stack.stage()
        self.routes = sorted(
            (_compile(route) for route in stack.api_routes()), key=lambda c: c.specificity
        )
        self.authorizer = stack.authorizer_function()
        self.responses = stack.gateway_responses()
        self.cache = _AuthorizerCache(stack.authorizer_ttl() if cache_ttl is None else cache_ttl)
        self.throttle = UsagePlanThrottle(stack)
        self.access_log = AccessLog(stack)
        self._serving = _ServingRecord()

    # --- request -> event ------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        """Serve one request, then write its access-log line as the stage does in AWS."""
        self._serving.reset()
        started, started_at = time.monotonic(), datetime.now(UTC)
        status, reply_headers, reply = self._serve(method, raw_path, headers, body, source_ip)
        self.access_log.write(
            self._serving.variables(
                method, raw_path, headers, source_ip, started_at=started_at, status=status
            )
            | {"responseLength": str(len(reply)), "responseLatency": _elapsed_ms(started)}
        )
        return status, reply_headers, reply

    def _serve(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(raw_path)
        path = split.path
        # Like API Gateway's default endpoint: every path starts with the stage name.
        stage_prefix = f"/{self.stage}/"
        if not path.startswith(stage_prefix):
            return self.error(MISSING_ROUTE)
        path = path[len(stage_prefix) - 1 :]
        matched = self._match(method, path)
        if matched is None:
            return self.error(MISSING_ROUTE)
        route, path_params = matched
        query = parse_qs(split.query, keep_blank_values=True)
        request_id = str(uuid.uuid4())
        event = self._proxy_event(
            route, method, path, headers, query, path_params, body, source_ip, request_id
        )
        self._serving.event = event  # its request id, route and authorizer context
        if route.authorized and self.authorizer:
            authorizer_context = self._authorize(event, headers)
            if isinstance(authorizer_context, tuple):
                return self.error(authorizer_context)
            event["requestContext"]["authorizer"] = authorizer_context
        refused = self.throttle.admit(route, event)  # usage plans: devstack/throttle.py
        if refused is not None:
            return self.error(refused)
        invoked = time.monotonic()
        try:
            result = self.functions.invoke(route.function, event)
        except Exception:  # noqa: BLE001 - API Gateway answers 502 for a crashed function
            return self.error(INTEGRATION_FAILURE)
        finally:
            self._serving.integration_latency = _elapsed_ms(invoked)
        return _proxy_response(result) or self.error(INTEGRATION_FAILURE)

    def error(self, kind: tuple[str, int, str]) -> tuple[int, dict[str, str], bytes]:
        self._serving.error = kind
        return gateway_error(self.responses, kind)

    def _match(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        for compiled in self.routes:
            if compiled.route.method not in {method, "ANY"}:
                continue
            found = compiled.pattern.match(path)
            if found:
                return compiled.route, found.groupdict()
        return None

    def _proxy_event(
        self,
        route: ApiRoute,
        method: str,
        path: str,
        headers: dict[str, str],
        query: dict[str, list[str]],
        path_params: dict[str, str],
        body: bytes,
        source_ip: str,
        request_id: str,
    ) -> dict[str, Any]:
        try:
            text_body: str | None = body.decode("utf-8") if body else None
            is_base64 = False
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode(), True
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": dict(headers),
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": path_params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": API_ID,
                "resourcePath": route.path,
                "httpMethod": method,
                "path": f"/{self.stage}{path}",
                "stage": self.stage,
                "requestId": request_id,
                "requestTimeEpoch": int(time.time() * 1000),
                "protocol": "HTTP/1.1",
                "identity": {"sourceIp": source_ip},
                "domainName": headers.get("Host", "localhost"),
            },
            "body": text_body,
            "isBase64Encoded": is_base64,
        }

    def _authorize(
        self, event: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any] | tuple[str, int, str]:
        """The authorizer context for an allowed call, or the gateway error to answer."""
        identity = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        if not identity:
            return UNAUTHORIZED  # API Gateway answers 401 without calling the authorizer
        method_arn = (
            f"arn:aws:execute-api:{self.stack.region}:{ACCOUNT_ID}:{API_ID}/{self.stage}/"
            f"{event['httpMethod']}{event['path']}"
        )
        policy = self.cache.get(identity)
        if policy is None:
            authorizer_event = {
                "type": "REQUEST",
                "methodArn": method_arn,
                **{k: event[k] for k in ("resource", "path", "httpMethod", "headers")},
                **{k: event[k] for k in ("queryStringParameters", "pathParameters")},
                "requestContext": event["requestContext"],
            }
            try:
                policy = self.functions.invoke(str(self.authorizer), authorizer_event)
            except Exception as error:  # noqa: BLE001
                return UNAUTHORIZED if str(error) == "Unauthorized" else AUTHORIZER_FAILURE
            self.cache.put(identity, policy)
        if not _policy_allows(policy, method_arn):
            return ACCESS_DENIED
        context = dict(policy.get("context") or {})
        context["principalId"] = policy.get("principalId")
        # The usage key API Gateway meters the call under (the API's key source is AUTHORIZER).
        event["requestContext"]["identity"]["apiKey"] = policy.get("usageIdentifierKey")
        return context


def _policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    allowed = False
    for statement in (policy.get("policyDocument") or {}).get("Statement", []):
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatch.fnmatchcase(method_arn, pattern) for pattern in resources):
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _proxy_response(result: Any) -> tuple[int, dict[str, str], bytes] | None:
    if not isinstance(result, dict) or "statusCode" not in result:
        return None  # a malformed proxy response is API Gateway's 502
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name)] = ", ".join(str(v) for v in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, raw


# API Gateway's own answers: (response type, default status, message) as AWS sends them.
UNAUTHORIZED = ("UNAUTHORIZED", 401, "Unauthorized")
ACCESS_DENIED = ("ACCESS_DENIED", 403, "User is not authorized to access this resource")
MISSING_ROUTE = ("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
AUTHORIZER_FAILURE = ("AUTHORIZER_FAILURE", 500, "Internal server error")
INTEGRATION_FAILURE = ("INTEGRATION_FAILURE", 502, "Internal server error")
TOO_LARGE = ("REQUEST_TOO_LARGE", 413, "Request Too Long")
BAD_BODY = ("BAD_REQUEST_BODY", 400, "Invalid request body")


def gateway_error(
    responses: dict[str, dict[str, Any]], kind: tuple[str, int, str]
) -> tuple[int, dict[str, str], bytes]:
    """API Gateway's own error, shaped by the template's GatewayResponses like in AWS."""
    response_type, status, message = kind
    default = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
    spec = responses.get(response_type) or responses.get(default) or {}
    status = int(spec.get("StatusCode", status))
    template = (spec.get("ResponseTemplates") or {}).get("application/json")
    if template:
        body = str(template).replace("$context.error.messageString", json.dumps(message))
    else:
        body = json.dumps({"message": message})
    headers = {"Content-Type": "application/json"}
    # SAM's ResponseParameters.Headers; only static values ('...') have a local meaning.
    for name, value in ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items():
        text = str(value)
        if len(text) >= 2 and text[0] == text[-1] == "'":
            headers[str(name)] = text[1:-1]
    return status, headers, body.encode()


class FunctionUrlGateway(_GatewayResponder):
    """Lambda function URLs: ``/<LogicalId>/<rawPath>`` becomes a payload 2.0 event.

    In AWS each function URL is a host of its own; locally one server carries them all, the
    function's logical id as the first path segment.
    """

    def __init__(self, stack: LocalStack, functions: FunctionRegistry) -> None:
        self.stack = stack
        self.functions = functions
        self.names = set(stack.function_urls())

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(raw_path)
        name, _, rest = split.path.lstrip("/").partition("/")
        if name not in self.names:
            return 404, {"Content-Type": "application/json"}, b'{"Message":"Not Found"}'
        try:
            text_body, is_base64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode(), True
        now = time.time()
        lowered = {k.lower(): v for k, v in headers.items()}
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": f"/{rest}",
            "rawQueryString": split.query,
            "headers": lowered,
            "queryStringParameters": {k: v[-1] for k, v in parse_qs(split.query).items()} or None,
            "requestContext": {
                "accountId": "anonymous",
                "apiId": name.lower(),
                "domainName": lowered.get("host", "localhost"),
                "http": {
                    "method": method,
                    "path": f"/{rest}",
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip,
                    "userAgent": lowered.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "timeEpoch": int(now * 1000),
            },
            "body": text_body,
            "isBase64Encoded": is_base64,
        }
        try:
            result = self.functions.invoke(name, event)
        except Exception:  # noqa: BLE001 - Lambda answers 502 for a crashed function
            return 502, {"Content-Type": "application/json"}, b'{"Message":"Internal error"}'
        if isinstance(result, dict) and "statusCode" in result:
            return _proxy_response(result) or (502, {}, b"")
        # A function URL turns any other return value into a 200 JSON body.
        return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()

    def error(self, kind: tuple[str, int, str]) -> tuple[int, dict[str, str], bytes]:
        return (
            kind[1],
            {"Content-Type": "application/json"},
            json.dumps({"Message": kind[2]}).encode(),
        )
