"""Merchant callbacks: endpoints, fan-out of events, signed deliveries with retries.

Every event on the bus reaches the callback queue. Fan-out turns it into one *delivery* per
matching endpoint (deterministic id: a redelivered event creates nothing new) and one task
message each, so endpoints never wait on one another: a slow or failing endpoint only delays
its own deliveries, and an endpoint that answered 2xx is never sent that event again.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import ipaddress
import json
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from payments.aws import kms, sqs
from payments.config import get_settings
from payments.domain.callbacks import (
    RETRY_DELAYS_SECONDS,
    ROTATION_OVERLAP_SECONDS,
    ResponseVerdict,
    judge_response,
    new_secret,
    next_delay,
    signature_header,
)
from payments.domain.events import rfc3339
from payments.errors import ConflictError, NotFoundError, UnprocessableError
from payments.logs import function_logger
from payments.observability import Metric, bind, count
from payments.services.rate_limits import CostlyOperation, enforce_rate_limit
from payments.store import callbacks as store
from payments.store.models import (
    CallbackEndpointItem,
    DeliveryAttemptItem,
    DeliveryItem,
    delivery_log_partition,
    log_day,
    utc_key_time,
)

MAX_ENDPOINTS = 20
# Deliveries and their attempts are kept this long (the retry schedule spans about 3 days).
DELIVERY_RETENTION = timedelta(days=30)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Cloud metadata services answer on these; never a destination, whatever DNS says.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# Refused by name even where "not public" would already refuse them, and in local development
# too: link-local reaches the host's own services, the runtime API the function's own.
LINK_LOCAL_NETWORKS = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
# Where Lambda's runtime API listens; AWS_LAMBDA_RUNTIME_API (settings) names it as well.
DEFAULT_RUNTIME_API = "127.0.0.1:9001"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class EndpointNotFoundError(NotFoundError):
    code = "endpoint_not_found"


class DeliveryNotFoundError(NotFoundError):
    code = "delivery_not_found"


class InvalidEndpointUrlError(UnprocessableError):
    code = "invalid_endpoint_url"


# --- endpoints -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovedEndpoint:
    """A callback URL as the guard approved it. ``addresses`` are what its host resolved to
    in that one lookup, every one checked: the only addresses a delivery connects to."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, as the request line carries them
    addresses: tuple[IPAddress, ...]


def check_endpoint_url(url: str) -> ApprovedEndpoint:
    """https to a public address only (http://localhost too, in local development).

    The host is resolved once and every answer is checked: private, loopback, link-local,
    metadata and Lambda runtime API addresses are refused, so a callback can never be aimed
    into our VPC, at the instance metadata service or at the function's own runtime. Checked at
    registration and again by every attempt, which then connects to the approved addresses
    only (DNS may change in between, or between a check and a connect).
    """
    if any(not 0x20 < ord(char) < 0x7F for char in url):
        raise InvalidEndpointUrlError("endpoint URL must be ASCII without spaces (percent-encode)")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        raise InvalidEndpointUrlError("endpoint URL needs a host and no credentials")
    try:
        explicit_port = parts.port
    except ValueError:
        raise InvalidEndpointUrlError("endpoint URL has an invalid port") from None
    if explicit_port == 0:
        raise InvalidEndpointUrlError("endpoint URL has an invalid port")
    local = host in LOCAL_HOSTS and get_settings().allow_local_callback_urls
    if local:
        if parts.scheme not in {"http", "https"}:
            raise InvalidEndpointUrlError("endpoint URL must be http(s)")
    elif parts.scheme != "https":
        raise InvalidEndpointUrlError("endpoint URL must use https")
    port = explicit_port or (443 if parts.scheme == "https" else 80)
    if (host, port) in _runtime_api_names():
        raise InvalidEndpointUrlError(f"{host}:{port} is the Lambda runtime API")
    addresses = _resolve(host, port)
    for address in addresses:
        _refuse_forbidden_address(host, port, address, local=local)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return ApprovedEndpoint(parts.scheme, host, port, target, addresses)


