"""Customer profiles (NEO Bank registrations): each change of one is a single transaction with
its uniqueness claims, the inbox record of the notification that caused it and its events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from payments.domain.events import EventEnvelope
from payments.domain.profiles import Profile, ProfileStatus
from payments.store.models import InboxItem, OutboxItem, ProfileClaimItem, ProfileItem
from payments.store.state_change import (
    CommitOutcome,
    InboxRecord,
    failed_roles,
    inbox_item,
    outbox_item,
)


def _connection():  # type: ignore[no-untyped-def]
    return ProfileItem._get_connection().connection


def _to_item(profile: Profile) -> ProfileItem:
    pk, sk = ProfileItem.key(profile.profile_id)
    return ProfileItem(
        pk,
        sk,
        item_type="profile",
        profile_id=profile.profile_id,
        tenant_id=profile.tenant_id,
        provider=profile.provider,
        external_customer_id=profile.external_customer_id,
        email=profile.email,
        name=profile.name,
        wallet_address=profile.wallet_address,
        status=profile.status.value,
        provider_ref=profile.provider_ref,
        failure=profile.failure,
        version=profile.version,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


def _from_item(item: ProfileItem) -> Profile:
    return Profile(
        profile_id=item.profile_id,
        tenant_id=item.tenant_id,
        provider=item.provider,
        external_customer_id=item.external_customer_id,
        email=item.email,
        name=item.name,
        wallet_address=item.wallet_address,
        status=ProfileStatus(item.status),
        version=int(item.version),
        created_at=item.created_at,
        updated_at=item.updated_at,
        provider_ref=item.provider_ref,
        failure=item.failure,
    )


def get_profile(tenant_id: str, profile_id: str) -> Profile | None:
    """The tenant's profile; another tenant's id is None, as an unknown one is."""
    try:
        item = ProfileItem.get(*ProfileItem.key(profile_id), consistent_read=True)
    except ProfileItem.DoesNotExist:
        return None
    return _from_item(item) if item.tenant_id == tenant_id else None


def _claimed(pk: str, sk: str, tenant_id: str) -> Profile | None:
    try:
        claim = ProfileClaimItem.get(pk, sk, consistent_read=True)
    except ProfileClaimItem.DoesNotExist:
        return None
    return get_profile(tenant_id, claim.profile_id)


def find_by_external_id(tenant_id: str, provider: str, external_id: str) -> Profile | None:
    return _claimed(*ProfileClaimItem.external_key(tenant_id, provider, external_id), tenant_id)


def find_by_provider_ref(tenant_id: str, provider: str, provider_ref: str) -> Profile | None:
    return _claimed(*ProfileClaimItem.reference_key(tenant_id, provider, provider_ref), tenant_id)


def create_profile(profile: Profile) -> bool:
    """Write a new profile with the claim of its external customer id; False when the tenant
    has a profile for that customer already (nothing written)."""
    pk, sk = ProfileClaimItem.external_key(
        profile.tenant_id, profile.provider, profile.external_customer_id
    )
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.save(
                ProfileClaimItem(
                    pk,
                    sk,
                    item_type="profile_claim",
                    profile_id=profile.profile_id,
                    tenant_id=profile.tenant_id,
                ),
                condition=ProfileClaimItem.pk.does_not_exist(),
            )
            tx.save(_to_item(profile), condition=ProfileItem.pk.does_not_exist())
    except TransactWriteError as error:
        if failed_roles(error, ["claim", "profile"]):
            return False
        raise
    return True


def commit_profile_change(
    current: Profile,
    updated: Profile,
    *,
    at: datetime,
    claim_provider_ref: bool = False,
    inbox: InboxRecord | None = None,
    events: Sequence[EventEnvelope] = (),
) -> CommitOutcome:
    """Replace ``current`` (conditional on its version) with ``updated``, in one transaction
    with the claim of its provider reference (``claim_provider_ref``), the inbox record and the
    events. DUPLICATE: the inbox record existed; REFERENCE_TAKEN: another profile holds the
    reference; CONFLICT: the profile changed under us (nothing written in each case)."""
    roles: list[str] = []
    try:
        with TransactWrite(connection=_connection()) as tx:
            if inbox is not None:
                tx.save(inbox_item(inbox, at), condition=InboxItem.pk.does_not_exist())
                roles.append("inbox")
            if claim_provider_ref:
                assert updated.provider_ref is not None
                pk, sk = ProfileClaimItem.reference_key(
                    updated.tenant_id, updated.provider, updated.provider_ref
                )
                tx.save(
                    ProfileClaimItem(
                        pk,
                        sk,
                        item_type="profile_claim",
                        profile_id=updated.profile_id,
                        tenant_id=updated.tenant_id,
                    ),
                    condition=ProfileClaimItem.pk.does_not_exist(),
                )
                roles.append("unique")
            tx.save(
                _to_item(updated),
                condition=(ProfileItem.version == current.version)
                & (ProfileItem.tenant_id == current.tenant_id),
            )
            roles.append("profile")
            for event in events:
                tx.save(outbox_item(event, at), condition=OutboxItem.pk.does_not_exist())
                roles.append("outbox")
    except TransactWriteError as error:
        failed = failed_roles(error, roles)
        if "inbox" in failed:
            return CommitOutcome.DUPLICATE
        if "unique" in failed:
            return CommitOutcome.REFERENCE_TAKEN
        if "profile" in failed:
            return CommitOutcome.CONFLICT
        raise
    return CommitOutcome.COMMITTED
