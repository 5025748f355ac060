"""The core of the Stripe sandbox: accounts, the clock, and the API's request handling.

An API request is authenticated by its secret key, routed, decoded from Stripe's form encoding,
run once per idempotency key and answered with ``Request-Id``; objects are rendered with
``expand`` and listed with Stripe's cursor paging.
"""

from __future__ import annotations

import base64
import copy
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from devstack.http_server import Response
from devstack.sandboxes.kit import Json, Request, Router, Sandbox, SandboxError
from devstack.sandboxes.kit.routing import NoRouteError
from devstack.sandboxes.stripe.errors import StripeApiError, invalid, mask_key, no_such
from devstack.sandboxes.stripe.objects import (
    API_VERSION,
    Account,
    AccountState,
    ApiCall,
    ChaosSettings,
    RequestContext,
    StoredResponse,
    random_id,
)
from devstack.sandboxes.stripe.params import Params, decode_form

IDEMPOTENCY_KEY_MAX_LENGTH = 255
IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600

ApiHandler = Callable[[ApiCall], Json]


class StripeCore(Sandbox):
    """What every part of the sandbox shares: accounts, their objects, the lock and the clock."""

    server_name = "StripeSandbox/1.0"
    json_indent = 2

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.chaos = ChaosSettings()
        self._lock = threading.RLock()
        self._accounts: dict[str, AccountState] = {}  # by account id
        self._accounts_by_key: dict[str, AccountState] = {}
        self._revoked_keys: set[str] = set()
        self._owners: dict[str, AccountState] = {}  # object id -> its account, for page/admin
        self._clock_offset = 0.0
        self.api: Router[ApiHandler] = Router()
        self.router.add("*", "/v1/{rest:path}", self._handle_api)

    # ----------------------------------------------------------------- the provider's shape

    def error(self, status: int, message: str, *, field: str | None = None) -> SandboxError:
        if status >= 500:
            return StripeApiError(status, message, error_type="api_error")
        if field is not None:
            return invalid(field, message)
        return StripeApiError(status, message)

    def no_route(self, request: Request, allowed: Sequence[str]) -> SandboxError:
        return StripeApiError(404, f"Unrecognized request URL ({request.method}: {request.path}).")

    # ----------------------------------------------------------------- accounts and clock

    def create_account(self, secret_key: str | None = None) -> Account:
        """Register an account (or return the one that already has this key)."""
        key = secret_key or random_id("sk_test_51", 48)
        if not key.startswith("sk_test_") or len(key) < 16:
            raise StripeApiError(
                400, "The sandbox accepts only test secret keys (sk_test_..., 16+ characters)"
            )
        with self._lock:
            existing = self._accounts_by_key.get(key)
            if existing is not None:
                return existing.account
            account = Account(id=random_id("acct_1", 15), secret_key=key)
            state = AccountState(account)
            self._accounts[account.id] = state
            self._accounts_by_key[key] = state
            return account

    def revoke_key(self, secret_key: str) -> None:
        """Revoke a secret key (as rolling it in the Dashboard does): it answers 401 from now."""
        with self._lock:
            if self._accounts_by_key.pop(secret_key, None) is None:
                raise StripeApiError(404, "No such API key.")
            self._revoked_keys.add(secret_key)

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox's clock (``created``, expiry) forward; signatures keep real time."""
        with self._lock:
            self._clock_offset += seconds

    # ----------------------------------------------------------------- API requests

    def _handle_api(self, request: Request) -> Response:
        request_id = random_id("req_", 14)
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": request.headers.get("stripe-version", API_VERSION),
        }
        try:
            state = self._authenticate(request.headers)
            if request.headers.get("stripe-account"):
                raise StripeApiError(400, "The sandbox does not model Connect (Stripe-Account).")
            try:
                handler, request = self.api.match(request)
            except NoRouteError as missing:
                raise self.no_route(request, missing.allowed) from None
            path_id = request.params.get("id", "")
            if request.method == "POST":
                content_type = request.headers.get("content-type", "")
                if request.body and not content_type.startswith(
                    "application/x-www-form-urlencoded"
                ):
                    raise StripeApiError(
                        400,
                        "Invalid request: Stripe's API takes application/x-www-form-urlencoded "
                        f"bodies, not {content_type or 'an unlabelled body'}.",
                    )
                try:
                    pairs = request.form_pairs()
                except UnicodeDecodeError as exc:
                    raise StripeApiError(400, "Invalid request: the body is not UTF-8.") from exc
            else:
                pairs = request.query_pairs()
            params = Params(decode_form(pairs))
            key = request.headers.get("idempotency-key") if request.method == "POST" else None
            if key is not None:
                headers["Idempotency-Key"] = key
            context = RequestContext(request_id, key)

            def execute() -> Response:
                try:
                    expand = params.strings("expand") or []
                    call = ApiCall(state, params, context, path_id, expand)
                    return self.json(200, handler(call), headers)
                except StripeApiError as exc:
                    return self.json(exc.status, exc.body(), headers)

            if key is None:
                return execute()
            fingerprint = (request.method, request.path, tuple(sorted(pairs)))
            return self._idempotent(state, key, fingerprint, request_id, execute)
        except StripeApiError as exc:
            return self.json(exc.status, exc.body(), headers)

    def _authenticate(self, headers: Mapping[str, str]) -> AccountState:
        authorization = headers.get("authorization", "").strip()
        if not authorization:
            raise StripeApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        scheme, _, credentials = authorization.partition(" ")
        key = credentials.strip()
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(key, validate=True).decode("utf-8").partition(":")[0]
            except ValueError:
                key = ""
        elif scheme.lower() != "bearer":
            key = ""
        if key.startswith("pk_"):
            raise StripeApiError(
                401,
                "This API call cannot be made with a publishable API key. Please use a "
                "secret API key.",
            )
        with self._lock:
            state = self._accounts_by_key.get(key)
            revoked = key in self._revoked_keys
        if revoked:
            raise StripeApiError(
                401, f"Expired API Key provided: {mask_key(key)}", code="api_key_expired"
            )
        if state is None:
            raise StripeApiError(401, f"Invalid API Key provided: {mask_key(key)}")
        return state

    def _idempotent(
        self,
        state: AccountState,
        key: str,
        fingerprint: tuple[str, str, tuple[tuple[str, str], ...]],
        request_id: str,
        execute: Callable[[], Response],
    ) -> Response:
        if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise StripeApiError(
                400,
                f"Idempotency keys can be no longer than {IDEMPOTENCY_KEY_MAX_LENGTH} characters; "
                f"yours is {len(key)}.",
            )
        with self._lock:
            key_lock = state.idempotency_locks.setdefault(key, threading.Lock())
        # Requests with one key run one at a time: the second waits, then replays the first.
        with key_lock:
            with self._lock:
                stored = state.idempotency.get(key)
                if (
                    stored is not None
                    and time.time() - stored.stored_at > IDEMPOTENCY_KEY_TTL_SECONDS
                ):
                    del state.idempotency[key]
                    stored = None
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise StripeApiError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        f"they were first used with. Try using a key other than '{key}' if you "
                        "meant to execute a different request.",
                        error_type="idempotency_error",
                    )
                replay = copy.deepcopy(stored.response)
                replay.headers["Idempotent-Replayed"] = "true"
                replay.headers["Original-Request"] = stored.request_id
                replay.headers["Request-Id"] = request_id
                return replay
            response = execute()
            # Like Stripe, only requests that got to run are remembered; rejected ones may retry.
            if response.status < 400:
                with self._lock:
                    state.idempotency[key] = StoredResponse(
                        fingerprint, response, request_id, time.time()
                    )
            return response

    # ----------------------------------------------------------------- shared helpers

    def _now(self) -> int:
        return int(time.time() + self._clock_offset)

    def _owner_of(self, object_id: str, object_type: str) -> AccountState:
        state = self._owners.get(object_id)
        if state is None:
            no_such(object_type, object_id)
        return state

    def _render(self, state: AccountState, obj: Json, expand: list[str]) -> Json:
        rendered = copy.deepcopy(obj)
        for path in expand:
            parts = path.split(".")
            if len(parts) > 4:
                raise invalid("expand", f"You cannot expand more than 4 levels ({path}).")
            self._expand(state, rendered, parts, path)
        return rendered

    def _expand(self, state: AccountState, node: Json, parts: list[str], path: str) -> None:
        head, rest = parts[0], parts[1:]
        if node.get("object") == "list" and head == "data" and rest:
            for item in node["data"]:
                self._expand(state, item, rest, path)
            return
        value = node.get(head)
        if head == "line_items" and node.get("object") == "checkout.session":
            node[head] = self._line_items_list(state, str(node["id"]), Params({}))
        elif isinstance(value, str) and head not in ("id", "object"):
            target = state.lookup(value)
            if target is None:
                raise invalid("expand", f"This property cannot be expanded ({path}).")
            node[head] = copy.deepcopy(target)
        elif not (head in node and (value is None or isinstance(value, dict))):
            raise invalid("expand", f"This property cannot be expanded ({path}).")
        child = node.get(head)
        if rest and isinstance(child, dict):
            self._expand(state, child, rest, path)

    def _page(self, call: ApiCall, items: list[Json], url: str) -> Json:
        """A list object from ``items`` (oldest first): newest first, Stripe's cursor paging."""
        params = call.params
        limit = params.integer("limit", minimum=1, maximum=100) or 10
        ordered = list(reversed(items))
        ids = [item["id"] for item in ordered]
        starting_after = params.string("starting_after")
        ending_before = params.string("ending_before")
        if starting_after is not None and ending_before is not None:
            raise invalid(
                "ending_before",
                "You may only specify one of these parameters: ending_before, starting_after.",
            )
        if starting_after is not None:
            if starting_after not in ids:
                no_such("object", starting_after, param="starting_after", status=400)
            remaining = ordered[ids.index(starting_after) + 1 :]
            data, has_more = remaining[:limit], len(remaining) > limit
        elif ending_before is not None:
            if ending_before not in ids:
                no_such("object", ending_before, param="ending_before", status=400)
            before = ordered[: ids.index(ending_before)]
            data, has_more = before[-limit:], len(before) > limit
        else:
            data, has_more = ordered[:limit], len(ordered) > limit
        page: Json = {"object": "list", "data": data, "has_more": has_more, "url": url}
        return self._render(call.state, page, call.expand)

    @staticmethod
    def _created_filter(params: Params) -> Callable[[Json], bool]:
        if not params.given("created"):
            return lambda _obj: True
        if isinstance(params.data["created"], str):
            exact = params.integer("created")
            return lambda obj: obj["created"] == exact
        bounds = params.nested("created")
        bounds.reject_unknown({"gt", "gte", "lt", "lte"})
        gt, gte = bounds.integer("gt"), bounds.integer("gte")
        lt, lte = bounds.integer("lt"), bounds.integer("lte")

        def within(obj: Json) -> bool:
            created = int(obj["created"])
            return (
                (gt is None or created > gt)
                and (gte is None or created >= gte)
                and (lt is None or created < lt)
                and (lte is None or created <= lte)
            )

        return within

    def _retriever(self, object_type: str) -> ApiHandler:
        def retrieve(call: ApiCall) -> Json:
            call.params.reject_unknown({"expand"})
            with self._lock:
                obj = call.state.get(object_type, call.path_id)
                return self._render(call.state, obj, call.expand)

        return retrieve

    def _line_items_list(self, state: AccountState, session_id: str, params: Params) -> Json:
        items = state.session_extras[session_id].line_items
        limit = params.integer("limit", minimum=1, maximum=100) or 10
        return {
            "object": "list",
            "data": copy.deepcopy(items[:limit]),
            "has_more": len(items) > limit,
            "url": f"/v1/checkout/sessions/{session_id}/line_items",
        }
