"""The devstack's "thanks" / "cancelled" pages, finding the payment by its Checkout Session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.pages import ReturnPages
from devstack.sandboxes.stripe import StripeSandbox
from devstack.template import LocalStack
from payments.config import reset_settings
from payments.domain.states import PaymentStatus
from payments.services.checkout import CheckoutInput, start_checkout
from payments.services.credentials import set_provider_credentials
from payments.services.transitions import apply_transition
from tests.integration.helpers import new_tenant

REFRESH = '<meta http-equiv="refresh" content="2">'


@pytest.fixture
def checkout(aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """A started Stripe checkout (its payment pending) in a tenant that is not the first."""
    with StripeSandbox() as sandbox:
        monkeypatch.setenv("PROVIDER_API_BASE_STRIPE", sandbox.base_url)
        reset_settings()
        new_tenant("Another shop")
        tenant = new_tenant("Salon")
        account = sandbox.create_account()
        set_provider_credentials(
            tenant, "stripe", {"secret_key": account.secret_key, "webhook_secret": "whsec_x"}
        )
        started = start_checkout(
            tenant,
            CheckoutInput(
                payable_type="booking",
                payable_id="bk_2",
                amount=4500,
                currency="USD",
                description="Massage <oil>",
                success_url="http://127.0.0.1:3002/thanks?session_id={CHECKOUT_SESSION_ID}",
            ),
            "pages-1",
        )
        yield {**started, "tenant_id": tenant, "session_id": _session_id(started)}


def _session_id(started: dict[str, object]) -> str:
    return str(started["checkout_url"]).rsplit("/", 1)[1]


def _get(target: str) -> tuple[int, str]:
    response = ReturnPages().respond("GET", target, {}, b"", "127.0.0.1")
    assert response.content_type == "text/html; charset=utf-8"
    return response.status, response.body.decode()


def test_thanks_shows_the_payment_and_refreshes_until_it_is_settled(
    checkout: dict[str, object],
) -> None:
    target = f"/thanks?session_id={checkout['session_id']}"
    status, page = _get(target)
    assert status == 200
    assert REFRESH in page
    assert f'<dd id="payment">{checkout["payment_id"]}</dd>' in page
    assert '<dd id="status">pending</dd>' in page
    assert '<dd id="amount">45.00 USD</dd>' in page
    assert "Massage &lt;oil&gt;" in page
    assert "not confirmed yet" in page

    apply_transition(
        tenant_id=str(checkout["tenant_id"]),
        payment_id=str(checkout["payment_id"]),
        requested=PaymentStatus.SUCCEEDED,
        source="provider",
    )
    status, page = _get(target)
    assert REFRESH not in page
    assert '<dd id="status">succeeded</dd>' in page
    assert "your payment arrived" in page


def test_cancelled_shows_the_payment_when_given_its_session(checkout: dict[str, object]) -> None:
    status, page = _get(f"/cancelled?session_id={checkout['session_id']}")
    assert status == 200
    assert "Payment not completed" in page
    assert f'<dd id="payment">{checkout["payment_id"]}</dd>' in page
    status, page = _get("/cancelled")
    assert "nothing was charged" in page
    assert "<dl>" not in page


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("", "add <code>?session_id={CHECKOUT_SESSION_ID}</code>"),
        ("?session_id={CHECKOUT_SESSION_ID}", "add <code>?session_id="),
        ("?session_id=<script>", "not a Stripe Checkout Session id"),
        ("?session_id=cs_test_unknown", "No payment was started with Checkout Session"),
    ],
)
def test_thanks_without_a_known_session_says_why(aws: LocalStack, query: str, says: str) -> None:
    status, page = _get(f"/thanks{query}")
    assert status == 200
    assert says in page
    assert "<script>" not in page
    assert REFRESH not in page


def test_other_paths_and_methods_are_refused() -> None:
    assert _get("/elsewhere")[0] == 404
    response = ReturnPages().respond("POST", "/thanks", {}, b"", "127.0.0.1")
    assert response.status == 405
