"""GET /v1/openapi.json and GET /v1/docs: the API's contract and its Swagger UI, unauthenticated.

The document is the committed ``docs/openapi.json`` (generated from the other handlers by
``make openapi``; packaged beside this file), so this function imports none of them: its cold
start is the resolver's, not the whole API's. Swagger UI's files are the ones Powertools ships
in the layer, served from here, so the page needs no CDN and runs under a strict CSP.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.http import api_responses, create_resolver
from payments.observability import observed

app = create_resolver()

HERE = Path(__file__).resolve().parent
# Scripts and styles only from this API; no inline script anywhere on the page.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# asset name -> (file, content type); Swagger UI's come from Powertools' package.
ASSETS: dict[str, tuple[str, str]] = {
    "swagger-ui.js": ("swagger-ui-bundle.min.js", "application/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui.min.css", "text/css; charset=utf-8"),
    "init.js": ("init.js", "application/javascript; charset=utf-8"),
}
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Payments backbone API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui.js"></script>
  <script src="docs/init.js"></script>
</body>
</html>
"""


def _swagger_ui_folder() -> Path:
    spec = importlib.util.find_spec("aws_lambda_powertools")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("aws_lambda_powertools is not installed")
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "event_handler" / "openapi" / "swagger_ui"


@cache
def _read(name: str) -> str:
    folder = HERE if name in {"openapi.json", "init.js"} else _swagger_ui_folder()
    return (folder / name).read_text(encoding="utf-8")


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=300",
    }


TEXT = {"type": "string"}


@app.get(
    "/v1/openapi.json",
    summary="This OpenAPI document",
    tags=["docs"],
    responses=api_responses(
        200, None, "The OpenAPI 3.1 document", 500, media={"application/json": {"type": "object"}}
    ),
)
def openapi_document() -> Response[str]:
    return Response(200, "application/json", _read("openapi.json"), headers=_headers())


@app.get(
    "/v1/docs",
    summary="Swagger UI for this API",
    tags=["docs"],
    responses=api_responses(200, None, "Swagger UI", 500, media={"text/html": TEXT}),
)
def swagger_ui() -> Response[str]:
    return Response(200, "text/html; charset=utf-8", PAGE, headers=_headers())


@app.get(
    "/v1/docs/<asset>",
    summary="Swagger UI's scripts and styles",
    tags=["docs"],
    responses=api_responses(
        200,
        None,
        "The file",
        400,
        500,
        media={"application/javascript": TEXT, "text/css": TEXT},
    ),
)
def swagger_asset(
    asset: Annotated[
        Literal["swagger-ui.js", "swagger-ui.css", "init.js"],
        PathParam(description="One of Swagger UI's files"),
    ],
) -> Response[str]:
    file_name, content_type = ASSETS[asset]
    return Response(200, content_type, _read(file_name), headers=_headers())


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
