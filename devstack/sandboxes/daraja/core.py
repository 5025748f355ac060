"""The core of the Daraja sandbox: apps, OAuth tokens, bearer authentication and throttling.

``GET /oauth/v1/generate?grant_type=client_credentials`` with ``Basic base64(key:secret)`` of a
registered app answers ``{"access_token", "expires_in": "3599"}``. Only an app's newest token is
valid (a new token request invalidates the previous one, as Daraja's does), and only until it
expires. Every token issued is counted per app, so a test can prove how many OAuth requests a
client made.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
import time
from collections.abc import Sequence

from devstack.http_server import Response
from devstack.sandboxes.daraja.errors import (
    BAD_REQUEST,
    INTERNAL_ERROR,
    INVALID_GRANT_TYPE,
    NOT_FOUND,
    QUOTA_VIOLATION,
    SPIKE_ARREST,
    DarajaError,
    invalid_authentication,
    invalid_token,
)
from devstack.sandboxes.daraja.objects import (
    App,
    AppState,
    ChaosSettings,
    Push,
    Settings,
    Token,
    access_token,
    random_text,
)
from devstack.sandboxes.kit import Request, Sandbox, SandboxError

_SHORTCODE = re.compile(r"\d{5,7}")
_CREDENTIAL = re.compile(r"[A-Za-z0-9]{8,64}")
_PASSKEY = re.compile(r"[ -~]{8,128}")


class DarajaCore(Sandbox):
    """What every part of the sandbox shares: apps, tokens, pushes, the lock and the switches."""

    server_name = "DarajaSandbox/1.0"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.settings = Settings()
        self.chaos = ChaosSettings()
        self._lock = threading.RLock()
        self._apps: dict[str, AppState] = {}  # by consumer key
        self._tokens: dict[str, str] = {}  # token -> consumer key (newest token of each app)
        self._pushes: dict[str, Push] = {}  # by CheckoutRequestID
        self.router.add("GET", "/oauth/v1/generate", self._oauth_generate)

    # ----------------------------------------------------------------- the provider's shape

    def error(self, status: int, message: str, *, field: str | None = None) -> SandboxError:
        if status >= 500:
            return DarajaError(status, INTERNAL_ERROR, message)
        text = f"{field}: {message}" if field else message
        return DarajaError(status, BAD_REQUEST if status == 400 else f"{status}.000.00", text)

    def no_route(self, request: Request, allowed: Sequence[str]) -> SandboxError:
        return DarajaError(404, NOT_FOUND, "Resource not found")

    # ----------------------------------------------------------------- apps

    def create_app(
        self,
        *,
        shortcode: str = "174379",
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        passkey: str | None = None,
        till: str | None = None,
    ) -> App:
        """Register a Daraja app (generated credentials unless given). Registering a consumer key
        again with the same values returns that app; with other values it is refused."""
        app = App(
            consumer_key=consumer_key or random_text(48),
            consumer_secret=consumer_secret or random_text(64),
            shortcode=shortcode,
            passkey=passkey or random_text(64).lower(),
            till=till,
        )
        for name, value, pattern in (
            ("consumer_key", app.consumer_key, _CREDENTIAL),
            ("consumer_secret", app.consumer_secret, _CREDENTIAL),
            ("shortcode", app.shortcode, _SHORTCODE),
            ("passkey", app.passkey, _PASSKEY),
        ):
            if pattern.fullmatch(value) is None:
                raise DarajaError(400, BAD_REQUEST, f"Bad Request - Invalid {name}")
        if till is not None and _SHORTCODE.fullmatch(till) is None:
            raise DarajaError(400, BAD_REQUEST, "Bad Request - Invalid till")
        with self._lock:
            existing = self._apps.get(app.consumer_key)
            if existing is not None:
                if existing.app != app:
                    raise DarajaError(
                        400, BAD_REQUEST, "An app with this consumer_key has other credentials"
                    )
                return existing.app
            self._apps[app.consumer_key] = AppState(app)
            return app

    def apps(self) -> list[AppState]:
        with self._lock:
            return list(self._apps.values())

    def token_requests(self, consumer_key: str) -> int:
        """How many tokens this app was issued."""
        with self._lock:
            return self._apps[consumer_key].token_requests

    # ----------------------------------------------------------------- OAuth

    def _oauth_generate(self, request: Request) -> Response:
        state = self._basic_auth(request.headers.get("authorization", ""))
        if request.query_value("grant_type") != "client_credentials":
            raise DarajaError(400, INVALID_GRANT_TYPE, "Invalid grant type passed")
        lifetime = self.settings.token_lifetime_seconds
        token = Token(access_token(), time.monotonic() + lifetime)
        with self._lock:
            if state.token is not None:
                self._tokens.pop(state.token.value, None)
            state.token = token
            state.token_requests += 1
            self._tokens[token.value] = state.app.consumer_key
        return self.json(200, {"access_token": token.value, "expires_in": str(lifetime)})

    def _basic_auth(self, authorization: str) -> AppState:
        scheme, _, encoded = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise invalid_authentication()
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise invalid_authentication() from None
        key, separator, secret = decoded.partition(":")
        with self._lock:
            state = self._apps.get(key)
        if (
            not separator
            or state is None
            or not hmac.compare_digest(secret.encode(), state.app.consumer_secret.encode())
        ):
            raise invalid_authentication()
        return state

    # ----------------------------------------------------------------- API requests

    def _bearer(self, request: Request) -> AppState:
        """The app whose newest, unexpired token authorises ``request``."""
        scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer":
            raise invalid_token()
        with self._lock:
            consumer_key = self._tokens.get(value.strip())
            state = self._apps.get(consumer_key) if consumer_key else None
            if state is None or state.token is None or state.token.expires_at <= time.monotonic():
                raise invalid_token()
            return state

    def _throttle(self, state: AppState, *, push: bool) -> None:
        """Daraja's gateway limits: quota on every call, spike arrest on pushes."""
        with self._lock:
            chaos = self.chaos
            if chaos.quota_exceeded_next > 0:
                chaos.quota_exceeded_next -= 1
                raise DarajaError(500, QUOTA_VIOLATION, "Quota Violation")
            if not push:
                return
            if chaos.spike_arrest_next > 0:
                chaos.spike_arrest_next -= 1
                raise DarajaError(500, SPIKE_ARREST, "Spike arrest violation")
            now = time.monotonic()
            interval = self.settings.spike_arrest_seconds
            last = state.last_push_at
            if interval > 0 and last is not None and now - last < interval:
                raise DarajaError(500, SPIKE_ARREST, "Spike arrest violation")
            state.last_push_at = now
