"""Stripe's events and webhooks: events of each action, signed deliveries, the endpoints API.

Deliveries go through the kit's outbox (one ordered queue per endpoint, retries with backoff,
duplicates and shuffled or reversed order when ``chaos`` says so); each attempt is signed afresh
with ``Stripe-Signature``, and an event's ``pending_webhooks`` counts the endpoints it has not
reached yet.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import cast

from devstack.sandboxes.kit import Delivery, Json, Outbox, Signer, is_loopback_url
from devstack.sandboxes.stripe.core import StripeCore
from devstack.sandboxes.stripe.errors import StripeApiError, invalid, mask_key, missing
from devstack.sandboxes.stripe.objects import (
    API_VERSION,
    AccountState,
    ApiCall,
    EndpointDelivery,
    RequestContext,
    random_id,
)
from devstack.sandboxes.stripe.params import check_url

WEBHOOK_RETRY_BACKOFF = (0.2, 0.5, 1.0, 2.0)  # seconds before each retry; then the delivery fails
WEBHOOK_TIMEOUT_SECONDS = 10.0
WEBHOOK_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
STALE_SIGNATURE_AGE_SECONDS = 600
_WEBHOOK_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "User-Agent": WEBHOOK_USER_AGENT,
}
_EVENT_TYPE = re.compile(r"\*|[a-z0-9_]+(\.[a-z0-9_]+)+")


def stripe_signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """``Stripe-Signature`` for a payload: v1 is HMAC-SHA256 keyed with the whole ``whsec_`` string.

    Test mode also carries a ``v0`` signature under another key, as Stripe's does: receivers must
    pick the ``v1`` entries rather than the first one.
    """
    signed = f"{timestamp}.".encode() + payload
    v1 = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    v0 = hmac.new(f"v0:{secret}".encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={v1},v0={v0}"


@dataclass(frozen=True)
class _Target:
    """Whose delivery it is: the event and endpoint it counts for."""

    account_id: str
    endpoint_id: str
    event_id: str


class Webhooks(StripeCore):
    """Events, their signed delivery to the account's webhook endpoints, and the endpoints API."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._outbox: Outbox[_Target] = Outbox(
            "stripe-sandbox-webhooks",
            self._delivery_finished,
            retry_backoff=WEBHOOK_RETRY_BACKOFF,
            timeout=WEBHOOK_TIMEOUT_SECONDS,
        )

    def on_stop(self) -> None:
        self._outbox.stop()

    def add_webhook_endpoint(
        self, secret_key: str, url: str, enabled_events: list[str] | None = None
    ) -> Json:
        """Like ``POST /v1/webhook_endpoints``: the endpoint with its ``secret`` (whsec_...)."""
        with self._lock:
            state = self._accounts_by_key.get(secret_key)
            if state is None:
                raise StripeApiError(401, f"Invalid API Key provided: {mask_key(secret_key)}")
            return self._create_webhook_endpoint(
                state, url, enabled_events or ["*"], description=None, metadata={}, api_version=None
            )

    def wait_for_deliveries(self, timeout: float = 10) -> bool:
        """True once no webhook is queued, in flight or awaiting a retry (or a pending refund)."""
        return self._outbox.wait_idle(timeout)

    # ----------------------------------------------------------------- events and delivery

    def _emit(
        self,
        state: AccountState,
        batch: list[Json],
        event_type: str,
        obj: Json,
        context: RequestContext | None,
        previous_attributes: Json | None = None,
    ) -> None:
        endpoints = [
            endpoint
            for endpoint in state.objects["webhook_endpoint"].values()
            if endpoint["status"] == "enabled"
            and ("*" in endpoint["enabled_events"] or event_type in endpoint["enabled_events"])
        ]
        data: Json = {"object": copy.deepcopy(obj)}
        if previous_attributes:
            data["previous_attributes"] = previous_attributes
        event: Json = {
            "id": random_id("evt_1"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self._now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": len(endpoints),
            "request": {
                "id": context.request_id if context else None,
                "idempotency_key": context.idempotency_key if context else None,
            },
            "type": event_type,
        }
        state.objects["event"][event["id"]] = event
        state.deliveries[event["id"]] = {
            endpoint["id"]: EndpointDelivery() for endpoint in endpoints
        }
        batch.append(event)

    def _dispatch(self, state: AccountState, batch: list[Json]) -> None:
        """Queue one action's events for every endpoint, in order unless chaos says otherwise."""
        if not batch:
            return
        chaos = self.chaos
        copies = 1 + max(0, int(chaos.duplicate_deliveries))
        for endpoint_id, endpoint in state.objects["webhook_endpoint"].items():
            wanted = [event for event in batch if endpoint_id in state.deliveries[event["id"]]]
            if not wanted:
                continue
            sign = self._signer(state.webhook_secrets[endpoint_id])
            for event in wanted:
                state.deliveries[event["id"]][endpoint_id].outstanding += copies
            self._outbox.dispatch(
                [
                    Delivery(
                        queue=endpoint_id,
                        url=endpoint["url"],
                        body=json.dumps(event, indent=2, ensure_ascii=False).encode("utf-8"),
                        context=_Target(state.account.id, endpoint_id, event["id"]),
                        headers=_WEBHOOK_HEADERS,
                        sign=sign,
                        label=event["id"],
                    )
                    for event in wanted
                ],
                duplicates=copies - 1,
                shuffle=chaos.shuffle,
                reverse=chaos.reverse,
            )

    def _signer(self, secret: str) -> Signer:
        def sign(body: bytes) -> dict[str, str]:
            timestamp = int(time.time())
            if self.chaos.stale_signature:
                timestamp -= STALE_SIGNATURE_AGE_SECONDS
            return {"Stripe-Signature": stripe_signature_header(body, secret, timestamp)}

        return sign

    def _delivery_finished(self, delivery: Delivery[_Target], delivered: bool) -> None:
        target = delivery.context
        with self._lock:
            state = self._accounts.get(target.account_id)
            if state is None:
                return
            status = state.deliveries.get(target.event_id, {}).get(target.endpoint_id)
            event = state.objects["event"].get(target.event_id)
            if status is None or event is None:
                return
            status.outstanding -= 1
            if delivered and not status.succeeded:
                status.succeeded = True
                event["pending_webhooks"] = max(0, int(event["pending_webhooks"]) - 1)
            if status.outstanding <= 0 and not status.succeeded:
                status.failed = True

    # ----------------------------------------------------------------- events and endpoints API

    def _api_list_events(self, call: ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {
                "type",
                "types",
                "delivery_success",
                "limit",
                "starting_after",
                "ending_before",
                "created",
                "expand",
            }
        )
        event_type = params.string("type")
        types = params.strings("types")
        if event_type is not None and types is not None:
            raise invalid("types", "You may only specify one of these parameters: type, types.")
        if types is not None and len(types) > 20:
            raise invalid("types", "You may pass at most 20 types.")
        patterns = types if types is not None else [event_type] if event_type else None
        delivery_success = params.boolean("delivery_success")
        created = self._created_filter(params)
        with self._lock:
            events = [
                event
                for event in call.state.objects["event"].values()
                if (
                    patterns is None
                    or any(fnmatch.fnmatchcase(event["type"], pattern) for pattern in patterns)
                )
                and (
                    delivery_success is None
                    or (int(event["pending_webhooks"]) == 0) == delivery_success
                )
                and created(event)
            ]
            return self._page(call, events, "/v1/events")

    def _create_webhook_endpoint(
        self,
        state: AccountState,
        url: str,
        enabled_events: list[str],
        *,
        description: str | None,
        metadata: dict[str, str],
        api_version: str | None,
    ) -> Json:
        check_url(url, "url")
        if not is_loopback_url(url):
            raise invalid(
                "url",
                "The sandbox delivers webhooks only to loopback hosts (127.0.0.1, localhost).",
            )
        if not enabled_events:
            raise missing("enabled_events")
        for index, event_type in enumerate(enabled_events):
            if _EVENT_TYPE.fullmatch(event_type) is None:
                raise invalid(
                    f"enabled_events[{index}]",
                    f"Invalid event type in enabled_events: {event_type}",
                )
        endpoint: Json = {
            "id": random_id("we_1"),
            "object": "webhook_endpoint",
            "api_version": api_version,
            "application": None,
            "created": self._now(),
            "description": description,
            "enabled_events": list(enabled_events),
            "livemode": False,
            "metadata": metadata,
            "status": "enabled",
            "url": url,
        }
        secret = random_id("whsec_", 32)
        with self._lock:
            state.objects["webhook_endpoint"][endpoint["id"]] = endpoint
            state.webhook_secrets[endpoint["id"]] = secret
        # The secret is shown once, at creation, as Stripe does.
        return {**copy.deepcopy(endpoint), "secret": secret}

    def _api_create_webhook_endpoint(self, call: ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {"url", "enabled_events", "description", "metadata", "api_version", "connect", "expand"}
        )
        if params.boolean("connect"):
            raise invalid("connect", "The sandbox does not model Connect endpoints.")
        url = cast(str, params.url("url", required=True))
        enabled_events = params.strings("enabled_events")
        if not enabled_events:
            raise missing("enabled_events")
        return self._create_webhook_endpoint(
            call.state,
            url,
            enabled_events,
            description=params.string("description", max_length=5000),
            metadata=params.metadata(),
            api_version=params.string("api_version"),
        )

    def _api_list_webhook_endpoints(self, call: ApiCall) -> Json:
        call.params.reject_unknown({"limit", "starting_after", "ending_before", "expand"})
        with self._lock:
            endpoints = list(call.state.objects["webhook_endpoint"].values())
            return self._page(call, endpoints, "/v1/webhook_endpoints")

    def _api_delete_webhook_endpoint(self, call: ApiCall) -> Json:
        with self._lock:
            call.state.get("webhook_endpoint", call.path_id)
            del call.state.objects["webhook_endpoint"][call.path_id]
            return {"id": call.path_id, "object": "webhook_endpoint", "deleted": True}
