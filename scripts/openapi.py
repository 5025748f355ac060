"""Generate docs/openapi.json: the whole REST API as one OpenAPI 3.1 document.

Every function behind an `Api` event in template.yaml is loaded and Powertools' OpenAPIMerge
merges their resolvers' schemas (routes, pydantic request and response models, errors), so the
document is the code's own description, never written by hand. The function-URL webhooks and
our callbacks are added as OpenAPI `webhooks`. The template's routes and the document's
operations must be the same set: a route without a handler, or a handler route the template does
not deploy, fails the generation.

    python scripts/openapi.py           write docs/openapi.json
    python scripts/openapi.py --check   exit 1 when the committed file differs (make test)
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "openapi.json"
TITLE = "Payments backbone API"
VERSION = "1.0.0"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}

DESCRIPTION = """\
One REST API for payments through Stripe Checkout (more providers follow), with refunds, signed
callbacks and status queries. Every route except health and these docs needs
`Authorization: Bearer <API key>`. Amounts are integers in the currency's minor unit.

Errors are always `{"error": {"code": "...", "message": "..."}}` with a specific 4xx code; a 500
carries a `correlation_id` to quote. Writes take an `Idempotency-Key` header: the same key and body
replay the first answer for 24 hours.

Rate limits: every tenant has a request rate and burst on the whole API, and costly operations
have their own per-tenant limits; over a limit the answer is 429 `rate_limited` with a
`Retry-After` header (seconds).
"""


def _prepare_environment() -> None:
    # Handler modules create Powertools loggers and tracers at import; nothing may reach AWS.
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "payments",
    }.items():
        os.environ.setdefault(name, value)
    for path in (ROOT, ROOT / "layers" / "shared"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def template_routes() -> tuple[dict[tuple[str, str], bool], dict[str, Path]]:
    """(method, path) -> authorized, and the handler file of every function with routes."""
    from devstack.template import LocalStack, load_template

    stack = LocalStack(load_template())
    routes: dict[tuple[str, str], bool] = {}
    files: dict[str, Path] = {}
    for route in stack.api_routes():
        routes[(route.method.lower(), route.path)] = route.authorized
        module = stack.function_handler(route.function).rpartition(".")[0]
        files[route.function] = stack.function_code_dir(route.function) / f"{module}.py"
    return routes, files


def generate() -> dict[str, Any]:
    _prepare_environment()
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    routes, files = template_routes()
    merge = OpenAPIMerge(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        description=DESCRIPTION,
        servers=[],
        security_schemes={
            "apiKey": HTTPBearer(
                description="The tenant's API key (pk_...), issued by `payctl keys issue`"
            )
        },
        security=[{"apiKey": []}],
        on_conflict="error",
    )
    for path in sorted(set(files.values())):
        merge.add_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a handler that fails to load must fail the build
        schema = json.loads(merge.get_openapi_json_schema())
    _check_against_template(schema, routes)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if not routes[(method, path)]:
                operation["security"] = []  # open routes: health and these docs
            responses = operation.get("responses", {})
            # Powertools documents a 422 of its own shape on every route; ours are in the
            # route's own responses (ErrorBody), and a route that lists no 422 answers none.
            if "HTTPValidationError" in json.dumps(responses.get("422", {})):
                del responses["422"]
            if "204" in responses:  # Powertools adds the `None` return as a null body
                responses["204"].pop("content", None)
            if "429" in responses:
                responses["429"]["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "header":  # Powertools lower-cases header names
                    parameter["name"] = "-".join(
                        p.capitalize() for p in parameter["name"].split("-")
                    )
    schema["servers"] = SERVERS
    schema["webhooks"] = _webhooks(schema)
    _prune_unused_components(schema)
    return schema


def _check_against_template(schema: dict[str, Any], routes: dict[tuple[str, str], bool]) -> None:
    documented = {
        (method, path)
        for path, item in schema.get("paths", {}).items()
        for method in item
        if method in HTTP_METHODS
    }
    missing = sorted(set(routes) - documented)
    extra = sorted(documented - set(routes))
    if missing or extra:
        raise SystemExit(
            "template.yaml and the handlers disagree:\n"
            + "".join(f"  deployed but not in any handler: {m.upper()} {p}\n" for m, p in missing)
            + "".join(f"  in a handler but not deployed: {m.upper()} {p}\n" for m, p in extra)
        )


def _prune_unused_components(schema: dict[str, Any]) -> None:
    """Drop schemas nothing refers to (Powertools' own validation-error shapes)."""
    components = schema.get("components", {}).get("schemas", {})
    while True:
        text = json.dumps({k: v for k, v in schema.items() if k != "components"}) + json.dumps(
            {
                "schemas": components,
                **{k: v for k, v in schema["components"].items() if k != "schemas"},
            }
        )
        unused = [name for name in components if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del components[name]


RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before retrying",
    "schema": {"type": "integer", "minimum": 1},
}

SERVERS = [
    # Relative to this document (<stage>/v1/openapi.json): the stack that serves it, so Swagger
    # UI's "Try it out" talks to the API it was opened from.
    {"url": "..", "description": "The stack serving this document"},
    {
        "url": "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
        "description": "A deployed stack (the ApiUrl output)",
        "variables": {
            "api_id": {"default": "abcdef1234", "description": "the REST API's id"},
            "region": {"default": "us-east-1"},
            "stage": {"default": "dev", "enum": ["dev", "prod"]},
        },
    },
    {"url": "http://127.0.0.1:3000/dev", "description": "The devstack (make dev)"},
]


def _webhooks(schema: dict[str, Any]) -> dict[str, Any]:
    """The function-URL webhook we receive, and the callbacks we send."""
    signature_failed = {
        "description": (
            "Missing, malformed, wrong or expired signature (the timestamp must be within 300 s "
            "of our clock, either way), or the tenant has no enabled credentials"
        ),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    payment_ref = "#/components/schemas/PaymentView"
    if "PaymentView" not in schema["components"]["schemas"]:
        raise SystemExit("PaymentView is not in the document: callbacks cannot refer to it")
    return {
        "stripe": {
            "post": {
                "summary": "Stripe events, received on a function URL",
                "description": (
                    "Not on the REST API: each tenant registers "
                    "`<StripeWebhookUrl output><tenant_id>` in its Stripe account (locally "
                    "`http://127.0.0.1:3001/WebhookStripeFunction/<tenant_id>`). Every delivery "
                    "is verified with that tenant's webhook secret and applied exactly once."
                ),
                "operationId": "receive_stripe_event",
                "tags": ["webhooks"],
                "security": [],
                "parameters": [
                    {
                        "name": "tenant_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^ten_[A-Za-z0-9]{1,64}$"},
                    },
                    {
                        "name": "Stripe-Signature",
                        "in": "header",
                        "required": True,
                        "description": (
                            "`t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>' with the "
                            "tenant's whsec_ secret>`; several v1 entries while secrets roll"
                        ),
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["id", "type", "data"],
                                "properties": {
                                    "id": {"type": "string", "description": "evt_..."},
                                    "type": {
                                        "type": "string",
                                        "examples": ["checkout.session.completed"],
                                    },
                                    "data": {
                                        "type": "object",
                                        "properties": {"object": {"type": "object"}},
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Accepted (applied, duplicate, ignored or rejected)",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["received"],
                                    "properties": {
                                        "received": {"const": True},
                                        "outcome": {
                                            "enum": ["applied", "duplicate", "ignored", "rejected"]
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "400": signature_failed,
                    "403": {"description": "The source address is not in the allow-list"},
                    "404": {"description": "The path is not /<tenant_id>"},
                    "405": {"description": "Not a POST"},
                    "413": {"description": "Body larger than 256 KiB"},
                },
            }
        },
        "payment-event": {
            "post": {
                "summary": "Our signed callback to your endpoint (Standard Webhooks)",
                "description": (
                    "Sent to each registered callback endpoint for the event types it wants. "
                    "Verify with the endpoint's secret (any standardwebhooks library): the "
                    "signature covers `<webhook-id>.<webhook-timestamp>.<raw body>`; refuse a "
                    "timestamp more than 5 minutes away from your clock, either way. Dedupe on "
                    "`webhook-id`; order by `data.payment.version`."
                ),
                "operationId": "payment_event_callback",
                "tags": ["webhooks"],
                "security": [],
                "parameters": [
                    {
                        "name": "webhook-id",
                        "in": "header",
                        "required": True,
                        "description": "The event's id (evt_...), the same on every retry",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "webhook-timestamp",
                        "in": "header",
                        "required": True,
                        "description": "Unix seconds when this attempt was signed",
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    },
                    {
                        "name": "webhook-signature",
                        "in": "header",
                        "required": True,
                        "description": (
                            "Space-separated `v1,<base64 HMAC-SHA256>` entries, two while a "
                            "rotated-out secret is still valid (24 h)"
                        ),
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["type", "timestamp", "data"],
                                "properties": {
                                    "type": {"type": "string", "examples": ["payment.succeeded"]},
                                    "timestamp": {"type": "string", "format": "date-time"},
                                    "data": {
                                        "type": "object",
                                        "properties": {"payment": {"$ref": payment_ref}},
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "2XX": {"description": "Delivered: never sent again"},
                    "410": {"description": "Gone: we disable the endpoint"},
                    "429": {
                        "description": "Retried after Retry-After (at least 5 s)",
                        "headers": {"Retry-After": RETRY_AFTER_HEADER},
                    },
                    "default": {"description": "Retried: 5 s, 5 min, 30 min ... 24 h"},
                },
            }
        },
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    args = parser.parse_args(argv)
    text = render(generate())
    if args.check:
        committed = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if committed != text:
            diff = difflib.unified_diff(
                committed.splitlines(), text.splitlines(), "committed", "generated", lineterm=""
            )
            print("\n".join(list(diff)[:80]), file=sys.stderr)
            print(f"{OUTPUT} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
