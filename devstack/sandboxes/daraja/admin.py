"""The sandbox's own endpoints (no authentication, loopback only), for tests and people:

- ``POST /_sandbox/apps`` ``{"shortcode", "consumer_key"?, "consumer_secret"?, "passkey"?,
  "till"?}`` -> 201, the app with its credentials (generated unless given);
- ``GET /_sandbox/apps`` -> ``{"data": [...]}`` and ``GET /_sandbox/apps/{consumer_key}``: each
  app without its secret and passkey, with ``token_requests`` (tokens issued so far);
- ``GET /_sandbox/pushes[?consumer_key=]`` -> ``{"data": [...]}`` and
  ``GET /_sandbox/pushes/{CheckoutRequestID}``: what was pushed, how it ended, the callbacks sent
  (body and whether the receiver answered 2xx) and the push's ``phone_url``;
- ``GET|POST /_sandbox/settings`` (token lifetime, Timestamp window, spike arrest interval,
  "no answer" delay, callback source address) and ``GET|POST /_sandbox/chaos``, each with
  ``POST .../reset``;
- ``POST /_sandbox/wait_for_callbacks`` ``{"timeout": 10}`` -> ``{"idle": true|false}``.
"""

from __future__ import annotations

from devstack.sandboxes.daraja.errors import BAD_REQUEST, NOT_FOUND, DarajaError
from devstack.sandboxes.daraja.objects import AppState, Push
from devstack.sandboxes.daraja.phone import Phone
from devstack.sandboxes.kit import Json, Request

_APP_FIELDS = ("shortcode", "consumer_key", "consumer_secret", "passkey", "till")


class Admin(Phone):
    """Registering apps, listing apps and pushes, waiting for callbacks."""

    def pushes(self, consumer_key: str | None = None) -> list[Json]:
        """Every push (one app's when ``consumer_key`` is given), oldest first."""
        with self._lock:
            return [
                self._push_view(push)
                for push in self._pushes.values()
                if consumer_key is None or push.consumer_key == consumer_key
            ]

    def push(self, checkout_request_id: str) -> Json:
        with self._lock:
            found = self._pushes.get(checkout_request_id)
            if found is None:
                raise DarajaError(404, NOT_FOUND, f"No such push: {checkout_request_id}")
            return self._push_view(found)

    def _push_view(self, push: Push) -> Json:
        return {**push.view(), "phone_url": self.phone_url(push.checkout_request_id)}

    @staticmethod
    def _app_view(state: AppState) -> Json:
        return {**state.app.public(), "token_requests": state.token_requests}

    # ----------------------------------------------------------------- admin (HTTP)

    def _admin_create_app(self, _request: Request, payload: Json) -> Json:
        values: dict[str, str] = {}
        for name in _APP_FIELDS:
            value = payload.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise DarajaError(400, BAD_REQUEST, f"Bad Request - Invalid {name}")
            values[name] = value
        unknown = sorted(set(payload) - set(_APP_FIELDS))
        if unknown:
            raise DarajaError(400, BAD_REQUEST, f"Bad Request - unknown field {unknown[0]}")
        app = self.create_app(**values)
        return {
            "consumer_key": app.consumer_key,
            "consumer_secret": app.consumer_secret,
            "shortcode": app.shortcode,
            "passkey": app.passkey,
            "till": app.till,
        }

    def _admin_list_apps(self, _request: Request, _payload: Json) -> Json:
        return {"data": [self._app_view(state) for state in self.apps()]}

    def _admin_get_app(self, request: Request, _payload: Json) -> Json:
        key = request.params["consumer_key"]
        with self._lock:
            state = self._apps.get(key)
            if state is None:
                raise DarajaError(404, NOT_FOUND, "No such app")
            return self._app_view(state)

    def _admin_list_pushes(self, request: Request, _payload: Json) -> Json:
        return {"data": self.pushes(request.query_value("consumer_key"))}

    def _admin_get_push(self, request: Request, _payload: Json) -> Json:
        return self.push(request.params["id"])

    def _admin_wait(self, _request: Request, payload: Json) -> Json:
        timeout = payload.get("timeout", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise DarajaError(400, BAD_REQUEST, "Bad Request - Invalid timeout")
        return {"idle": self.wait_for_callbacks(min(float(timeout), 60.0))}
