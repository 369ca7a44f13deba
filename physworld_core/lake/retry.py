"""Riding out a storage outage: transient errors are retried with back-off, then reported with the endpoint.

An object store restarting, a load balancer dropping connections or a network blip lasts seconds to a minute.
A nightly run should wait that out instead of failing a step after two seconds with a raw
``EndpointConnectionError`` or ``Generic S3 error``. What counts as transient is decided from the error's
type (connection and timeout classes of the standard library, botocore and aiohttp) and, for errors that
reach Python only as text (delta-rs' object_store), from their message. Anything else — a missing table, a
permission refusal, a corrupt blob — is raised at once.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from physworld_core.errors import LakeError

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Exception class names that mean "the endpoint did not answer" (matched on the whole MRO by name, so
#: botocore/aiohttp need not be imported here).
_TRANSIENT_TYPES = frozenset(
    {
        "ConnectionError",
        "TimeoutError",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ClientOSError",
        "ServerTimeoutError",
        "IncompleteReadError",
        "ResponseStreamingError",
    }
)
#: Substrings of messages of errors that arrive as text (delta-rs, s3fs-translated errors).
_TRANSIENT_TEXT = (
    "connection refused",
    "connection reset",
    "connection closed",
    "error sending request",
    "error trying to connect",
    "tcp connect error",
    "broken pipe",
    "timed out",
    "operation timed out",
    "service unavailable",
    "slow down",
    "slowdown",
    "internal error",
    "internalerror",
    "bad gateway",
    "gateway timeout",
    "status: 500",
    "status: 502",
    "status: 503",
    "status: 504",
    "dns error",
    "could not connect",
    "cannot connect",
)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # object_store colours its error chains
#: With RUST_BACKTRACE set, delta-rs appends its Rust stack ("\n   0: <unknown>\n   1: …") to every message.
_RUST_BACKTRACE = re.compile(r"\n\s*0: .*", re.DOTALL)


def storage_message(error: BaseException) -> str:
    """An error from the storage libraries as a person reads it: one line, no colours, no Rust stack."""
    text = _RUST_BACKTRACE.sub("", str(error))
    return " ".join(_ANSI.sub("", text).replace("↳", "->").split())


def _one_line(error: BaseException, limit: int) -> str:
    return storage_message(error)[:limit]


class StorageUnavailableError(LakeError):
    """The lake's storage did not answer for the whole retry window (transient errors only)."""


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) looks like an outage rather than a bad request."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, LakeError) and not isinstance(error, StorageUnavailableError):
            return False  # our own verdicts (corrupt blob, schema drift) are final
        if any(cls.__name__ in _TRANSIENT_TYPES for cls in type(error).__mro__):
            return True
        text = str(error).lower()
        if any(fragment in text for fragment in _TRANSIENT_TEXT):
            return True
        error = error.__cause__ or error.__context__
    return False


@dataclass(frozen=True)
class RetryWindow:
    """How long storage calls wait out an outage.

    Args:
        total_s: give up once this much time has passed since the first failure (0 disables retries).
        initial_s: first back-off; doubles per attempt with equal jitter.
        max_s: ceiling of one back-off.
    """

    total_s: float = 120.0
    initial_s: float = 0.5
    max_s: float = 10.0

    def __post_init__(self) -> None:
        if not (self.total_s >= 0 and 0 < self.initial_s <= self.max_s):
            raise ValueError(
                f"RetryWindow needs total_s >= 0 and 0 < initial_s <= max_s, got {self.total_s}, "
                f"{self.initial_s}, {self.max_s}"
            )

    def call(self, what: str, endpoint: str, attempt: Callable[[], T]) -> T:
        """``attempt()``, retried on transient errors until it succeeds or the window closes.

        Raises:
            StorageUnavailableError: still failing when the window closed; names ``endpoint`` and the last error.
        """
        started = time.monotonic()
        tries = 0
        while True:
            tries += 1
            try:
                return attempt()
            except Exception as error:
                if not is_transient(error):
                    raise
                waited = time.monotonic() - started
                if waited >= self.total_s:
                    last = _one_line(error, 300)
                    raise StorageUnavailableError(
                        f"{what}: the lake's storage at {endpoint} did not answer for {waited:.0f} s "
                        f"({tries} attempts); last error: {type(error).__name__}: {last}"
                    ) from error
                ceiling = min(self.max_s, self.initial_s * 2 ** (tries - 1))
                delay = min(ceiling / 2 + random.uniform(0, ceiling / 2), self.total_s - waited)
                logger.warning(
                    "%s: storage at %s unavailable (%s: %s); retry %d in %.1f s",
                    what,
                    endpoint,
                    type(error).__name__,
                    _one_line(error, 200),
                    tries,
                    delay,
                )
                time.sleep(max(delay, 0.0))
