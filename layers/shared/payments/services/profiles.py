"""Customer profiles: registering a buyer with the provider (NEO Bank: a CPRN), its later
confirmation by webhook, and its balances in the ledger.

``POST /v1/profiles`` writes the profile first (``registering``, with the claim of its external
customer id), then asks the bank, then records the answer with its CPRN claim and the
``profile.registered`` event (and ``profile.verified`` when the bank verified it at once) in one
transaction. A retry after no answer resumes the same profile: the bank dedupes on our profile id.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from payments.domain.ethereum import InvalidAddressError, checked_address
from payments.domain.events import EventEnvelope, EventType
from payments.domain.ledger import (
    adjustment_entry,
    in_transit_account,
    provider_clearing_account,
)
from payments.domain.profiles import CONFIRMABLE, Profile, ProfileStatus
from payments.errors import ConflictError, NotFoundError, PaymentsError
from payments.logs import function_logger
from payments.money import FIAT_EXPONENTS, Amount, Money, MoneyError, amount_for
from payments.providers import token_trades
from payments.providers.base import ProviderEvent, ProviderRejectedError
from payments.services.credentials import provider_credentials
from payments.services.rate_limits import CostlyOperation, enforce_rate_limit
from payments.services.transitions import new_event_id
from payments.store import profiles as store
from payments.store import repositories
from payments.store.state_change import CommitOutcome, InboxRecord, commit_journal, record_inbox

PROVIDER = "neobank"
EXTERNAL_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127}"
EMAIL_PATTERN = r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}"
_MAX_DECISIONS = 5


class ProfileNotFoundError(NotFoundError):
    code = "profile_not_found"


class ProfileExistsError(ConflictError):
    code = "profile_exists"


class InvalidProfileError(PaymentsError):
    code = "invalid_profile"
    status = 422


class ProfileChangedConcurrentlyError(ConflictError):
    code = "profile_busy"


def new_profile_id() -> str:
    return f"prf_{uuid.uuid4().hex}"


def profile_event(kind: EventType, profile: Profile, at: datetime) -> EventEnvelope:
    return EventEnvelope(
        new_event_id(), kind, profile.tenant_id, at, {"profile": profile.event_view()}
    )


def register_profile(
    *,
    tenant_id: str,
    external_customer_id: str,
    email: str,
    name: str,
    wallet_address: str,
) -> Profile:
    """Register the customer with the bank and answer the stored profile. ProfileExistsError
    when the tenant registered this customer already (with other details, or successfully)."""
    try:
        wallet = checked_address(wallet_address)
    except InvalidAddressError as error:
        raise InvalidProfileError(f"wallet_address: {error}") from None
    # A registration is a signed call to the bank: limited like starting a payment.
    enforce_rate_limit(tenant_id, CostlyOperation.CHECKOUT)
    credentials = provider_credentials(tenant_id, PROVIDER)
    now = datetime.now(UTC)
    profile = Profile(
        profile_id=new_profile_id(),
        tenant_id=tenant_id,
        provider=PROVIDER,
        external_customer_id=external_customer_id,
        email=email,
        name=name,
        wallet_address=wallet,
        status=ProfileStatus.REGISTERING,
        version=1,
        created_at=now,
        updated_at=now,
    )
    if not store.create_profile(profile):
        existing = store.find_by_external_id(tenant_id, PROVIDER, external_customer_id)
        if existing is None:
            raise ProfileChangedConcurrentlyError("the profile is being created; retry")
        same = (existing.email, existing.name, existing.wallet_address) == (email, name, wallet)
        resumable = existing.status in (
            ProfileStatus.REGISTERING,
            ProfileStatus.REGISTRATION_FAILED,
        )
        if not (same and resumable):
            raise ProfileExistsError(
                f"customer {external_customer_id!r} has profile {existing.profile_id} already"
            )
        profile = existing
    try:
        registration = token_trades(PROVIDER).register_customer(
            credentials,
            reference=profile.profile_id,
            email=profile.email,
            name=profile.name,
            wallet_address=profile.wallet_address,
        )
    except ProviderRejectedError as error:
        _save(profile, ProfileStatus.REGISTRATION_FAILED, failure=str(error)[:300])
        raise
    status = ProfileStatus(registration.status)
    at = datetime.now(UTC)
    updated = profile.moved(status, at, provider_ref=registration.provider_ref, failure=None)
    events = [profile_event(EventType.PROFILE_REGISTERED, updated, at)]
    if status is ProfileStatus.VERIFIED:
        events.append(profile_event(EventType.PROFILE_VERIFIED, updated, at))
    elif status is ProfileStatus.REJECTED:
        events.append(profile_event(EventType.PROFILE_REJECTED, updated, at))
    outcome = store.commit_profile_change(
        profile, updated, at=at, claim_provider_ref=True, events=events
    )
    if outcome is CommitOutcome.REFERENCE_TAKEN:
        # The bank gave us a CPRN another profile holds: never two profiles for one CPRN.
        raise ProfileExistsError("the bank's CPRN for this customer belongs to another profile")
    if outcome is CommitOutcome.CONFLICT:
        # A webhook got there first (it verified the profile): show what is stored.
        current = store.get_profile(tenant_id, profile.profile_id)
        if current is None:
            raise ProfileChangedConcurrentlyError("the profile changed; retry")
        return current
    function_logger().info(
        "profile registered",
        extra={"profile_id": updated.profile_id, "status": updated.status.value},
    )
    return updated


def _save(profile: Profile, status: ProfileStatus, **changes: Any) -> None:
    store.commit_profile_change(
        profile, profile.moved(status, datetime.now(UTC), **changes), at=datetime.now(UTC)
    )


def get_profile(tenant_id: str, profile_id: str) -> Profile:
    profile = store.get_profile(tenant_id, profile_id)
    if profile is None:
        raise ProfileNotFoundError(f"no profile {profile_id}")
    return profile


def find_profile(tenant_id: str, external_customer_id: str) -> Profile | None:
    return store.find_by_external_id(tenant_id, PROVIDER, external_customer_id)


# --- the bank's confirmation ---------------------------------------------------------------

_CONFIRMATIONS = {
    "verified": (ProfileStatus.VERIFIED, EventType.PROFILE_VERIFIED),
    "rejected": (ProfileStatus.REJECTED, EventType.PROFILE_REJECTED),
}


def apply_profile_event(
    *, tenant_id: str, provider: str, event: ProviderEvent, inbox: InboxRecord
) -> tuple[str, str | None]:
    """A registration's new state from the provider: (outcome, reason) with outcome applied,
    duplicate or ignored (recorded either way, so the provider stops retrying)."""
    subject = event.subject
    assert subject is not None
    confirmation = _CONFIRMATIONS.get(subject.status)
    if confirmation is None:
        return _ignored(inbox, "unhandled_event_type")
    status, kind = confirmation
    for _ in range(_MAX_DECISIONS):
        profile = store.find_by_provider_ref(tenant_id, provider, subject.provider_ref)
        if profile is None and subject.our_id:
            # Verified before our own write of its CPRN committed: found by our id, and the
            # CPRN claimed with this change.
            candidate = store.get_profile(tenant_id, subject.our_id)
            if candidate is not None and candidate.provider_ref in (None, subject.provider_ref):
                profile = candidate
        if profile is None:
            return _ignored(inbox, "unknown_profile")
        if profile.status not in CONFIRMABLE:
            return _ignored(
                inbox, "already_in_state" if profile.status is status else "out_of_order"
            )
        at = datetime.now(UTC)
        updated = profile.moved(status, at, provider_ref=subject.provider_ref)
        outcome = store.commit_profile_change(
            profile,
            updated,
            at=at,
            claim_provider_ref=profile.provider_ref is None,
            inbox=inbox,
            events=[profile_event(kind, updated, at)],
        )
        if outcome is CommitOutcome.DUPLICATE:
            return "duplicate", None
        if outcome is CommitOutcome.REFERENCE_TAKEN:
            return _ignored(inbox, "cprn_of_another_profile")
        if outcome is CommitOutcome.COMMITTED:
            return "applied", None
    raise ProfileChangedConcurrentlyError("the profile kept changing; the bank will retry")


def _ignored(inbox: InboxRecord, reason: str) -> tuple[str, str | None]:
    from dataclasses import replace

    if not record_inbox(replace(inbox, status="ignored", reason=reason)):
        return "duplicate", reason
    return "ignored", reason


# --- balances ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CurrencyBalance:
    currency: str
    cleared: Amount  # cleared by the bank, not yet settled (in transit)
    settled: Amount

    def view(self) -> dict[str, Any]:
        def text(amount: Amount) -> int | str:
            return amount if isinstance(amount, int) else format(amount, "f")

        return {
            "currency": self.currency,
            "cleared": text(self.cleared),
            "settled": text(self.settled),
            "total": text(self.cleared + self.settled),
        }


def profile_accounts(profile_id: str) -> tuple[str, str]:
    """The ledger accounts of a customer's money: (cleared, in transit) and settled."""
    return in_transit_account(PROVIDER, profile_id), provider_clearing_account(PROVIDER, profile_id)


