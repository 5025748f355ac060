"""The operator API (/v1/admin/...): the platform across tenants, and its audit log.

Operators see every tenant; what they may change is small and deliberate (create, suspend and
activate tenants, issue a tenant's API key, replay dead letters, verify the ledger). Every
request is audited by :func:`audited`, around the whole resolver, so no route can forget it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError

from payments.auth_context import operator_context
from payments.aws import sqs
from payments.config import get_settings
from payments.domain.events import rfc3339
from payments.errors import ConflictError, NotFoundError
from payments.logs import function_logger
from payments.services import tenants as tenant_service
from payments.services.ledger_check import verify_ledger
from payments.services.payment_search import search_payments
from payments.services.tenants import TenantNotFoundError
from payments.services.webhook_stats import webhook_health
from payments.store import audit, repositories
from payments.store.repositories import ApiKeyInfo, Tenant

# What a cross-tenant search answers at most (a payment id or a provider reference is one
# payment; a payable id or an e-mail may match several per tenant).
MAX_SEARCH_RESULTS = 50
# How much of a target (a search term, an id) the audit log keeps.
MAX_AUDIT_TARGET = 200
# The largest body whose tenant_id the audit log looks for (POST /v1/admin/ledger/verify's is tiny).
MAX_AUDITED_BODY = 4096


class NotReplayableError(ConflictError):
    code = "not_replayable"


class DeadLetterQueueNotFoundError(NotFoundError):
    code = "dlq_not_found"


class TenantSuspendedError(ConflictError):
    code = "tenant_suspended"


# --- tenants -------------------------------------------------------------------------------


def _tenant_view(tenant: Tenant, keys: list[ApiKeyInfo]) -> dict[str, Any]:
    return {
        "tenant_id": tenant.tenant_id,
        "name": tenant.name,
        "status": tenant.status,
        "created_at": rfc3339(tenant.created_at),
        "api_keys": [
            {"key_id": key.key_id, "created_at": rfc3339(key.created_at), "revoked": key.revoked}
            for key in keys
        ],
    }


def list_tenants() -> dict[str, Any]:
    """Every tenant with its API keys (ids only), oldest tenant first."""
    return {
        "data": [
            _tenant_view(tenant, keys) for tenant, keys in repositories.tenants_with_api_keys()
        ]
    }


def _tenant_with_keys(tenant_id: str) -> dict[str, Any]:
    for tenant, keys in repositories.tenants_with_api_keys():
        if tenant.tenant_id == tenant_id:
            return _tenant_view(tenant, keys)
    raise TenantNotFoundError(f"no tenant {tenant_id}")


def _tenant(tenant_id: str) -> Tenant:
    tenant = repositories.get_tenant(tenant_id)
    if tenant is None:
        raise TenantNotFoundError(f"no tenant {tenant_id}")
    return tenant


def create_tenant(name: str) -> dict[str, Any]:
    """A new active tenant (with its usage key, as `payctl tenants create` makes it)."""
    return _tenant_view(tenant_service.create_tenant(name), [])


def set_tenant_status(tenant_id: str, status: str) -> dict[str, Any]:
    """Suspend (every key refused, within the authorizer's 300 s cache) or activate."""
    if repositories.set_tenant_status(tenant_id, status) is None:
        raise TenantNotFoundError(f"no tenant {tenant_id}")
    return _tenant_with_keys(tenant_id)


def issue_api_key(tenant_id: str) -> dict[str, Any]:
    """A new API key for an active tenant, shown this once."""
    tenant = _tenant(tenant_id)
    if tenant.status != "active":
        raise TenantSuspendedError(f"tenant {tenant_id} is suspended: activate it first")
    try:
        issued = repositories.issue_api_key(tenant_id)
    except TransactWriteError:  # suspended between the read and the write
        raise TenantSuspendedError(f"tenant {tenant_id} is suspended: activate it first") from None
    return {"key_id": issued.key_id, "api_key": issued.plaintext}


# --- search --------------------------------------------------------------------------------


def tenant_payment_matches(tenant_id: str, q: str, limit: int) -> list[dict[str, Any]]:
    """The tenant's payments matching ``q`` (PaymentView dicts), at most ``limit``: the merchant
    search of GET /v1/payments?q= (provider reference, payable id, customer e-mail), asked of
    one tenant."""
    return search_payments(tenant_id, q, limit=limit)


def search(q: str) -> dict[str, Any]:
    """Payments matching ``q`` in every tenant: a payment id is one read (and its tenant's),
    anything else is asked of each tenant in turn."""
    names = {tenant.tenant_id: tenant.name for tenant in repositories.list_tenants()}
    hits: list[dict[str, Any]] = []
    if q.startswith("pay_"):
        payment = repositories.get_payment_of_any_tenant(q)
        if payment is not None and payment.tenant_id in names:
            hits.append(
                {
                    "tenant_id": payment.tenant_id,
                    "tenant_name": names[payment.tenant_id],
                    "payment": payment.public_view(),
                }
            )
        return {"data": hits}
    for tenant_id, name in sorted(names.items(), key=lambda item: item[1]):
        for view in tenant_payment_matches(tenant_id, q, MAX_SEARCH_RESULTS - len(hits)):
            hits.append({"tenant_id": tenant_id, "tenant_name": name, "payment": view})
        if len(hits) >= MAX_SEARCH_RESULTS:
            break
    return {"data": hits}


# --- webhooks, dead letters, ledger --------------------------------------------------------


def webhooks_health(*, now: datetime | None = None) -> dict[str, Any]:
    """Each tenant's webhook health per provider (as GET /v1/webhooks/health shows it)."""
    moment = now or datetime.now(UTC)
    return {
        "data": [
            {
                "tenant_id": tenant.tenant_id,
                "tenant_name": tenant.name,
                "providers": webhook_health(tenant.tenant_id, now=moment)["data"],
            }
            for tenant in sorted(repositories.list_tenants(), key=lambda t: t.created_at)
        ],
        "generated_at": rfc3339(moment),
    }


def _dead_letter_queues() -> dict[str, str]:
    """DLQ name -> its URL, for those this deployment configures."""
    settings = get_settings()
    urls = {
        "callbacks": settings.callback_dlq_url,
        "notify": settings.notify_dlq_url,
        "outbox": settings.outbox_dlq_url,
    }
    return {name: url for name, url in urls.items() if url}


# The DLQs with a replay: failed callback deliveries get a fresh schedule (payctl callbacks
# replay). A notification's e-mail is not re-sent blindly, and an outbox DLQ message holds
# only stream metadata (the item stays in the table): neither has a replay.
def _replay_callbacks() -> int:
    # Loaded by the first replay: the delivery machinery is no read's business (cold start).
    from payments.services.callbacks import replay_dead_letters

    return replay_dead_letters()


_REPLAYS: dict[str, Callable[[], int]] = {"callbacks": _replay_callbacks}


def dead_letter_queues() -> dict[str, Any]:
    return {
        "data": [
            {"name": name, "depth": sqs.depth(url), "replayable": name in _REPLAYS}
            for name, url in _dead_letter_queues().items()
        ]
    }


def replay_dead_letter_queue(name: str) -> dict[str, Any]:
    if name not in _dead_letter_queues():
        raise DeadLetterQueueNotFoundError(f"no dead-letter queue {name}")
    replay = _REPLAYS.get(name)
    if replay is None:
        raise NotReplayableError(f"the {name} dead-letter queue has no replay")
    return {"name": name, "replayed": replay()}


def verify(tenant_id: str | None) -> dict[str, Any]:
    """The ledger check of `payctl ledger verify`, for one tenant or all."""
    if tenant_id is not None:
        _tenant(tenant_id)
    reports = verify_ledger([tenant_id] if tenant_id else None)
    return {
        "ok": all(report.ok for report in reports),
        "tenants": [
            {
                "tenant_id": report.tenant_id,
                "ok": report.ok,
                "entries": report.entries,
                "problems": [
                    f"{problem.account} [{problem.currency}]: {problem.problem}"
                    for problem in report.discrepancies
                ],
            }
            for report in reports
        ],
    }


# --- audit ---------------------------------------------------------------------------------


def audit_page(*, limit: int, cursor: str | None) -> dict[str, Any]:
    result = audit.page(limit=limit, cursor=cursor)
    return {
        "data": [
            {
                "at": rfc3339(entry.at),
                "operator_id": entry.operator_id,
                "operator_name": entry.operator_name,
                "method": entry.method,
                "path": entry.path,
                "action": entry.action,
                "target": entry.target,
                "status": entry.status,
            }
            for entry in result.entries
        ],
        "next_cursor": result.next_cursor,
    }


def audit_target(event: Mapping[str, Any]) -> str | None:
    """What a request acts on or looks up: its path's id (a tenant, a DLQ), else the body's
    ``tenant_id`` (ledger verify), else the search term. Never a key or a whole body."""
    for value in (event.get("pathParameters") or {}).values():
        if isinstance(value, str) and value:
            return value[:MAX_AUDIT_TARGET]
    raw = event.get("body")
    # Read before the resolver screens the body: only a small one, and any failure is no target.
    if (
        isinstance(raw, str)
        and 0 < len(raw) <= MAX_AUDITED_BODY
        and not event.get("isBase64Encoded")
    ):
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict) and isinstance(body.get("tenant_id"), str):
            return str(body["tenant_id"])[:MAX_AUDIT_TARGET]
    q = (event.get("queryStringParameters") or {}).get("q")
    return str(q)[:MAX_AUDIT_TARGET] if isinstance(q, str) and q else None


