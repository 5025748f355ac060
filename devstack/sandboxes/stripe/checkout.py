"""The Checkout Sessions API: create, retrieve, list, expire, and line items."""

from __future__ import annotations

import re
from typing import cast

from devstack.sandboxes.kit import Json
from devstack.sandboxes.stripe.errors import StripeApiError, invalid, missing
from devstack.sandboxes.stripe.objects import (
    MAX_AMOUNT,
    MINIMUM_CHARGE,
    ApiCall,
    SessionExtras,
    format_amount,
    random_id,
)
from devstack.sandboxes.stripe.params import Params
from devstack.sandboxes.stripe.payments import Payments

SESSION_MIN_LIFETIME_SECONDS = 30 * 60
SESSION_MAX_LIFETIME_SECONDS = 24 * 3600
EXPIRES_AT_GRACE_SECONDS = 5  # the client computed expires_at a moment before we received it

# Real Stripe parameters that change nothing the sandbox models: accepted and ignored.
SESSION_IGNORED_PARAMS = frozenset(
    {
        "adaptive_pricing",
        "after_expiration",
        "allow_promotion_codes",
        "allowed_payment_method_types",
        "automatic_tax",
        "billing_address_collection",
        "branding_settings",
        "consent_collection",
        "custom_fields",
        "custom_text",
        "customer_creation",
        "customer_update",
        "discounts",
        "excluded_payment_method_types",
        "integration_identifier",
        "invoice_creation",
        "locale",
        "name_collection",
        "origin_context",
        "payment_method_collection",
        "payment_method_configuration",
        "payment_method_options",
        "payment_method_types",
        "phone_number_collection",
        "saved_payment_method_options",
        "shipping_address_collection",
        "shipping_options",
        "submit_type",
        "tax_id_collection",
        "wallet_options",
    }
)


