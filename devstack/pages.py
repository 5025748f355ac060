"""The shop's "thanks" and "cancelled" pages, for checkouts started by hand against the devstack.

``POST /v1/checkout`` needs a ``success_url`` (and takes a ``cancel_url``): the pages the
customer's browser is sent back to after the hosted payment page. A real shop serves its own; the
devstack serves these two so that the README's curl example ends on a real page:

    GET /thanks?session_id={CHECKOUT_SESSION_ID}     (Stripe fills the id in on success_url)
    GET /cancelled[?session_id=cs_...]

With a session id the page shows the payment as the payments backbone has recorded it (never as
the redirect claims: anyone can type this URL) and refreshes while the payment is still open, so
the webhook's result appears by itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from devstack.http_server import Response

SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
REFRESH_SECONDS = 2
_SESSION_ID = re.compile(r"cs_(?:test|live)_[A-Za-z0-9]{1,200}")


@dataclass(frozen=True)
class PaymentView:
    """What a return page shows of a payment."""

    payment_id: str
    status: str
    amount: str  # "45.00 USD"
    payable_type: str
    payable_id: str
    description: str
    open: bool  # created or pending: the provider's answer has not been applied yet


FindPayment = Callable[[str], PaymentView | None]


def find_checkout_payment(session_id: str) -> PaymentView | None:
    """The payment whose Stripe Checkout Session is ``session_id``, in any tenant.

    A shop would ask ``GET /v1/payments?payable_type=&payable_id=`` with its own key; the devstack
    reads its own store, through the same repository the webhook uses to find the payment.
    """
    from payments.domain.states import OPEN_STATUSES
    from payments.money import Money
    from payments.store import repositories

    for tenant in repositories.list_tenants():
        payment = repositories.find_payment_by_provider_ref(tenant.tenant_id, "stripe", session_id)
        if payment is not None:
            return PaymentView(
                payment_id=payment.payment_id,
                status=payment.status.value,
                amount=str(Money(payment.amount, payment.currency))
                if isinstance(payment.amount, int)
                else f"{payment.amount} {payment.currency}",
                payable_type=payment.payable_type,
                payable_id=payment.payable_id,
                description=payment.description,
                open=payment.status in OPEN_STATUSES,
            )
    return None


class ReturnPages:
    """The responder behind the devstack's return-page server (see devstack/http_server.py)."""

    max_body_bytes = 0  # pages are only read

    def __init__(self, find_payment: FindPayment = find_checkout_payment) -> None:
        self._find_payment = find_payment

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Response:
        parts = urlsplit(target)
        if parts.path not in ("/thanks", "/cancelled"):
            return _page(
                404, "Not found", "<p>This server has two pages: /thanks and /cancelled.</p>"
            )
        if method != "GET":
            return _page(405, "Method not allowed", "<p>These pages are only read (GET).</p>")
        session_id = (parse_qs(parts.query).get("session_id") or [""])[0]
        if parts.path == "/thanks":
            return self._thanks(session_id)
        return self._cancelled(session_id)

    def refuse_body(self, status: int) -> Response:
        return _page(status, "Bad request", "<p>These pages take no request body.</p>")

    def _thanks(self, session_id: str) -> Response:
        found, problem = self._lookup(session_id)
        if found is None:
            return _page(200, "Thank you", f"<h1>Thank you</h1>{problem}")
        if found.open:
            lead = (
                "<p>Thanks! Stripe sent you back here; the payment is not confirmed yet. This page"
                f" refreshes every {REFRESH_SECONDS} seconds until Stripe's webhook has settled"
                " it.</p>"
            )
        elif found.status == "succeeded":
            lead = "<p>Thank you: your payment arrived.</p>"
        else:
            lead = f"<p>The payment did not go through: it is {html.escape(found.status)}.</p>"
        return _page(
            200,
            f"Payment {found.status}",
            f"<h1>Thank you</h1>{lead}{_details(found)}",
            refresh=found.open,
        )

    def _cancelled(self, session_id: str) -> Response:
        body = "<h1>Payment not completed</h1><p>You left the payment page or the card was" + (
            " declined; nothing was charged.</p>"
        )
        if session_id:
            found, problem = self._lookup(session_id)
            body += _details(found) if found is not None else problem
        return _page(200, "Payment not completed", body)

    def _lookup(self, session_id: str) -> tuple[PaymentView | None, str]:
        """The payment, or why there is none (as HTML)."""
        if not session_id or session_id == SESSION_PLACEHOLDER:
            return None, (
                "<p>No payment to show: add <code>?session_id="
                f"{html.escape(SESSION_PLACEHOLDER)}</code> to your <code>success_url</code>"
                " and Stripe puts the Checkout Session's id there.</p>"
            )
        if _SESSION_ID.fullmatch(session_id) is None:
            return None, "<p>That is not a Stripe Checkout Session id (cs_test_...).</p>"
        found = self._find_payment(session_id)
        if found is None:
            return None, (
                f"<p>No payment was started with Checkout Session"
                f" <code>{html.escape(session_id)}</code>.</p>"
            )
        return found, ""


def _details(payment: PaymentView) -> str:
    rows = (
        ("Payment", payment.payment_id),
        ("Status", payment.status),
        ("Amount", payment.amount),
        ("For", f"{payment.payable_type} {payment.payable_id}"),
        ("Description", payment.description),
    )
    cells = "".join(
        f'<dt>{name}</dt><dd id="{name.lower()}">{html.escape(value)}</dd>'
        for name, value in rows
        if value
    )
    return f"<dl>{cells}</dl>"


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">{refresh}<title>{title} · payments devstack</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;color:#1a1f36}}
dl{{display:grid;grid-template-columns:max-content auto;gap:.3rem 1rem}}dt{{color:#697386}}
dd{{margin:0;font-family:ui-monospace,monospace}}footer{{margin-top:2rem;color:#697386}}</style>
</head><body>{body}
<footer>A stand-in for your shop's own page, served by the devstack (devstack/pages.py).</footer>
</body></html>
"""


def _page(status: int, title: str, body: str, *, refresh: bool = False) -> Response:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    document = _TEMPLATE.format(refresh=meta, title=html.escape(title), body=body)
    return Response(
        status,
        document.encode("utf-8"),
        "text/html; charset=utf-8",
        {"Cache-Control": "no-store"},
    )