def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    """Every address ``host`` resolves to, in the resolver's order, each once. An IPv4-mapped
    IPv6 answer is taken as the IPv4 address it is (so the checks see what is reached)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise InvalidEndpointUrlError(f"cannot resolve {host}") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address: IPAddress = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise InvalidEndpointUrlError(f"cannot resolve {host}")
    return tuple(addresses)


def _refuse_forbidden_address(host: str, port: int, address: IPAddress, *, local: bool) -> None:
    if (address, port) in _runtime_api_addresses():
        raise InvalidEndpointUrlError(f"{host} resolves to the Lambda runtime API")
    if address in METADATA_ADDRESSES:
        raise InvalidEndpointUrlError(f"{host} resolves to a metadata service address")
    if any(address in network for network in LINK_LOCAL_NETWORKS):
        raise InvalidEndpointUrlError(f"{host} resolves to a link-local address")
    if local:
        # Local development: loopback only (a name in LOCAL_HOSTS that resolves elsewhere is
        # not the developer's own machine).
        if not address.is_loopback:
            raise InvalidEndpointUrlError(f"{host} resolves to a non-loopback address")
        return
    if not address.is_global:
        raise InvalidEndpointUrlError(f"{host} resolves to a non-public address")


def _runtime_api_endpoints() -> list[tuple[str, int]]:
    """The runtime API's host:port pairs: the default, and AWS_LAMBDA_RUNTIME_API if set."""
    endpoints = []
    for value in (DEFAULT_RUNTIME_API, get_settings().aws_lambda_runtime_api):
        host, _, port = value.strip().rpartition(":")
        if host and port.isdigit():
            endpoints.append((host.strip("[]").lower(), int(port)))
    return endpoints


def _runtime_api_names() -> set[tuple[str, int]]:
    return set(_runtime_api_endpoints())


def _runtime_api_addresses() -> set[tuple[IPAddress, int]]:
    addresses: set[tuple[IPAddress, int]] = set()
    for host, port in _runtime_api_endpoints():
        try:
            addresses.add((ipaddress.ip_address(host), port))
        except ValueError:
            continue  # a name: matched by _runtime_api_names before resolution
    return addresses


def _secret_context(tenant_id: str, endpoint_id: str) -> dict[str, str]:
    return {"tenant_id": tenant_id, "endpoint_id": endpoint_id, "purpose": "callback_secret"}


def _endpoint_view(item: CallbackEndpointItem) -> dict[str, Any]:
    return {
        "endpoint_id": item.endpoint_id,
        "url": item.url,
        "event_types": list(item.event_types or []),
        "enabled": item.enabled,
        "disabled_reason": item.disabled_reason,
        "created_at": rfc3339(item.created_at),
        "previous_secret_expires_at": rfc3339(item.previous_secret_expires_at)
        if item.previous_secret_expires_at
        else None,
    }


def register_endpoint(
    tenant_id: str, url: str, event_types: list[str], enabled: bool = True
) -> dict[str, Any]:
    """A new endpoint; its signing secret is in the answer and never shown again."""
    check_endpoint_url(url)
    if len(store.endpoints(tenant_id)) >= MAX_ENDPOINTS:
        raise UnprocessableError(
            f"at most {MAX_ENDPOINTS} endpoints per tenant", code="too_many_endpoints"
        )
    endpoint_id = f"we_{uuid.uuid4().hex[:24]}"
    secret = new_secret()
    item = CallbackEndpointItem(
        *CallbackEndpointItem.key(tenant_id, endpoint_id),
        item_type="callback_endpoint",
        endpoint_id=endpoint_id,
        tenant_id=tenant_id,
        url=url,
        event_types=sorted(set(event_types)),
        enabled=enabled,
        secret_ciphertext=kms.encrypt(secret, _secret_context(tenant_id, endpoint_id)),
        created_at=datetime.now(UTC),
        version=1,
    )
    store.save_new_endpoint(item)
    return {**_endpoint_view(item), "secret": secret}


def list_endpoints(tenant_id: str) -> list[dict[str, Any]]:
    return [_endpoint_view(item) for item in store.endpoints(tenant_id)]


