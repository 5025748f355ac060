"""Whether a tenant's credentials for a provider were tested, and what the test found: one item
per tenant and provider, next to the tenant (``TENANT#<id>`` / ``CREDENTIALS#<provider>``)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from payments.store.models import CredentialStatusItem

ITEM_TYPE = "credential_status"


def get_status(tenant_id: str, provider: str) -> CredentialStatusItem | None:
    try:
        return CredentialStatusItem.get(
            *CredentialStatusItem.key(tenant_id, provider), consistent_read=True
        )
    except DoesNotExist:
        return None


def reset_status(tenant_id: str, provider: str) -> str:
    """New credentials were stored: not verified, never tested, under a new revision (which
    voids any test still running on the old ones). Returns the revision."""
    revision = secrets.token_hex(8)
    pk, sk = CredentialStatusItem.key(tenant_id, provider)
    CredentialStatusItem(
        pk,
        sk,
        item_type=ITEM_TYPE,
        tenant_id=tenant_id,
        provider=provider,
        revision=revision,
        verified=False,
        updated_at=datetime.now(UTC),
    ).save()
    return revision


def record_test(
    tenant_id: str,
    provider: str,
    revision: str | None,
    *,
    ok: bool,
    code: str,
    message: str,
    tested_at: datetime,
) -> CredentialStatusItem | None:
    """Record a test of the credentials stored under ``revision`` (None: stored before any
    status was kept). None when they were replaced meanwhile: the result is then discarded."""
    pk, sk = CredentialStatusItem.key(tenant_id, provider)
    item = CredentialStatusItem(
        pk,
        sk,
        item_type=ITEM_TYPE,
        tenant_id=tenant_id,
        provider=provider,
        revision=revision or secrets.token_hex(8),
        verified=ok,
        last_tested_at=tested_at,
        last_test_code=code,
        last_test_message=message,
        updated_at=datetime.now(UTC),
    )
    condition = (
        CredentialStatusItem.pk.does_not_exist()
        if revision is None
        else CredentialStatusItem.revision == revision
    )
    try:
        item.save(condition=condition)
    except (PutError, UpdateError) as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return item
