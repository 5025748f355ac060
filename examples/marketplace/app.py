"""A small security-token marketplace that sells tokens through the payments API (NEO Bank),
over HTTP only.

Read it as an integration guide in code, next to examples/bookings. It uses nothing of the
payments backbone itself: the standard library, ``requests``, ``standardwebhooks`` and the
plumbing the examples share (``examples/kit``).

    POST /buyers            register a buyer with the bank (POST /v1/profiles)   -> 201 buyer
    GET  /buyers/<user_id>  the buyer: ``verified`` once the bank has verified them
    POST /orders            buy tokens for a verified buyer (POST /v1/trades)    -> 201 order
    GET  /orders/<id>       the order: AWAITING_PAYMENT, PAID, SETTLED or FAILED, and its delivery
    POST /orders/<id>/trade retry a trade start that failed (same Idempotency-Key: safe)
    POST /webhooks/payments the payments API's callbacks (Standard Webhooks)

The tokens are delivered when the trade settles (``trade.settled``): a log line on the
``marketplace`` logger stands for the on-chain transfer, made once per trade however often the
callback arrives.

Test-only switches (``test_switches=True``; never expose them in a real app):

    POST /_test/fail_next {"count": N, "status": 500}   the next N callbacks fail with status
    POST /_test/gone      {"gone": true}                every callback answers 410
    GET  /_test/deliveries                              what the callback endpoint received
    GET  /_test/transfers                               the token transfers made, oldest first
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
from typing import Any
from urllib.parse import SplitResult

from examples.kit.api import ApiClient, PaymentsApiError
from examples.kit.callbacks import InvalidWebhookError, now
from examples.kit.server import (
    BadRequestError,
    ExampleApp,
    JsonHandler,
    json_object,
    run,
)
from examples.kit.server import error as _error

logger = logging.getLogger("marketplace")

Json = dict[str, Any]

AWAITING_PAYMENT = "AWAITING_PAYMENT"  # the trade is at the bank, not cleared yet
PAID = "PAID"  # trade.succeeded: the buyer's funds cleared
SETTLED = "SETTLED"  # trade.settled: the money settled (T+2); the tokens are delivered
FAILED = "FAILED"  # trade.failed: failed before clearing, or reversed after it

# The callbacks to subscribe to when registering the endpoint (POST /v1/callbacks/endpoints).
CALLBACK_EVENT_TYPES = (
    "profile.verified",
    "trade.succeeded",
    "trade.settled",
    "trade.failed",
)

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_USER_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_BUYER_PATH = re.compile(r"/buyers/([A-Za-z0-9_.:-]{1,64})")
_ORDER_PATH = re.compile(r"/orders/(ord_[0-9a-f]{20})")
_TRADE_PATH = re.compile(r"/orders/(ord_[0-9a-f]{20})/trade")


# --------------------------------------------------------------------------- buyers and orders


@dataclasses.dataclass
class Buyer:
    user_id: str  # our user's id: the profile's external_customer_id
    email: str
    name: str
    wallet_address: str  # where the tokens go
    profile_id: str | None = None  # the payments API's profile (prf_...)
    cprn: str | None = None  # the bank's id of the registration
    verified: bool = False

    def public(self) -> Json:
        return {
            "user_id": self.user_id,
            "name": self.name,
            "wallet_address": self.wallet_address,
            "profile_id": self.profile_id,
            "cprn": self.cprn,
            "verified": self.verified,
        }


@dataclasses.dataclass
class Order:
    id: str
    user_id: str
    token_contract_address: str
    token_symbol: str
    token_quantity: str  # a decimal string, as the API takes it ("10.5"); never a float
    amount: int  # minor units, as the payments API counts them (25000 = USD 250.00)
    currency: str
    status: str = AWAITING_PAYMENT
    trade_id: str | None = None  # the payments API's trade
    tx_id: str | None = None  # the bank's transaction: what its sandbox moves
    settlement: str | None = None  # the trade's settlement state, as the last callback said
    delivered_at: str | None = None
    delivery: Json | None = None  # the transfer made: to, token, trade_id, tx_id

    def public(self) -> Json:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "token": {
                "contract_address": self.token_contract_address,
                "symbol": self.token_symbol,
                "quantity": self.token_quantity,
            },
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "trade_id": self.trade_id,
            "tx_id": self.tx_id,
            "settlement": self.settlement,
            "delivered_at": self.delivered_at,
            "delivery": self.delivery,
        }


def _text(body: Json, name: str, most: int = 200) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= most:
        raise BadRequestError(f"{name} must be a non-empty string")
    return value.strip()


def _buyer_from_request(body: Json) -> Buyer:
    user_id, email = body.get("user_id"), body.get("email")
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise BadRequestError("user_id must be 1-64 letters, digits or _.:-")
    if not isinstance(email, str) or len(email) > 254 or not _EMAIL.fullmatch(email):
        raise BadRequestError("email must be an e-mail address")
    # The wallet's form (0x + 40 hex digits, EIP-55 checksum when mixed case) is the API's to
    # judge: its 422 invalid_profile reaches the client as it is.
    return Buyer(user_id, email, _text(body, "name"), _text(body, "wallet_address", 100))


def _order_from_request(body: Json) -> Order:
    user_id, amount, currency = body.get("user_id"), body.get("amount"), body.get("currency")
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise BadRequestError("user_id must be 1-64 letters, digits or _.:-")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise BadRequestError("amount must be a positive integer in minor units")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise BadRequestError("currency must be a three-letter ISO 4217 code")
    quantity = body.get("token_quantity")
    if not isinstance(quantity, str) or not re.fullmatch(r"[0-9]+(\.[0-9]+)?", quantity.strip()):
        raise BadRequestError('token_quantity must be a decimal string, e.g. "10.5"')
    return Order(
        "ord_" + secrets.token_hex(10),
        user_id,
        _text(body, "token_contract_address", 100),
        _text(body, "token_symbol", 20),
        quantity.strip(),
        amount,
        currency.upper(),
    )


# --------------------------------------------------------------------------- the payments API


class MarketClient(ApiClient):
    """The lines of the payments API this app needs: profiles and trades."""

    def __init__(self, api_base: str, api_key: str) -> None:
        super().__init__(api_base, api_key, logger)

    def register_profile(self, buyer: Buyer) -> Json:
        """Register the buyer with the bank: ``{"profile_id", "cprn", "status": "pending" |
        "verified", ...}``. The Idempotency-Key comes from our user id, so a retry (after a
        timeout, a 5xx, a restart) answers the same profile instead of a second one."""
        body = {
            "external_customer_id": buyer.user_id,
            "email": buyer.email,
            "name": buyer.name,
            "wallet_address": buyer.wallet_address,
        }
        return self._post("/v1/profiles", body, {"Idempotency-Key": f"buyer-{buyer.user_id}"})

    def start_trade(self, order: Order, profile_id: str) -> Json:
        """Buy the order's tokens for the buyer's profile: ``{"trade_id", "tx_id", "status",
        "settlement", ...}``. One Idempotency-Key per order: a retry is the same trade."""
        body = {
            "profile_id": profile_id,
            "token_contract_address": order.token_contract_address,
            "token_symbol": order.token_symbol,
            "token_quantity": order.token_quantity,
            "amount": order.amount,
            "currency": order.currency,
            "description": f"{order.token_quantity} {order.token_symbol} (order {order.id})",
        }
        return self._post("/v1/trades", body, {"Idempotency-Key": f"order-{order.id}-trade"})


# --------------------------------------------------------------------------- the app


class MarketplaceApp(ExampleApp):
    """Buyers and orders in memory, an HTTP server on ``host:port``, trades through
    ``api_base``."""

    name = "marketplace"

    def setup(self, api_base: str, api_key: str) -> None:
        self._api = MarketClient(api_base, api_key)
        self._buyers: dict[str, Buyer] = {}  # by user id; all guarded by self._lock
        self._orders: dict[str, Order] = {}
        self._transfers: list[Json] = []  # every token transfer made, oldest first
        self._delivered_trades: set[str] = set()  # trade ids whose tokens went out

    def handler_class(self) -> type[_Handler]:
        return _Handler

    def close(self) -> None:
        self._api.close()

    def buyer(self, user_id: str) -> Json | None:
        with self._lock:
            buyer = self._buyers.get(user_id)
            return buyer.public() if buyer else None

    def order(self, order_id: str) -> Json | None:
        with self._lock:
            order = self._orders.get(order_id)
            return order.public() if order else None

    def transfers(self) -> list[Json]:
        with self._lock:
            return [dict(transfer) for transfer in self._transfers]

    # ----------------------------------------------------------------- buyers

    def register_buyer(self, body: Json) -> tuple[int, Json]:
        """Register a buyer with the bank (``POST /v1/profiles``). Registering one again
        answers the buyer as it is; one whose registration failed is asked for again, with the
        same Idempotency-Key."""
        buyer = _buyer_from_request(body)
        with self._lock:
            known = self._buyers.get(buyer.user_id)
            if known is not None and known.profile_id is not None:
                return 200, known.public()
            if known is None:
                self._buyers[buyer.user_id] = buyer
            else:
                known.email, known.name = buyer.email, buyer.name
                known.wallet_address = buyer.wallet_address
                buyer = known
            snapshot = dataclasses.replace(buyer)
        try:
            profile = self._api.register_profile(snapshot)
        except PaymentsApiError as error:
            logger.warning("registering %s failed: %s", snapshot.user_id, error)
            with self._lock:
                if buyer.profile_id is None:  # nothing to keep: register again
                    self._buyers.pop(buyer.user_id, None)
            return self._refused(error)
        with self._lock:
            buyer.profile_id = str(profile["profile_id"])
            buyer.cprn = None if profile.get("cprn") is None else str(profile["cprn"])
            # The bank may verify at once; otherwise profile.verified says so later (and may
            # even have arrived before this answer: it found the buyer by user id).
            buyer.verified = buyer.verified or profile.get("status") == "verified"
            return 201, buyer.public()

    # ----------------------------------------------------------------- orders

    def create_order(self, body: Json) -> tuple[int, Json]:
        order = _order_from_request(body)
        with self._lock:
            buyer = self._buyers.get(order.user_id)
            if buyer is None or buyer.profile_id is None:
                return 404, _error(
                    "buyer_not_found", f"no registered buyer {order.user_id}: POST /buyers first"
                )
            self._orders[order.id] = order
        return self.start_trade(order.id, created=True)

    def start_trade(self, order_id: str, *, created: bool = False) -> tuple[int, Json]:
        """Send the order's trade to the API. The API, not our copy of the buyer, decides
        whether the buyer is verified: a profile.verified callback may still be on its way."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                return 404, _error("order_not_found", f"no order {order_id}")
            if order.trade_id is not None or order.status != AWAITING_PAYMENT:
                return 200, order.public()  # already at the bank
            buyer = self._buyers[order.user_id]
            profile_id, snapshot = str(buyer.profile_id), dataclasses.replace(order)
        try:
            trade = self._api.start_trade(snapshot, profile_id)
        except PaymentsApiError as error:
            logger.warning("trade for %s failed: %s", order_id, error)
            return self._trade_refused(snapshot, error, created=created)
        with self._lock:
            buyer.verified = True  # the API traded for the profile: the bank has verified it
            order.trade_id = order.trade_id or str(trade["trade_id"])
            order.tx_id = None if trade.get("tx_id") is None else str(trade["tx_id"])
            order.settlement = None if trade.get("settlement") is None else str(trade["settlement"])
            return (201 if created else 200), order.public()

    def _trade_refused(
        self, order: Order, error: PaymentsApiError, *, created: bool
    ) -> tuple[int, Json]:
        """A refusal for what the client sent or for the buyer's state (409
        ``profile_not_verified``, 422 ``invalid_trade``...) is the client's to fix: the same
        status and code, and a new order is not kept. Anything else (5xx, the API not reached)
        is 502 with the order kept: ``POST /orders/<id>/trade`` later."""
        if error.status in (409, 422) and error.code != "idempotency_key_in_use":
            failure = self._refused(error)[1]
            if error.code == "profile_not_verified":
                failure["error"]["message"] = (
                    f"buyer {order.user_id} is not verified by the bank yet: order again once "
                    f"GET /buyers/{order.user_id} shows verified ({error.message})"
                )
            if created:
                with self._lock:
                    self._orders.pop(order.id, None)
            else:
                failure["order"] = order.public()
            return error.status, failure
        failure = self._refused(error)[1]
        failure["order"] = order.public()
        return 502, failure

    @staticmethod
    def _refused(error: PaymentsApiError) -> tuple[int, Json]:
        """The API's refusal, its code passed through: a 4xx as it is, anything else 502."""
        failure = _error(error.code, error.message)
        failure["error"]["api_status"] = error.status
        client_error = error.status is not None and 400 <= error.status < 500
        return (error.status if client_error and error.status else 502), failure

    # ----------------------------------------------------------------- callbacks
    # Verified and deduplicated on webhook-id by the kit's CallbackInbox (ExampleApp), which
    # calls these two.

    def parse_callback(self, payload: Json) -> tuple[str, Json | None]:
        """``{"type", "timestamp", "data": {"trade"|"profile": {...}}}`` -> (type, object)."""
        event_type, data = payload.get("type"), payload.get("data")
        if not isinstance(event_type, str) or not isinstance(data, dict):
            raise InvalidWebhookError("a callback has a string type and an object data")
        kind = event_type.partition(".")[0]
        if kind in ("trade", "profile"):
            subject = data.get(kind)
            if not isinstance(subject, dict):
                raise InvalidWebhookError(f"a {kind} callback carries data.{kind}")
            return event_type, subject
        return event_type, None

    def apply_callback_locked(self, event_type: str, subject: Json | None) -> str:
        """Move the buyer or the order the callback is about; returns what happened."""
        if subject is None or event_type not in CALLBACK_EVENT_TYPES:
            return "acknowledged"
        if event_type == "profile.verified":
            return self._verified_locked(subject)
        return self._trade_moved_locked(event_type, subject)

    def _verified_locked(self, profile: Json) -> str:
        # By our user id (the profile's external_customer_id): the callback may come before
        # the answer to POST /v1/profiles has given us the profile id.
        buyer = self._buyers.get(str(profile.get("external_customer_id")))
        if buyer is None:
            return "unknown buyer"
        if buyer.profile_id is not None and profile.get("profile_id") != buyer.profile_id:
            return "another profile"
        buyer.verified = True
        return f"buyer {buyer.user_id} verified"

    def _trade_moved_locked(self, event_type: str, trade: Json) -> str:
        """Order-insensitive: a late trade.succeeded never undoes SETTLED, FAILED is final
        before settlement, and the tokens go out once per trade, whatever the webhook-id."""
        trade_id = trade.get("trade_id")
        order = next((o for o in self._orders.values() if o.trade_id == trade_id), None)
        if order is None:
            return "unknown trade"
        order.settlement = None if trade.get("settlement") is None else str(trade["settlement"])
        if event_type == "trade.failed":
            if order.status in (AWAITING_PAYMENT, PAID):
                order.status = FAILED
                return f"order {order.id} {FAILED}"
            if order.status == SETTLED:
                logger.error("order %s: trade failed after its tokens were delivered", order.id)
            return f"order {order.id} stays {order.status}"
        if order.status == FAILED:  # the bank's FAILED is final
            return f"order {order.id} stays {FAILED}"
        problem = _mismatch(order, trade)
        if problem:
            logger.error("order %s: %s", order.id, problem)
            return f"{problem}: not moved"
        if event_type == "trade.succeeded":
            if order.status == AWAITING_PAYMENT:
                order.status = PAID
                return f"order {order.id} {PAID}"
            return f"order {order.id} stays {order.status}"
        order.status = SETTLED  # trade.settled, even if its trade.succeeded is still on its way
        return self._deliver_locked(order, trade)

    def _deliver_locked(self, order: Order, trade: Json) -> str:
        """Transfer the tokens to the buyer's wallet: once per trade. A real app sends the
        transaction here (or queues it, and answers the callback first), keyed by the trade id
        so that a retry cannot send it twice."""
        trade_id = str(trade["trade_id"])
        if trade_id in self._delivered_trades or order.delivery is not None:
            return f"order {order.id} {SETTLED}, tokens already delivered"
        token = trade.get("token") or {}
        wallet = str(trade.get("wallet_address") or self._buyers[order.user_id].wallet_address)
        sent = {
            "contract_address": str(token.get("contract_address", order.token_contract_address)),
            "symbol": str(token.get("symbol", order.token_symbol)),
            "quantity": str(token.get("quantity", order.token_quantity)),
        }
        delivery: Json = {
            "order_id": order.id,
            "trade_id": trade_id,
            "tx_id": trade.get("tx_id"),
            "to": wallet,
            "token": sent,
        }
        logger.info(
            "delivering %s %s (%s) to %s for order %s",
            sent["quantity"],
            sent["symbol"],
            sent["contract_address"],
            wallet,
            order.id,
        )
        self._delivered_trades.add(trade_id)
        order.delivered_at = now()
        order.delivery = delivery
        self._transfers.append({**delivery, "delivered_at": order.delivered_at})
        return f"order {order.id} {SETTLED}, tokens delivered"


