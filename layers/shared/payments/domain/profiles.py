"""A customer registered with a provider that needs it before it takes their money (NEO Bank:
the CPRN every later call carries). Plain data, no storage concerns."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from payments.domain.events import rfc3339


class ProfileStatus(StrEnum):
    REGISTERING = "registering"  # asked the provider; no answer yet (a retry resumes it)
    PENDING = "pending"  # registered; the provider confirms later
    VERIFIED = "verified"
    REJECTED = "rejected"
    REGISTRATION_FAILED = "registration_failed"  # the provider refused the request itself


# Where a provider's confirmation may move a profile from (a late or repeated one is recorded).
CONFIRMABLE = frozenset({ProfileStatus.REGISTERING, ProfileStatus.PENDING})


@dataclass(frozen=True, slots=True)
class Profile:
    profile_id: str
    tenant_id: str
    provider: str
    external_customer_id: str
    email: str
    name: str
    wallet_address: str
    status: ProfileStatus
    version: int
    created_at: datetime
    updated_at: datetime
    provider_ref: str | None = None
    failure: str | None = None

    @property
    def verified(self) -> bool:
        return self.status is ProfileStatus.VERIFIED

    def moved(self, status: ProfileStatus, at: datetime, **changes: Any) -> Profile:
        return replace(self, status=status, version=self.version + 1, updated_at=at, **changes)

    def public_view(self) -> dict[str, Any]:
        """What the merchant's API shows (its own customer's details)."""
        return {
            **self.event_view(),
            "email": self.email,
            "name": self.name,
        }

    def event_view(self) -> dict[str, Any]:
        """What events carry: ids and state, no contact details (the notifier reads those)."""
        return {
            "profile_id": self.profile_id,
            "external_customer_id": self.external_customer_id,
            "provider": self.provider,
            "cprn": self.provider_ref,
            "status": self.status.value,
            "verified": self.verified,
            "wallet_address": self.wallet_address,
            "failure": self.failure,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        }