Resolve = Callable[[dict[str, Any], Any], dict[str, Any]]


def audited(
    resolve: Resolve, event: dict[str, Any], context: Any, *, actions: Mapping[str, str]
) -> dict[str, Any]:
    """``resolve(event, context)``, written to the audit log: an entry before it runs (if
    that fails, the request fails and nothing was done), completed with the answer's status.

    ``actions`` names each route by ``"<METHOD> <resource>"`` (the API Gateway resource, e.g.
    ``POST /v1/admin/tenants/{tenant_id}/suspend``); a request to no known route is audited as
    ``unknown``. A caller the authorizer did not resolve as an operator is audited without one.
    """
    method = str(event.get("httpMethod") or "").upper()
    operator = operator_context(event)
    caller_key = (event.get("requestContext") or {}).get("authorizer") or {}
    entry = audit.begin(
        operator_id=operator.operator_id if operator else None,
        operator_name=operator.name if operator else None,
        key_id=operator.key_id if operator else _text(caller_key.get("key_id")),
        method=method,
        path=str(event.get("path") or "")[:1024],
        action=actions.get(f"{method} {event.get('resource')}", "unknown"),
        target=audit_target(event),
    )
    response = resolve(event, context)
    try:
        audit.finish(entry, int(response.get("statusCode") or 500))
    except Exception:  # noqa: BLE001 - done is done: the entry stays, its status null
        function_logger().exception("audit entry not completed", extra={"audit_id": entry.audit_id})
    return response


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