def _endpoint(tenant_id: str, endpoint_id: str) -> CallbackEndpointItem:
    item = store.get_endpoint(tenant_id, endpoint_id)
    if item is None:
        raise EndpointNotFoundError(f"no endpoint {endpoint_id}")
    return item


def delete_endpoint(tenant_id: str, endpoint_id: str) -> None:
    store.delete_endpoint(_endpoint(tenant_id, endpoint_id))


def rotate_secret(tenant_id: str, endpoint_id: str) -> dict[str, Any]:
    """A new secret; the old one keeps signing alongside it for 24 h."""
    enforce_rate_limit(tenant_id, CostlyOperation.SECRET_ROTATION)
    item = _endpoint(tenant_id, endpoint_id)
    secret = new_secret()
    store.replace_secret(
        item,
        kms.encrypt(secret, _secret_context(tenant_id, endpoint_id)),
        timedelta(seconds=ROTATION_OVERLAP_SECONDS),
    )
    return {**_endpoint_view(item), "secret": secret}


def _secrets_in_use(item: CallbackEndpointItem) -> list[str]:
    context = _secret_context(item.tenant_id, item.endpoint_id)
    in_use = [kms.decrypt(item.secret_ciphertext, context)]
    expires = item.previous_secret_expires_at
    if item.previous_secret_ciphertext and expires and expires > datetime.now(UTC):
        in_use.append(kms.decrypt(item.previous_secret_ciphertext, context))
    return in_use


# --- fan-out -------------------------------------------------------------------------------


def delivery_id_for(tenant_id: str, event_id: str, endpoint_id: str) -> str:
    digest = hashlib.sha256(f"{tenant_id}\x00{event_id}\x00{endpoint_id}".encode()).hexdigest()
    return f"dlv_{digest[:32]}"


def delivery_body(event_type: str, timestamp: str, data: dict[str, Any]) -> str:
    """The exact bytes every attempt of a delivery sends (and signs)."""
    return json.dumps(
        {"type": event_type, "timestamp": timestamp, "data": data},
        separators=(",", ":"),
        sort_keys=True,
    )


def new_delivery(
    tenant_id: str, endpoint_id: str, event_id: str, event_type: str, body: str, now: datetime
) -> DeliveryItem:
    """A pending delivery of one event to one endpoint, listed in the tenant's delivery log
    (the log index's day partition of its creation)."""
    delivery_id = delivery_id_for(tenant_id, event_id, endpoint_id)
    return DeliveryItem(
        *DeliveryItem.key(delivery_id),
        item_type="delivery",
        delivery_id=delivery_id,
        tenant_id=tenant_id,
        endpoint_id=endpoint_id,
        event_id=event_id,
        event_type=event_type,
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        ttl=now + DELIVERY_RETENTION,
        gsi5pk=delivery_log_partition(tenant_id, log_day(now)),
        gsi5sk=f"{utc_key_time(now)}#{delivery_id}",
    )


def fan_out(bus_event: dict[str, Any]) -> int:
    """One delivery (and task) per enabled endpoint that wants this event; returns how many
    were created now (0 for an event already fanned out)."""
    envelope = json.loads(bus_event["detail"]["envelope"]["S"])
    tenant_id, event_id, event_type = envelope["tenant_id"], envelope["id"], envelope["type"]
    bind(event_id=event_id, tenant_id=tenant_id)
    body = delivery_body(event_type, envelope["occurred_at"], envelope["data"])
    created = 0
    now = datetime.now(UTC)
    for endpoint in store.endpoints(tenant_id):
        if not endpoint.enabled or (
            endpoint.event_types and event_type not in endpoint.event_types
        ):
            continue
        delivery = new_delivery(tenant_id, endpoint.endpoint_id, event_id, event_type, body, now)
        delivery_id = delivery.delivery_id
        if store.create_delivery(delivery):
            created += 1
        else:
            existing = store.get_delivery(delivery_id)
            if existing is None or existing.status != "pending" or int(existing.attempts) > 0:
                continue  # fanned out before and already under way
            # Fanned out before, but maybe the task never made it to the queue: send it again
            # (if both arrive, the one that finds its attempt taken is dropped).
        _enqueue(delivery_id, 0, delay_seconds=0)
    return created


