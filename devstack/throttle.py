"""API Gateway's usage plans, played by the local gateway: per-tenant throttling.

With the API's key source ``AUTHORIZER``, API Gateway takes the ``usageIdentifierKey`` the
authorizer returned, finds the usage plan holding that key on this API stage and throttles the
call with the plan's token bucket (``rateLimit`` tokens per second, ``burstLimit`` deep). A
method that requires a key and gets none, or one in no plan of the stage, is refused 403
(``INVALID_API_KEY``); a call over the bucket is refused 429 (``THROTTLED``). Both answers
come from the template's GatewayResponses, like every other gateway error.

Keys and plans live in the embedded AWS (created by devstack/provision.py and by payctl), so a
`payctl limits set` reaches the gateway once its short plan cache expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3

from devstack.template import ApiRoute, LocalStack

INVALID_API_KEY = ("INVALID_API_KEY", 403, "Forbidden")
THROTTLED = ("THROTTLED", 429, "Too Many Requests")
# How long a key's plan is reused before the embedded AWS is asked again.
PLAN_CACHE_SECONDS = 1.0


class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` per second; each call takes one."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.updated = now

    def resize(self, rate: float, burst: int) -> None:
        """A changed plan applies from now on, without handing out a fresh burst."""
        self.rate, self.burst = rate, burst
        self.tokens = min(self.tokens, float(burst))

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(frozen=True)
class KeyPlan:
    """The usage plan that meters one key on this stage; no throttle means unthrottled."""

    key_id: str
    plan_id: str
    rate_limit: float | None
    burst_limit: int | None


PlanLookup = Callable[[str], KeyPlan | None]


class MotoPlanLookup:
    """Finds a key value's plan in the embedded AWS, as API Gateway does in its own."""

    def __init__(self, stack: LocalStack, api_logical_id: str) -> None:
        self.stack = stack
        self.api_logical_id = api_logical_id
        self._key_ids: dict[str, str] = {}
        self._lock = threading.Lock()

    @cached_property
    def _client(self) -> Any:
        return boto3.client("apigateway", region_name=self.stack.region)

    def __call__(self, key_value: str) -> KeyPlan | None:
        key = self._enabled_key_id(key_value)
        if key is None:
            return None
        api_id = self.stack.physical_ids.get(self.api_logical_id)
        stage = self.stack.physical_ids.get(f"{self.api_logical_id}.Stage")
        for page in self._client.get_paginator("get_usage_plans").paginate(keyId=key):
            for plan in page.get("items", []):
                stages = {(s.get("apiId"), s.get("stage")) for s in plan.get("apiStages") or []}
                if (api_id, stage) not in stages:
                    continue
                throttle = plan.get("throttle") or {}
                return KeyPlan(
                    key_id=key,
                    plan_id=str(plan["id"]),
                    rate_limit=float(throttle["rateLimit"]) if "rateLimit" in throttle else None,
                    burst_limit=int(throttle["burstLimit"]) if "burstLimit" in throttle else None,
                )
        return None

    def _enabled_key_id(self, key_value: str) -> str | None:
        with self._lock:
            key_id = self._key_ids.get(key_value)
        if key_id is None:
            for page in self._client.get_paginator("get_api_keys").paginate(includeValues=True):
                with self._lock:
                    self._key_ids.update({k["value"]: k["id"] for k in page.get("items", [])})
            with self._lock:
                key_id = self._key_ids.get(key_value)
        if key_id is None:
            return None
        client = self._client
        try:
            enabled = bool(client.get_api_key(apiKey=key_id).get("enabled"))
        except client.exceptions.NotFoundException:
            with self._lock:
                self._key_ids.pop(key_value, None)
            return None
        return key_id if enabled else None


def key_required_routes(stack: LocalStack) -> set[tuple[str, str]]:
    """(METHOD, path) of every route whose method requires an API key: the event's own
    ``Auth.ApiKeyRequired``, else the API's, as SAM decides."""
    api_default = False
    for _, spec in stack.resources_of_type("AWS::Serverless::Api"):
        api_default = bool(((spec.get("Properties") or {}).get("Auth") or {}).get("ApiKeyRequired"))
    required: set[tuple[str, str]] = set()
    for spec in stack.functions().values():
        for event in ((spec.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "Api":
                continue
            properties = event.get("Properties") or {}
            auth = properties.get("Auth") or {}
            if bool(auth.get("ApiKeyRequired", api_default)):
                required.add((str(properties["Method"]).upper(), str(properties["Path"])))
    return required


class UsagePlanThrottle:
    """What API Gateway does between the authorizer and the integration, for usage plans."""

    def __init__(
        self,
        stack: LocalStack,
        *,
        lookup: PlanLookup | None = None,
        clock: Callable[[], float] = time.monotonic,
        plan_cache_seconds: float = PLAN_CACHE_SECONDS,
    ) -> None:
        self.required = key_required_routes(stack)
        apis = [logical_id for logical_id, _ in stack.resources_of_type("AWS::Serverless::Api")]
        self.lookup = lookup or MotoPlanLookup(stack, apis[0] if apis else "")
        self.clock = clock
        self.plan_cache_seconds = plan_cache_seconds
        self._plans: dict[str, tuple[float, KeyPlan | None]] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def admit(self, route: ApiRoute, event: dict[str, Any]) -> tuple[str, int, str] | None:
        """None to go on to the function, or the gateway error to answer instead."""
        if (route.method, route.path) not in self.required:
            return None
        identity = event["requestContext"].setdefault("identity", {})
        key_value = identity.get("apiKey")
        if not key_value:
            return INVALID_API_KEY
        plan = self._plan(str(key_value))
        if plan is None:
            return INVALID_API_KEY
        identity["apiKeyId"] = plan.key_id
        if plan.rate_limit is None or plan.burst_limit is None:
            return None
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(plan.key_id)
            if bucket is None:
                bucket = self._buckets[plan.key_id] = TokenBucket(
                    plan.rate_limit, plan.burst_limit, now
                )
            elif (bucket.rate, bucket.burst) != (plan.rate_limit, plan.burst_limit):
                bucket.resize(plan.rate_limit, plan.burst_limit)
            allowed = bucket.take(now)
        return None if allowed else THROTTLED

    def _plan(self, key_value: str) -> KeyPlan | None:
        now = self.clock()
        with self._lock:
            cached = self._plans.get(key_value)
        if cached is not None and cached[0] > now:
            return cached[1]
        plan = self.lookup(key_value)
        with self._lock:
            self._plans[key_value] = (now + self.plan_cache_seconds, plan)
        return plan
