"""Hosted pages: the small HTML pages a person (or a test) acts on, like a hosted checkout.

A page is ``GET {prefix}/{id}``; each of its buttons is a form that posts to
``{prefix}/{id}/{action}`` (see :meth:`Sandbox.hosted_page`). Pages load nothing from elsewhere.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from devstack.http_server import Response

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:30rem;margin:3rem auto;color:#1a1f36}}
.badge{{background:#ffde92;border-radius:4px;padding:0 .4rem;font-size:.75rem}}
.amount{{font-size:2rem;font-weight:600}}form{{display:inline-block;margin:.3rem .3rem 0 0}}
button{{font-size:1rem;padding:.5rem 1rem}}</style></head>
<body>{body}</body></html>
"""

escape = html.escape


def page(title: str, body: str) -> str:
    """A whole page; ``title`` is escaped here, ``body`` is HTML the caller escaped."""
    return _PAGE.format(title=escape(title, quote=False), body=body)


def message_page(title: str, message: str) -> str:
    return page(title, f"<p>{escape(message)}</p>")


def action_forms(prefix: str, object_id: str, actions: Iterable[tuple[str, str]]) -> str:
    """One button per ``(action, label)``, each posting to ``{prefix}/{object_id}/{action}``."""
    target = escape(f"{prefix}/{object_id}")
    return "".join(
        f'<form method="post" action="{target}/{action}">'
        f'<button type="submit" name="action" value="{action}">{escape(label)}</button></form>'
        for action, label in actions
    )


def html_response(status: int, text: str) -> Response:
    return Response(
        status,
        text.encode("utf-8"),
        "text/html; charset=utf-8",
        {
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


def redirect(location: str) -> Response:
    return Response(303, b"", "text/plain; charset=utf-8", {"Location": location})