class Checkout(Payments):
    """``/v1/checkout/sessions``: a session is paid (or not) on the hosted page."""

    def _api_create_session(self, call: ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {
                "mode",
                "line_items",
                "success_url",
                "cancel_url",
                "customer",
                "customer_email",
                "client_reference_id",
                "metadata",
                "payment_intent_data",
                "expires_at",
                "currency",
                "ui_mode",
                "expand",
            },
            SESSION_IGNORED_PARAMS,
        )
        mode = params.choice("mode", ("payment", "setup", "subscription"), required=True)
        if mode != "payment":
            raise invalid("mode", "The sandbox models only mode=payment Checkout Sessions.")
        if params.choice("ui_mode", ("hosted", "embedded", "custom")) not in (None, "hosted"):
            raise invalid("ui_mode", "The sandbox models only the hosted Checkout page.")
        line_items = params.hashes("line_items")
        if not line_items:
            raise missing("line_items")
        if len(line_items) > 100:
            raise invalid("line_items", "A Checkout Session can have at most 100 line items.")
        items = [self._line_item(item) for item in line_items]
        currency = items[0]["currency"]
        for index, item in enumerate(items):
            if item["currency"] != currency:
                raise invalid(
                    f"line_items[{index}][price_data][currency]",
                    "All line items must use the same currency.",
                )
        if params.given("currency") and params.string("currency") != currency:
            raise invalid("currency", "currency must match the line items' currency.")
        amount_total = sum(int(item["amount_total"]) for item in items)
        if amount_total > MAX_AMOUNT:
            raise invalid(
                "line_items",
                f"The total amount must be no more than {format_amount(MAX_AMOUNT, currency)}.",
                "amount_too_large",
            )
        minimum = MINIMUM_CHARGE.get(currency)
        if minimum is not None and amount_total < minimum:
            raise invalid(
                "line_items",
                "The Checkout Session's total amount due must add up to at least "
                f"{format_amount(minimum, currency)}.",
                "amount_too_small",
            )
        success_url = params.url("success_url", required=True)
        cancel_url = params.url("cancel_url")
        customer_id = params.string("customer")
        customer_email = params.email("customer_email")
        if customer_id is not None and customer_email is not None:
            raise invalid(
                "customer_email",
                "You may only specify one of these parameters: customer, customer_email.",
            )
        client_reference_id = params.string("client_reference_id", max_length=200)
        metadata = params.metadata()
        intent_params = params.nested("payment_intent_data")
        intent_params.reject_unknown(
            {
                "metadata",
                "description",
                "receipt_email",
                "capture_method",
                "statement_descriptor",
                "statement_descriptor_suffix",
            },
            {
                "setup_future_usage",
                "shipping",
                "transfer_group",
                "on_behalf_of",
                "application_fee_amount",
                "transfer_data",
            },
        )
        if (
            intent_params.choice("capture_method", ("automatic", "automatic_async", "manual"))
            == "manual"
        ):
            raise invalid(
                "payment_intent_data[capture_method]", "The sandbox models only automatic capture."
            )
        payment_intent_data: Json = {
            "metadata": intent_params.metadata(),
            "description": intent_params.string("description", max_length=1000),
            "receipt_email": intent_params.email("receipt_email"),
            "statement_descriptor": intent_params.string("statement_descriptor", max_length=22),
        }
        now = self._now()
        expires_at = params.integer("expires_at")
        if expires_at is None:
            expires_at = now + SESSION_MAX_LIFETIME_SECONDS
        elif not (
            now + SESSION_MIN_LIFETIME_SECONDS - EXPIRES_AT_GRACE_SECONDS
            <= expires_at
            <= now + SESSION_MAX_LIFETIME_SECONDS + EXPIRES_AT_GRACE_SECONDS
        ):
            raise invalid(
                "expires_at",
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
            )
        with self._lock:
            state = call.state
            if customer_id is not None:
                state.get("customer", customer_id, param="customer", status=400)
            session_id = random_id("cs_test_a1", 56)
            session: Json = {
                "id": session_id,
                "object": "checkout.session",
                "after_expiration": None,
                "allow_promotion_codes": None,
                "amount_subtotal": amount_total,
                "amount_total": amount_total,
                "automatic_tax": {"enabled": False, "liability": None, "status": None},
                "billing_address_collection": None,
                "cancel_url": cancel_url,
                "client_reference_id": client_reference_id,
                "created": now,
                "currency": currency,
                "customer": customer_id,
                "customer_creation": None if customer_id else "if_required",
                "customer_details": None,
                "customer_email": customer_email,
                "expires_at": expires_at,
                "livemode": False,
                "locale": None,
                "metadata": metadata,
                "mode": "payment",
                "payment_intent": None,
                "payment_method_types": ["card"],
                "payment_status": "unpaid",
                "status": "open",
                "success_url": success_url,
                "ui_mode": "hosted",
                "url": f"{self.base_url}/pay/{session_id}",
            }
            state.objects["checkout.session"][session_id] = session
            state.session_extras[session_id] = SessionExtras(items, payment_intent_data)
            self._owners[session_id] = state
            return self._render(state, session, call.expand)

    @staticmethod
    def _line_item(item: Params) -> Json:
        item.reject_unknown(
            {"price_data", "quantity", "price"}, {"adjustable_quantity", "tax_rates", "metadata"}
        )
        if item.given("price"):
            raise invalid(
                item.name("price"), "The sandbox has no Price objects: use price_data instead."
            )
        price_data = item.nested("price_data")
        if not price_data.data:
            raise missing(item.name("price_data"))
        price_data.reject_unknown(
            {
                "currency",
                "unit_amount",
                "product_data",
                "product",
                "unit_amount_decimal",
                "recurring",
            },
            {"tax_behavior"},
        )
        if price_data.given("recurring"):
            raise invalid(price_data.name("recurring"), "Recurring prices need mode=subscription.")
        if price_data.given("product"):
            raise invalid(
                price_data.name("product"), "The sandbox has no Products: use product_data."
            )
        if price_data.given("unit_amount_decimal"):
            raise invalid(
                price_data.name("unit_amount_decimal"),
                "The sandbox takes integer unit_amount only.",
            )
        currency = cast(str, price_data.string("currency", required=True))
        if re.fullmatch(r"[a-z]{3}", currency) is None:
            raise invalid(
                price_data.name("currency"),
                f"Invalid currency: {currency}. Use a three-letter lowercase ISO code.",
            )
        unit_amount = cast(
            int, price_data.integer("unit_amount", required=True, minimum=1, maximum=MAX_AMOUNT)
        )
        product_data = price_data.nested("product_data")
        if not product_data.data:
            raise missing(price_data.name("product_data"))
        product_data.reject_unknown(
            {"name", "description", "images", "metadata"}, {"tax_code", "tax_details", "unit_label"}
        )
        name = cast(str, product_data.string("name", required=True, max_length=250))
        quantity = cast(int, item.integer("quantity", required=True, minimum=1, maximum=999_999))
        return {
            "id": random_id("li_1"),
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": unit_amount * quantity,
            "amount_tax": 0,
            "amount_total": unit_amount * quantity,
            "currency": currency,
            "description": name,
            "price": {
                "id": random_id("price_1"),
                "object": "price",
                "active": False,
                "currency": currency,
                "livemode": False,
                "metadata": {},
                "product": random_id("prod_", 14),
                "type": "one_time",
                "unit_amount": unit_amount,
            },
            "quantity": quantity,
        }

    def _api_line_items(self, call: ApiCall) -> Json:
        call.params.reject_unknown({"limit", "expand"})
        with self._lock:
            call.state.get("checkout.session", call.path_id)
            return self._line_items_list(call.state, call.path_id, call.params)

    def _api_retrieve_session(self, call: ApiCall) -> Json:
        call.params.reject_unknown({"expand"})
        with self._lock:
            session = call.state.get("checkout.session", call.path_id)
            batch: list[Json] = []
            self._expire_if_due(call.state, session, batch)
            self._dispatch(call.state, batch)
            return self._render(call.state, session, call.expand)

    def _api_list_sessions(self, call: ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {
                "customer",
                "payment_intent",
                "status",
                "limit",
                "starting_after",
                "ending_before",
                "created",
                "expand",
            }
        )
        customer = params.string("customer")
        payment_intent = params.string("payment_intent")
        status = params.choice("status", ("open", "complete", "expired"))
        created = self._created_filter(params)
        with self._lock:
            batch: list[Json] = []
            for session in call.state.objects["checkout.session"].values():
                self._expire_if_due(call.state, session, batch)
            self._dispatch(call.state, batch)
            sessions = [
                session
                for session in call.state.objects["checkout.session"].values()
                if (customer is None or session["customer"] == customer)
                and (payment_intent is None or session["payment_intent"] == payment_intent)
                and (status is None or session["status"] == status)
                and created(session)
            ]
            return self._page(call, sessions, "/v1/checkout/sessions")

    def _api_expire_session(self, call: ApiCall) -> Json:
        call.params.reject_unknown({"expand"})
        with self._lock:
            session = call.state.get("checkout.session", call.path_id)
            if session["status"] != "open":
                raise StripeApiError(
                    400,
                    'Only Checkout Sessions with a status in ["open"] can be expired. This '
                    f'Checkout Session has a status of "{session["status"]}".',
                )
            batch: list[Json] = []
            self._expire(call.state, session, batch, call.context)
            self._dispatch(call.state, batch)
            return self._render(call.state, session, call.expand)
