"""Merchant callbacks as Standard Webhooks: signing, the retry schedule, what a response means.

Pure: no I/O. The sender (services.callbacks) does the HTTP and the bookkeeping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
# Delay before each retry, after the first attempt fails (Standard Webhooks' guidance):
# 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h: ten attempts over about three days.
RETRY_DELAYS_SECONDS: tuple[int, ...] = (
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    14 * 3600,
    20 * 3600,
    24 * 3600,
)
MAX_ATTEMPTS = len(RETRY_DELAYS_SECONDS) + 1
JITTER = 0.1  # +-10 %, so a recovering endpoint is not hit by every retry at once
MAX_RETRY_AFTER_SECONDS = 24 * 3600
# How long a rotated-out secret keeps signing alongside the new one.
ROTATION_OVERLAP_SECONDS = 24 * 3600


def new_secret() -> str:
    """``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64 HMAC-SHA256>`` entry; the key is the base64-decoded secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    secrets_in_use: list[str], message_id: str, timestamp: int, body: bytes
) -> str:
    """Space-separated entries, one per secret in use (two during a rotation)."""
    return " ".join(signature(secret, message_id, timestamp, body) for secret in secrets_in_use)


class ResponseVerdict(StrEnum):
    DELIVERED = "delivered"
    ENDPOINT_GONE = "endpoint_gone"  # 410: the merchant asked us to stop
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class Verdict:
    verdict: ResponseVerdict
    retry_after: int | None = None


def judge_response(status: int | None, retry_after: str | None = None) -> Verdict:
    """What an endpoint's answer means. ``status`` None: timeout or no connection."""
    if status is not None and 200 <= status < 300:
        return Verdict(ResponseVerdict.DELIVERED)
    if status == 410:
        return Verdict(ResponseVerdict.ENDPOINT_GONE)
    if status in {429, 503} and retry_after is not None:
        seconds = _retry_after_seconds(retry_after)
        if seconds is not None:
            return Verdict(ResponseVerdict.RETRY, min(seconds, MAX_RETRY_AFTER_SECONDS))
    return Verdict(ResponseVerdict.RETRY)


def next_delay(attempts_made: int, rng: random.Random | None = None) -> int | None:
    """Seconds to wait after ``attempts_made`` failed attempts; None when the schedule is spent."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS_SECONDS[attempts_made - 1]
    spread = (rng or random.SystemRandom()).uniform(-JITTER, JITTER)
    return max(1, round(base * (1 + spread)))


def _retry_after_seconds(value: str) -> int | None:
    """``Retry-After`` is either delta-seconds or an HTTP date."""
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0, int((moment - datetime.now(UTC)).total_seconds()))
