"""Persistence of callback endpoints, deliveries and their attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from payments.store.models import CallbackEndpointItem, DeliveryAttemptItem, DeliveryItem
from payments.store.repositories import collection


def endpoints(tenant_id: str) -> list[CallbackEndpointItem]:
    return list(
        CallbackEndpointItem.query(
            f"TENANT#{tenant_id}", CallbackEndpointItem.sk.startswith("ENDPOINT#")
        )
    )


def get_endpoint(tenant_id: str, endpoint_id: str) -> CallbackEndpointItem | None:
    try:
        return CallbackEndpointItem.get(*CallbackEndpointItem.key(tenant_id, endpoint_id))
    except DoesNotExist:
        return None


def save_new_endpoint(item: CallbackEndpointItem) -> None:
    item.save(condition=CallbackEndpointItem.pk.does_not_exist())


def delete_endpoint(item: CallbackEndpointItem) -> None:
    item.delete()


def replace_secret(item: CallbackEndpointItem, new_ciphertext: str, overlap: timedelta) -> None:
    """The current secret becomes the previous one (valid for ``overlap``)."""
    item.update(
        actions=[
            CallbackEndpointItem.previous_secret_ciphertext.set(item.secret_ciphertext),
            CallbackEndpointItem.previous_secret_expires_at.set(datetime.now(UTC) + overlap),
            CallbackEndpointItem.secret_ciphertext.set(new_ciphertext),
            CallbackEndpointItem.version.add(1),
        ],
        condition=CallbackEndpointItem.version == item.version,
    )


def disable_endpoint(item: CallbackEndpointItem, reason: str) -> None:
    item.update(
        actions=[
            CallbackEndpointItem.enabled.set(False),
            CallbackEndpointItem.disabled_reason.set(reason),
        ]
    )


DISABLED_BY_MERCHANT = "disabled by the merchant"


def set_enabled(item: CallbackEndpointItem, enabled: bool) -> bool:
    """On clears the reason it was off; off by hand keeps a reason the system gave. False
    when the endpoint no longer exists."""
    actions: list[Any] = [
        CallbackEndpointItem.enabled.set(enabled),
        CallbackEndpointItem.version.add(1),
    ]
    if enabled:
        actions.append(CallbackEndpointItem.disabled_reason.remove())
    elif not item.disabled_reason:
        actions.append(CallbackEndpointItem.disabled_reason.set(DISABLED_BY_MERCHANT))
    try:
        item.update(actions=actions, condition=CallbackEndpointItem.pk.exists())
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def create_delivery(item: DeliveryItem) -> bool:
    """False when this delivery exists already (the event was fanned out before)."""
    try:
        item.save(condition=DeliveryItem.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get_delivery(delivery_id: str) -> DeliveryItem | None:
    try:
        return DeliveryItem.get(*DeliveryItem.key(delivery_id), consistent_read=True)
    except DoesNotExist:
        return None


def claim_attempt(delivery: DeliveryItem, lease: timedelta) -> int | None:
    """Take the next attempt for ``lease``; None when another worker has it in flight.

    The condition is on the attempt count we read and on no live claim: duplicate tasks lose
    the race, while a worker that died mid-attempt only holds the delivery until its lease
    lapses (then the retried task takes the next attempt).
    """
    attempt = int(delivery.attempts) + 1
    now = datetime.now(UTC)
    try:
        delivery.update(
            actions=[
                DeliveryItem.attempts.set(attempt),
                DeliveryItem.claimed_until.set(now + lease),
            ],
            condition=(DeliveryItem.attempts == attempt - 1)
            & (DeliveryItem.status == "pending")
            & (DeliveryItem.claimed_until.does_not_exist() | (DeliveryItem.claimed_until < now)),
        )
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return attempt


def record_attempt(item: DeliveryAttemptItem) -> None:
    item.save()


def finish_delivery(delivery: DeliveryItem, status: str, status_code: int | None) -> None:
    delivery.update(
        actions=[
            DeliveryItem.status.set(status),
            _status_code(status_code),
            DeliveryItem.next_attempt_at.remove(),
            DeliveryItem.claimed_until.remove(),
            DeliveryItem.updated_at.set(datetime.now(UTC)),
        ]
    )


def schedule_retry(delivery: DeliveryItem, status_code: int | None, at: datetime) -> None:
    delivery.update(
        actions=[
            _status_code(status_code),
            DeliveryItem.next_attempt_at.set(at),
            DeliveryItem.claimed_until.remove(),
            DeliveryItem.updated_at.set(datetime.now(UTC)),
        ]
    )


def _status_code(status_code: int | None) -> Any:
    """No answer (timeout, refused) leaves no status code."""
    if status_code is None:
        return DeliveryItem.last_status_code.remove()
    return DeliveryItem.last_status_code.set(status_code)


def reopen_delivery(delivery: DeliveryItem, *, reset_attempts: bool) -> None:
    actions: list[Any] = [
        DeliveryItem.status.set("pending"),
        DeliveryItem.claimed_until.remove(),
        DeliveryItem.updated_at.set(datetime.now(UTC)),
    ]
    if reset_attempts:
        actions.append(DeliveryItem.attempts.set(0))
    delivery.update(actions=actions)


def get_deliveries(delivery_ids: list[str]) -> list[DeliveryItem]:
    """The deliveries that exist among ``delivery_ids`` (BatchGetItem, 100 keys a call)."""
    if not delivery_ids:
        return []
    return list(DeliveryItem.batch_get([DeliveryItem.key(d) for d in dict.fromkeys(delivery_ids)]))


def delivery_attempts(delivery_id: str) -> list[DeliveryAttemptItem]:
    """A delivery's attempts, in order (one Query of its item collection)."""
    return list(
        DeliveryAttemptItem.query(
            DeliveryItem.key(delivery_id)[0], DeliveryAttemptItem.sk.startswith("ATTEMPT#")
        )
    )


def delivery_with_attempts(
    delivery_id: str,
) -> tuple[DeliveryItem | None, list[DeliveryAttemptItem]]:
    delivery: DeliveryItem | None = None
    attempts: list[DeliveryAttemptItem] = []
    for raw in collection(DeliveryItem.key(delivery_id)[0]):
        sort_key = raw["sk"]["S"]
        if sort_key == "DELIVERY":
            delivery = DeliveryItem.from_raw_data(raw)
        elif sort_key.startswith("ATTEMPT#"):
            attempts.append(DeliveryAttemptItem.from_raw_data(raw))
    return delivery, sorted(attempts, key=lambda a: int(a.attempt))
