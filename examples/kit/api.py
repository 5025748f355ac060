"""The payments API over HTTP: a ``Bearer`` key, JSON bodies, an Idempotency-Key per write, and
retries of what is transient."""

from __future__ import annotations

import logging
import time
from typing import Any

import requests

Json = dict[str, Any]

API_TIMEOUT_SECONDS = 10.0
API_RETRY_DELAYS = (0.2, 0.5)  # seconds before each retry of a transient API failure


class PaymentsApiError(Exception):
    """The API refused or could not be reached; ``code`` is the API's error code."""

    def __init__(
        self, status: int | None, code: str, message: str, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, from a Retry-After header (409 duplicate_push)


class ApiClient:
    """A session with the tenant's API key; the apps' clients add the calls they need."""

    def __init__(self, api_base: str, api_key: str, logger: logging.Logger) -> None:
        self.api_base = api_base.rstrip("/")
        self._logger = logger
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {api_key}"

    def close(self) -> None:
        self._session.close()

    def _post(self, path: str, body: Json, headers: dict[str, str]) -> Json:
        """POST ``body``; retries 409 ``idempotency_key_in_use``, 429, 5xx and a network
        failure twice, with the same Idempotency-Key, then raises PaymentsApiError."""
        url = self.api_base + path
        for delay in (*API_RETRY_DELAYS, None):
            try:
                response = self._session.post(
                    url, json=body, headers=headers, timeout=API_TIMEOUT_SECONDS
                )
            except requests.RequestException as error:
                failure = PaymentsApiError(None, "payments_api_unreachable", str(error))
            else:
                if response.ok:
                    result: Json = response.json()
                    return result
                failure = api_error(response)
                # 409 idempotency_key_in_use, 429 and 5xx are transient; other 4xx are final
                # (409 duplicate_push too: a prompt is already on that phone for ~2 minutes).
                transient = response.status_code == 429 or response.status_code >= 500
                if response.status_code == 409:
                    transient = failure.code == "idempotency_key_in_use"
                if not transient:
                    raise failure
            if delay is None:
                raise failure
            self._logger.warning("payments API: %s; retrying in %.1f s", failure, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")


def api_error(response: requests.Response) -> PaymentsApiError:
    """``{"error": {"code", "message"}}`` is the API's error shape; anything else is opaque."""
    retry_after = response.headers.get("Retry-After", "")
    seconds = int(retry_after) if retry_after.isdigit() else None
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "unexpected_response", response.reason
    return PaymentsApiError(response.status_code, code, message, seconds)
