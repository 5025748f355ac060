"""Outbound delivery: a sandbox POSTs a provider's notification (webhook, callback) to a URL.

Deliveries of one queue (a webhook endpoint, say) go one at a time and in order, on that queue's
worker thread; a failed one (no 2xx: redirects are not followed) is retried after each pause of
``retry_backoff``, then given up. :meth:`Outbox.dispatch` applies the chaos a provider is allowed
(duplicates, shuffled or reversed order, late, lost), the signing hook of a delivery signs each
attempt afresh, and ``source_address`` picks the local address deliveries come from (any of
127.0.0.0/8), so a receiver's source allow-list can be exercised. Only loopback URLs are taken.
"""

from __future__ import annotations

import heapq
import http.client
import ipaddress
import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The signing hook: the headers that sign ``body`` now (a timestamped scheme signs each attempt).
Signer = Callable[[bytes], Mapping[str, str]]

DEFAULT_TIMEOUT_SECONDS = 10.0
_RANDOM = secrets.SystemRandom()


@dataclass
class Delivery(Generic[T]):
    queue: str  # deliveries of one queue go in order, one at a time
    url: str
    body: bytes
    context: T  # what the sandbox needs back when the delivery has finished
    headers: Mapping[str, str] = field(default_factory=dict)
    sign: Signer | None = None
    label: str = ""  # names the delivery in logs
    attempts: int = 0
    # The HTTP status of each attempt's answer (None: no answer: refused, timed out, not sent).
    answers: list[int | None] = field(default_factory=list)


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def arrange(
    items: Sequence[T], *, duplicates: int = 0, shuffle: bool = False, reverse: bool = False
) -> list[T]:
    """``items`` in the order chaos wants: reversed, each sent ``1 + duplicates`` times, shuffled
    (duplicates mixed in)."""
    ordered = list(reversed(items)) if reverse else list(items)
    sequence = ordered * (1 + max(0, duplicates))
    if shuffle:
        _RANDOM.shuffle(sequence)
    return sequence


def post(
    delivery: Delivery[T],
    *,
    source_address: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> bool:
    """POST one delivery; True on a 2xx answer. No proxies, no redirects, nothing but loopback."""
    parts = urlsplit(delivery.url)
    if parts.scheme not in ("http", "https") or not is_loopback_url(delivery.url):
        logger.warning("delivery %s: %s is not a loopback URL", delivery.label, delivery.url)
        delivery.answers.append(None)
        return False
    headers = dict(delivery.headers)
    if delivery.sign is not None:
        headers.update(delivery.sign(delivery.body))
    source = (source_address, 0) if source_address else None
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(
        parts.hostname or "", parts.port, timeout=timeout, source_address=source
    )
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    try:
        connection.request("POST", target, body=delivery.body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        logger.info("delivery %s to %s failed: %s", delivery.label, delivery.url, exc)
        delivery.answers.append(None)
        return False
    finally:
        connection.close()
    delivery.answers.append(status)
    if not 200 <= status < 300:
        logger.info("delivery %s to %s answered %s", delivery.label, delivery.url, status)
    return 200 <= status < 300


class Outbox(Generic[T]):
    """One FIFO queue and worker thread per delivery queue; failures are retried with backoff.

    ``outstanding`` counts deliveries queued, in flight or waiting to be retried, plus work held
    with ``hold`` or scheduled with ``later`` (a pending refund that will deliver events later).
    """

    def __init__(
        self,
        name: str,
        finished: Callable[[Delivery[T], bool], None],
        *,
        retry_backoff: Sequence[float] = (),
        source_address: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.name = name
        self.retry_backoff = tuple(retry_backoff)
        self.source_address = source_address  # read at each attempt: may change live
        self.timeout = timeout
        self._finished = finished
        self._cond = threading.Condition()
        self._queues: dict[str, list[tuple[float, int, Delivery[T]]]] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._timers: list[threading.Timer] = []
        self._sequence = itertools.count()
        self._outstanding = 0
        self._stopped = False

    def dispatch(
        self,
        deliveries: Sequence[Delivery[T]],
        *,
        duplicates: int = 0,
        shuffle: bool = False,
        reverse: bool = False,
        delay: float = 0.0,
        lost: bool = False,
    ) -> list[Delivery[T]]:
        """Queue ``deliveries`` as chaos arranges them (see :func:`arrange`), each ``delay``
        seconds late; ``lost`` sends nothing. Returns what was queued, one entry per copy."""
        if lost:
            return []
        sequence = [
            Delivery(d.queue, d.url, d.body, d.context, d.headers, d.sign, d.label)
            for d in arrange(deliveries, duplicates=duplicates, shuffle=shuffle, reverse=reverse)
        ]
        for delivery in sequence:
            self.submit(delivery, delay)
        return sequence

    def submit(self, delivery: Delivery[T], delay: float = 0.0) -> None:
        with self._cond:
            if self._stopped:
                return
            self._outstanding += 1
            self._push(delivery, delay)

    def hold(self) -> None:
        with self._cond:
            self._outstanding += 1

    def release(self) -> None:
        with self._cond:
            self._outstanding -= 1
            self._cond.notify_all()

    def later(self, delay: float, work: Callable[[], None]) -> Callable[[], bool]:
        """Run ``work`` on a timer after ``delay`` seconds, counted as outstanding till then.
        Returns ``cancel``: it stops the work if it has not started (True), False otherwise."""
        claim_lock = threading.Lock()
        claimed = False

        def claim() -> bool:
            nonlocal claimed
            with claim_lock:
                if claimed:
                    return False
                claimed = True
                return True

        def run() -> None:
            if not claim():
                return
            try:
                work()
            finally:
                self.release()

        timer = threading.Timer(delay, run)
        timer.daemon = True

        def cancel() -> bool:
            if not claim():
                return False
            timer.cancel()
            with self._cond:
                if timer in self._timers:
                    self._timers.remove(timer)
            self.release()
            return True

        self.hold()
        with self._cond:
            self._timers.append(timer)
        timer.start()
        return cancel

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._outstanding <= 0, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self._cond.notify_all()
            workers = list(self._workers.values())
        for worker in workers:
            worker.join(timeout=2)

    def _push(self, delivery: Delivery[T], delay: float) -> None:
        queue = self._queues.setdefault(delivery.queue, [])
        heapq.heappush(queue, (time.monotonic() + delay, next(self._sequence), delivery))
        if delivery.queue not in self._workers:
            worker = threading.Thread(
                target=self._drain,
                args=(delivery.queue,),
                name=f"{self.name}-{delivery.queue}",
                daemon=True,
            )
            self._workers[delivery.queue] = worker
            worker.start()
        self._cond.notify_all()

    def _next(self, queue_name: str) -> Delivery[T] | None:
        with self._cond:
            while not self._stopped:
                queue = self._queues[queue_name]
                now = time.monotonic()
                if queue and queue[0][0] <= now:
                    return heapq.heappop(queue)[2]
                self._cond.wait(queue[0][0] - now if queue else None)
            return None

    def _drain(self, queue_name: str) -> None:
        while (delivery := self._next(queue_name)) is not None:
            try:
                delivered = post(delivery, source_address=self.source_address, timeout=self.timeout)
            except Exception:
                logger.exception("delivery %s crashed", delivery.label)
                delivery.answers.append(None)
                delivered = False
            delivery.attempts += 1
            with self._cond:
                if not delivered and delivery.attempts <= len(self.retry_backoff):
                    self._push(delivery, self.retry_backoff[delivery.attempts - 1])
                    continue
            self._finished(delivery, delivered)
            self.release()
