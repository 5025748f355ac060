"""The sandbox's own endpoints (no signature, loopback only), for tests and people:

- ``POST /_sandbox/clients`` ``{"public_key_pem", "webhook_url"?, "name"?, "settings"?,
  "chaos"?}`` -> 201 the client: ``client_id``, ``bank_public_key_pem`` (the key its webhooks
  are signed with), ``webhook_url``, ``settings``, ``chaos``; ``GET /_sandbox/clients`` ->
  ``{"data": [...]}``, ``GET /_sandbox/clients/{client_id}``;
- ``PUT /_sandbox/clients/{client_id}/public-key`` ``{"public_key_pem"}`` (register another key)
  and ``PUT /_sandbox/clients/{client_id}/webhook-url`` ``{"webhook_url"}``;
- ``GET|POST /_sandbox/clients/{client_id}/settings`` and ``.../chaos`` (each with ``POST
  .../reset``): ``ClientSettings`` and ``ChaosSettings``; ``GET|POST /_sandbox/settings``
  (``Settings``: the timestamp window, the webhook source address);
- ``GET /_sandbox/bank-key`` -> ``{"public_key_pem"}``;
- ``GET /_sandbox/registrations[?client_id=]``, ``GET /_sandbox/registrations/{cprn}`` (with its
  webhooks) and ``POST /_sandbox/registrations/{cprn}/status`` ``{"status": "VERIFIED" |
  "REJECTED"}`` (decide a pending one now);
- ``GET /_sandbox/payments[?client_id=]``, ``GET /_sandbox/payments/{tx_id}`` (with every
  webhook copy: kind, body, signature, delivered, attempts, answers) and ``POST
  /_sandbox/payments/{tx_id}/status`` ``{"status": "SUCCESS" | "SETTLED" | "FAILED",
  "force"?: false}`` (409 ``invalid_transition`` for a move it cannot make);
- ``GET /_sandbox/requests[?client_id=&refusal=]`` -> ``{"data": [...]}``: every ``/v1`` request
  with its outcome;
- ``POST /_sandbox/wait_for_webhooks`` ``{"timeout": 10}`` -> ``{"idle": true|false}``.
"""

from __future__ import annotations

from typing import Any

from devstack.sandboxes.kit import Json, Request, SwitchError
from devstack.sandboxes.neobank.api import Api
from devstack.sandboxes.neobank.errors import INVALID_REQUEST, NeoBankError, invalid, not_found
from devstack.sandboxes.neobank.objects import ChaosSettings, ClientSettings

_CLIENT_FIELDS = frozenset({"public_key_pem", "webhook_url", "name", "settings", "chaos"})


def _switch_error(exc: SwitchError) -> NeoBankError:
    """422 ``invalid_request`` for a field the Python API refused (its message names it)."""
    return NeoBankError(422, INVALID_REQUEST, exc.message)


def _object(payload: Json, name: str) -> dict[str, Any] | None:
    value = payload.get(name)
    if value is not None and not isinstance(value, dict):
        raise invalid(name, "must be an object")
    return value


class Admin(Api):
    """Clients, registrations, payments and their webhooks, requests, moves, waiting."""

    def registrations(self, client_id: str | None = None) -> list[Json]:
        with self._lock:
            return [
                registration.view()
                for registration in self._registrations.values()
                if client_id is None or registration.client_id == client_id
            ]

    def registration(self, cprn: str) -> Json:
        with self._lock:
            found = self._registrations.get(cprn)
            if found is None:
                raise not_found(f"no such registration: {cprn}")
            return found.view()

    def payments(self, client_id: str | None = None) -> list[Json]:
        """Every payment (one client's when ``client_id`` is given), oldest first."""
        with self._lock:
            return [
                payment.view()
                for payment in self._payments.values()
                if client_id is None or payment.client_id == client_id
            ]

    def payment(self, tx_id: str) -> Json:
        with self._lock:
            found = self._payments.get(tx_id)
            if found is None:
                raise not_found(f"no such payment: {tx_id}")
            return found.view()

    # ----------------------------------------------------------------- admin (HTTP)

    def _admin_create_client(self, _request: Request, payload: Json) -> Json:
        for name in payload:
            if name not in _CLIENT_FIELDS:
                raise invalid(name, "is not a field of a client")
        try:
            client = self.create_client(
                payload.get("public_key_pem"),  # type: ignore[arg-type]  # checked there
                payload.get("webhook_url", ""),
                payload.get("name", ""),
                settings=_object(payload, "settings"),
                chaos=_object(payload, "chaos"),
            )
        except SwitchError as exc:
            raise _switch_error(exc) from None
        return client.view()

    def _admin_list_clients(self, _request: Request, _payload: Json) -> Json:
        return {"data": [client.view() for client in self.clients()]}

    def _admin_get_client(self, request: Request, _payload: Json) -> Json:
        return self.client(request.params["client_id"]).view()

    def _admin_put_public_key(self, request: Request, payload: Json) -> Json:
        try:
            client = self.set_public_key(
                request.params["client_id"],
                payload.get("public_key_pem"),  # type: ignore[arg-type]
            )
        except SwitchError as exc:
            raise _switch_error(exc) from None
        return client.view()

    def _admin_put_webhook_url(self, request: Request, payload: Json) -> Json:
        try:
            client = self.set_webhook_url(
                request.params["client_id"],
                payload.get("webhook_url"),  # type: ignore[arg-type]
            )
        except SwitchError as exc:
            raise _switch_error(exc) from None
        return client.view()

    def _client_settings(self, request: Request) -> ClientSettings:
        return self.client(request.params["client_id"]).settings

    def _client_chaos(self, request: Request) -> ChaosSettings:
        return self.client(request.params["client_id"]).chaos

    def _admin_bank_key(self, _request: Request, _payload: Json) -> Json:
        return {"public_key_pem": self.bank_public_key_pem}

    def _admin_list_registrations(self, request: Request, _payload: Json) -> Json:
        return {"data": self.registrations(request.query_value("client_id"))}

    def _admin_get_registration(self, request: Request, _payload: Json) -> Json:
        return self.registration(request.params["cprn"])

    def _admin_decide_registration(self, request: Request, payload: Json) -> Json:
        self.decide_registration(request.params["cprn"], payload.get("status"))  # type: ignore[arg-type]
        return self.registration(request.params["cprn"])

    def _admin_list_payments(self, request: Request, _payload: Json) -> Json:
        return {"data": self.payments(request.query_value("client_id"))}

    def _admin_get_payment(self, request: Request, _payload: Json) -> Json:
        return self.payment(request.params["tx_id"])

    def _admin_move_payment(self, request: Request, payload: Json) -> Json:
        force = payload.get("force", False)
        if not isinstance(force, bool):
            raise invalid("force", "must be a boolean")
        status = payload.get("status")
        if not isinstance(status, str):
            raise invalid("status", "must be SUCCESS, SETTLED or FAILED")
        self.move_payment(request.params["tx_id"], status, force=force)
        return self.payment(request.params["tx_id"])

    def _admin_requests(self, request: Request, _payload: Json) -> Json:
        refusal = request.query_value("refusal")
        return {
            "data": [
                record.view()
                for record in self.requests(request.query_value("client_id"))
                if refusal is None or record.refusal == refusal
            ]
        }