def _mismatch(order: Order, trade: Json) -> str | None:
    """What in the trade is not what the order bought, or None."""
    token = trade.get("token")
    if isinstance(token, dict):
        if str(token.get("symbol")) != order.token_symbol:
            return "token mismatch"
        if str(token.get("contract_address")).lower() != order.token_contract_address.lower():
            return "token mismatch"
    if trade.get("amount") != order.amount or str(trade.get("currency")).upper() != order.currency:
        return "amount mismatch"
    return None


# --------------------------------------------------------------------------- HTTP


class _Handler(JsonHandler["MarketplaceApp"]):
    server_version = "MarketplaceExample/1.0"

    def route_get(self, target: SplitResult) -> None:
        app, path = self.app, target.path
        if match := _ORDER_PATH.fullmatch(path):
            order_id = match.group(1)
            self._found(app.order(order_id), "order_not_found", f"no order {order_id}")
        elif match := _BUYER_PATH.fullmatch(path):
            user_id = match.group(1)
            self._found(app.buyer(user_id), "buyer_not_found", f"no buyer {user_id}")
        elif path == "/_test/transfers" and app.test_switches:
            self._json(200, {"data": app.transfers()})
        else:
            self._json(404, _error("not_found", "no such route"))

    def route_post(self, path: str, body: bytes) -> None:
        app = self.app
        if path == "/buyers":
            self._json(*app.register_buyer(json_object(body)))
        elif path == "/orders":
            self._json(*app.create_order(json_object(body)))
        elif match := _TRADE_PATH.fullmatch(path):
            self._json(*app.start_trade(match.group(1)))
        else:
            self._json(404, _error("not_found", "no such route"))


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> None:
    """``python -m examples.marketplace --api-base URL --api-key KEY --secret whsec_...``"""
    run(
        MarketplaceApp,
        argv,
        prog="python -m examples.marketplace",
        description=__doc__,
        default_port=8081,
        title="Marketplace",
    )
