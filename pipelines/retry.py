"""Step-level retry for storage outages, and only for them.

Lake and blob calls already wait out a short outage (:class:`physworld_core.lake.retry.RetryWindow`). When the
storage stays away longer than that window, the step gives up with a
:class:`~physworld_core.lake.retry.StorageUnavailableError`; :func:`retry_on_outage` turns exactly that error
into :class:`dagster.RetryRequested`, so Dagster re-runs the step after a pause (stages are idempotent and
PPO resumes from its checkpoint). A plain ``RetryPolicy`` would also repeat deterministic failures — a prompt
naming an absent object fails the same way three times — which only delays the message a person needs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TypeVar

import dagster as dg

from physworld_core.lake.retry import StorageUnavailableError

F = TypeVar("F", bound=Callable)

#: Step retries after the in-process window closed: 3 more attempts, 60 s apart (plus each one's window).
MAX_STEP_RETRIES = 3
STEP_RETRY_WAIT_S = 60


def _retry(error: StorageUnavailableError) -> dg.RetryRequested:
    return dg.RetryRequested(max_retries=MAX_STEP_RETRIES, seconds_to_wait=STEP_RETRY_WAIT_S)


def retry_on_outage(fn: F) -> F:
    """Wrap an asset or check function (plain or generator): a storage outage requests a retry of the step;
    anything else fails it as before."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except StorageUnavailableError as error:
                raise _retry(error) from error

        return generator_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StorageUnavailableError as error:
            raise _retry(error) from error

    return wrapper  # type: ignore[return-value]