# --- delivering ----------------------------------------------------------------------------


def handle_message(message: dict[str, Any]) -> str:
    """One callback-queue message: a bus event to fan out, or a delivery task to run."""
    if message.get("task") == "deliver":
        return deliver(message)
    return f"fanned out to {fan_out(message)} endpoint(s)"


def _enqueue(
    delivery_id: str, attempts_made: int, *, delay_seconds: float, dead_letter: bool = False
) -> None:
    """A task for the next attempt. It names how many attempts were made when it was sent, so
    a stale or duplicate task (one whose attempt was taken meanwhile) is dropped instead of
    starting a second retry chain."""
    settings = get_settings()
    not_before = datetime.now(UTC) + timedelta(seconds=delay_seconds)
    sqs.send(
        settings.callback_dlq_url if dead_letter else settings.callback_queue_url,
        {
            "task": "deliver",
            "delivery_id": delivery_id,
            "attempts_made": attempts_made,
            "not_before": rfc3339(not_before),
        },
        delay_seconds=0 if dead_letter else int(delay_seconds),
    )


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    latency_ms: int
    error: str | None
    retry_after: str | None


def _post(url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
    """One POST: the URL is checked (one DNS lookup, every answer approved) and the connection
    goes to an approved address, never to a second lookup's answer. A redirect is an answer
    like any other non-2xx (http.client never follows one): never followed (SSRF)."""
    started = time.monotonic()
    try:
        endpoint = check_endpoint_url(url)
        connection = _pinned_connection(endpoint, get_settings().callback_timeout_seconds)
        try:
            connection.request("POST", endpoint.target, body=body, headers=headers)
            response = connection.getresponse()
            status, retry_after, error = response.status, response.getheader("Retry-After"), None
        finally:
            connection.close()
    except InvalidEndpointUrlError as refused:
        status, retry_after, error = None, None, refused.message
    except (http.client.HTTPException, OSError) as failure:
        status, retry_after, error = None, None, type(failure).__name__ + ": " + str(failure)[:200]
    latency = int((time.monotonic() - started) * 1000)
    return AttemptResult(status, latency, error, retry_after)


def _pinned_connection(endpoint: ApprovedEndpoint, timeout: float) -> http.client.HTTPConnection:
    if endpoint.scheme == "https":
        return _PinnedHTTPSConnection(endpoint, timeout)
    return _PinnedHTTPConnection(endpoint, timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP whose TCP connection goes to the approved addresses; ``host`` (the URL's) only
    names the Host header, it is never looked up again."""

    def __init__(self, endpoint: ApprovedEndpoint, timeout: float) -> None:
        super().__init__(endpoint.host, endpoint.port, timeout=timeout)
        self._approved = endpoint.addresses

    def connect(self) -> None:
        self.sock = _connect_approved(self._approved, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS over a TCP connection to the approved addresses; SNI and the certificate check use
    the URL's host name, as they would without pinning."""

    def __init__(self, endpoint: ApprovedEndpoint, timeout: float) -> None:
        self._tls = _tls_context()
        super().__init__(endpoint.host, endpoint.port, timeout=timeout, context=self._tls)
        self._approved = endpoint.addresses

    def connect(self) -> None:
        raw = _connect_approved(self._approved, self.port, self.timeout)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def _connect_approved(
    addresses: tuple[IPAddress, ...], port: int, timeout: float | None
) -> socket.socket:
    """A TCP connection to the first approved address that accepts one."""
    failure: OSError = OSError("no approved address")
    for address in addresses:
        try:
            return _open_socket(address, port, timeout)
        except OSError as error:
            failure = error
    raise failure


def _open_socket(address: IPAddress, port: int, timeout: float | None) -> socket.socket:
    # A socket connected to a literal address: no resolver is involved.
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Certificate and host name verification on, as urllib's default; built once."""
    return ssl.create_default_context()


def deliver(task: dict[str, Any]) -> str:
    """Run one delivery task; returns what happened (for logs and tests)."""
    delivery_id = str(task["delivery_id"])
    delivery = store.get_delivery(delivery_id)
    if delivery is None:
        return "unknown_delivery"
    if delivery.status != "pending":
        return f"already_{delivery.status}"
    made, current = int(task.get("attempts_made", -1)), int(delivery.attempts)
    if delivery.claimed_until is not None and delivery.claimed_until > datetime.now(UTC):
        return "claimed_elsewhere"  # an attempt is in flight
    # A lapsed claim that was never cleared: the worker died mid-attempt, and this is its task
    # coming back from the queue. Anything else that does not match is stale or a duplicate.
    orphaned = delivery.claimed_until is not None and made == current - 1
    if made != current and not orphaned:
        return "stale_task"
    not_before = datetime.fromisoformat(str(task.get("not_before", "")).replace("Z", "+00:00"))
    wait = (not_before - datetime.now(UTC)).total_seconds()
    if wait > 1:  # SQS delays top out at 15 minutes: hop until the time has come
        _enqueue(delivery_id, int(delivery.attempts), delay_seconds=wait)
        return "waiting"
    endpoint = store.get_endpoint(delivery.tenant_id, delivery.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        store.finish_delivery(delivery, "endpoint_disabled", None)
        return "endpoint_disabled"
    # Claim the attempt: a duplicate task for the same delivery stops here.
    lease = timedelta(seconds=2 * get_settings().callback_timeout_seconds + 30)
    attempt = store.claim_attempt(delivery, lease)
    if attempt is None:
        return "claimed_elsewhere"
    # The merchant's receiver sees the event id as webhook-id: the last link of the chain.
    bind(
        delivery_id=delivery_id,
        event_id=delivery.event_id,
        webhook_id=delivery.event_id,
        tenant_id=delivery.tenant_id,
    )
    body = delivery.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "payments-backbone-webhooks/1",
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            _secrets_in_use(endpoint), delivery.event_id, timestamp, body
        ),
    }
    result = _post(endpoint.url, headers, body)
    verdict = judge_response(result.status_code, result.retry_after)
    count(Metric.CALLBACK_ATTEMPTS)
    if verdict.verdict is not ResponseVerdict.DELIVERED:
        count(Metric.CALLBACK_FAILURES)
    store.record_attempt(
        DeliveryAttemptItem(
            *DeliveryAttemptItem.key(delivery_id, attempt),
            item_type="delivery_attempt",
            delivery_id=delivery_id,
            attempt=attempt,
            started_at=datetime.now(UTC),
            ttl=datetime.now(UTC) + DELIVERY_RETENTION,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
            outcome=verdict.verdict.value,
        )
    )
    if verdict.verdict is ResponseVerdict.DELIVERED:
        store.finish_delivery(delivery, "delivered", result.status_code)
        return "delivered"
    if verdict.verdict is ResponseVerdict.ENDPOINT_GONE:
        store.disable_endpoint(endpoint, "endpoint answered 410 Gone")
        store.finish_delivery(delivery, "endpoint_disabled", result.status_code)
        return "endpoint_disabled"
    scheduled = next_delay(attempt)
    if scheduled is None:  # the schedule is spent, Retry-After or not
        store.finish_delivery(delivery, "failed", result.status_code)
        _enqueue(delivery_id, attempt, delay_seconds=0, dead_letter=True)
        function_logger().warning(
            "callback delivery failed for good", extra={"delivery_id": delivery_id}
        )
        return "failed"
    # Retry-After is honoured, but never sooner than the schedule's first step.
    retry_in = (
        max(verdict.retry_after, RETRY_DELAYS_SECONDS[0]) if verdict.retry_after else scheduled
    )
    delay = retry_in * get_settings().callback_retry_time_scale
    store.schedule_retry(delivery, result.status_code, datetime.now(UTC) + timedelta(seconds=delay))
    _enqueue(delivery_id, attempt, delay_seconds=delay)
    return "retry_scheduled"


# --- inspecting and re-driving -------------------------------------------------------------


def list_deliveries(tenant_id: str, event_id: str, endpoint_id: str | None) -> list[dict[str, Any]]:
    """Every delivery of ``event_id`` (to one endpoint or all), with every attempt and its
    ``created_at``, as the tenant's delivery list shows each."""
    if endpoint_id:
        endpoint_ids = [endpoint_id]
    else:
        endpoint_ids = [e.endpoint_id for e in store.endpoints(tenant_id)]
    views = []
    for endpoint in endpoint_ids:
        delivery, attempts = store.delivery_with_attempts(
            delivery_id_for(tenant_id, event_id, endpoint)
        )
        if delivery is not None and delivery.tenant_id == tenant_id:
            view = _delivery_view(delivery, attempts)
            view["created_at"] = rfc3339(delivery.created_at)
            views.append(view)
    return views


def retry_delivery(tenant_id: str, delivery_id: str) -> dict[str, Any]:
    """Send again now, whatever state it is in (a failed delivery gets a fresh schedule)."""
    enforce_rate_limit(tenant_id, CostlyOperation.DELIVERY_RETRY)
    delivery = store.get_delivery(delivery_id)
    if delivery is None or delivery.tenant_id != tenant_id:
        raise DeliveryNotFoundError(f"no delivery {delivery_id}")
    reset = delivery.status == "failed"
    store.reopen_delivery(delivery, reset_attempts=reset)
    _enqueue(delivery_id, 0 if reset else int(delivery.attempts), delay_seconds=0)
    return {"delivery_id": delivery_id, "status": "pending"}


def replay_dead_letters(limit: int = 1000) -> int:
    """`payctl callbacks replay`: every failed delivery in the DLQ gets a fresh schedule, and
    events whose fan-out kept failing are fanned out again."""
    settings = get_settings()
    replayed = 0
    for message in sqs.drain(settings.callback_dlq_url, limit=limit):
        if message.get("task") != "deliver":
            sqs.send(settings.callback_queue_url, message)  # a bus event: fan it out again
            replayed += 1
            continue
        delivery = store.get_delivery(str(message.get("delivery_id", "")))
        if delivery is None or delivery.status == "delivered":
            continue
        store.reopen_delivery(delivery, reset_attempts=True)
        _enqueue(delivery.delivery_id, 0, delay_seconds=0)
        replayed += 1
    return replayed


def _delivery_view(delivery: DeliveryItem, attempts: list[DeliveryAttemptItem]) -> dict[str, Any]:
    return {
        "delivery_id": delivery.delivery_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "endpoint_id": delivery.endpoint_id,
        "status": delivery.status,
        "attempts": [
            {
                "attempt": int(a.attempt),
                "at": rfc3339(a.started_at),
                "status_code": int(a.status_code) if a.status_code is not None else None,
                "latency_ms": int(a.latency_ms),
                "error": a.error,
                "outcome": a.outcome,
            }
            for a in attempts
        ],
        "next_attempt_at": rfc3339(delivery.next_attempt_at) if delivery.next_attempt_at else None,
    }


# --- the dashboard: every delivery, switching endpoints, test events -----------------------

DELIVERY_STATUSES = ("pending", "delivered", "failed", "endpoint_disabled")
# Deliveries expire after DELIVERY_RETENTION: the delivery log is read back that many days.
DELIVERY_LOG_DAYS = DELIVERY_RETENTION.days + 1
DELIVERY_PAGE_READ_BUDGET = 40
PING_EVENT_TYPE = "ping"


class EndpointDisabledError(ConflictError):
    code = "endpoint_disabled"


def deliveries_of_events(tenant_id: str, event_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each event's deliveries (to the tenant's current endpoints), with their attempts: one
    endpoints Query, one BatchGetItem per 100 (event, endpoint) pairs, and one Query of
    attempts per delivery found."""
    endpoint_ids = [e.endpoint_id for e in store.endpoints(tenant_id)]
    wanted = {
        delivery_id_for(tenant_id, event_id, endpoint_id): event_id
        for event_id in event_ids
        for endpoint_id in endpoint_ids
    }
    by_event: dict[str, list[dict[str, Any]]] = {event_id: [] for event_id in event_ids}
    for delivery in store.get_deliveries(list(wanted)):
        if delivery.tenant_id != tenant_id or delivery.delivery_id not in wanted:
            continue
        by_event[wanted[delivery.delivery_id]].append(
            _delivery_view(delivery, store.delivery_attempts(delivery.delivery_id))
        )
    for views in by_event.values():
        views.sort(key=lambda view: (view["endpoint_id"], view["delivery_id"]))
    return by_event


def list_tenant_deliveries(
    tenant_id: str,
    *,
    status: str | None,
    endpoint_id: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """The tenant's deliveries, newest first, from the delivery log (one day partition after
    the other, back to the deliveries' retention), each with its attempts."""
    from payments.store import activity_log

    if status is not None and status not in DELIVERY_STATUSES:
        raise UnprocessableError(
            f"status must be one of {', '.join(DELIVERY_STATUSES)}",
            code="invalid_query",
            status=400,
        )
    today = datetime.now(UTC).date()
    condition = None
    if status is not None:
        condition = DeliveryItem.status == status
    if endpoint_id is not None:
        term = DeliveryItem.endpoint_id == endpoint_id
        condition = term if condition is None else condition & term
    days = activity_log.bounded_by_tenant(
        tenant_id, today, today - timedelta(days=DELIVERY_LOG_DAYS)
    )
    if days is None:
        return {"data": [], "next_cursor": None}
    page = activity_log.walk(
        activity_log.DELIVERY_LOG,
        tenant_id,
        days,
        limit=limit,
        cursor=cursor,
        max_queries=DELIVERY_PAGE_READ_BUDGET,
        filter_condition=condition,
    )
    views = []
    for raw in page.items:
        delivery = DeliveryItem.from_raw_data(raw)
        if delivery.tenant_id != tenant_id:
            continue
        view = _delivery_view(delivery, store.delivery_attempts(delivery.delivery_id))
        view["created_at"] = rfc3339(delivery.created_at)
        views.append(view)
    return {"data": views, "next_cursor": page.next_cursor}


def set_endpoint_enabled(tenant_id: str, endpoint_id: str, enabled: bool) -> dict[str, Any]:
    """Switch an endpoint on or off by hand; switching it on clears why it was off (a 410
    Gone, say). Pending deliveries to a disabled endpoint end as endpoint_disabled."""
    item = _endpoint(tenant_id, endpoint_id)
    if not store.set_enabled(item, enabled):
        raise EndpointNotFoundError(f"no endpoint {endpoint_id}")  # deleted meanwhile
    item.enabled = enabled
    if enabled:
        item.disabled_reason = None
    elif not item.disabled_reason:
        item.disabled_reason = store.DISABLED_BY_MERCHANT
    return _endpoint_view(item)


def send_test_event(tenant_id: str, endpoint_id: str) -> dict[str, Any]:
    """A ``ping`` event for one endpoint: a real delivery (signed, retried, listed like any
    other), created as fan-out creates deliveries and queued for the callback worker."""
    enforce_rate_limit(tenant_id, CostlyOperation.DELIVERY_RETRY)
    endpoint = _endpoint(tenant_id, endpoint_id)
    if not endpoint.enabled:
        raise EndpointDisabledError(f"endpoint {endpoint_id} is disabled: enable it first")
    now = datetime.now(UTC)
    event_id = f"evt_{uuid.uuid4().hex}"
    body = delivery_body(
        PING_EVENT_TYPE, rfc3339(now), {"endpoint_id": endpoint_id, "sent_at": rfc3339(now)}
    )
    delivery = new_delivery(tenant_id, endpoint_id, event_id, PING_EVENT_TYPE, body, now)
    store.create_delivery(delivery)
    _enqueue(delivery.delivery_id, 0, delay_seconds=0)
    return {"delivery_id": delivery.delivery_id, "event_id": event_id, "status": "pending"}