def profile_balance(tenant_id: str, profile_id: str) -> list[CurrencyBalance]:
    """The customer's balances per currency, read from the ledger's balance items (each the
    sum of its journal lines, as ``ledger verify`` proves): never a number of its own."""
    get_profile(tenant_id, profile_id)
    cleared_account, settled_account = profile_accounts(profile_id)
    sums = repositories.shard_balances(tenant_id, profile_id, [cleared_account, settled_account])
    currencies = sorted({currency for _, currency in sums})
    balances = []
    for currency in currencies:
        cleared = sums.get((cleared_account, currency), (0, 0))
        settled = sums.get((settled_account, currency), (0, 0))
        balances.append(CurrencyBalance(currency, cleared[0] - cleared[1], settled[0] - settled[1]))
    return balances


def adjust_profile_balance(
    *,
    tenant_id: str,
    profile_id: str,
    amount: str,
    currency: str,
    reason: str,
    operator: str,
) -> str:
    """An operator's correction of a customer's settled balance: a balanced journal entry
    against ``ledger_adjustments`` (who, why and when in the entry), never an edited number.
    ``amount`` is a decimal string of major units, negative to reduce. Returns the entry id."""
    get_profile(tenant_id, profile_id)
    if not reason.strip():
        raise InvalidProfileError("an adjustment needs a reason")
    if not re.fullmatch(r"[A-Za-z0-9_.@:\- ]{1,64}", operator):
        raise InvalidProfileError("the operator is 1-64 letters, digits or _.@:- ")
    try:
        if currency.upper() in FIAT_EXPONENTS:
            minor: Amount = Money.from_decimal_string(amount, currency).minor
        else:
            minor = amount_for(currency, amount)
    except MoneyError as error:
        raise InvalidProfileError(f"amount: {error}") from None
    entry_id = f"je_{uuid.uuid4().hex}"
    entry = adjustment_entry(
        entry_id=entry_id,
        tenant_id=tenant_id,
        subject_id=profile_id,
        account=profile_accounts(profile_id)[1],
        amount=minor,
        currency=currency.upper(),
        reason=f"{reason.strip()[:200]} (by {operator})",
    )
    commit_journal([entry], datetime.now(UTC))
    function_logger().info(
        "ledger adjusted",
        extra={"profile_id": profile_id, "entry_id": entry_id, "operator": operator},
    )
    return entry_id
