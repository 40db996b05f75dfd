"""Backoff, from tenacity: how long a retryable job waits, how long a broken link rests.

A job's attempts are counted in its row (`attempts`, capped by `max_attempts`); the
wait before the next one is tenacity's exponential backoff with jitter, capped.
"""

from __future__ import annotations

from tenacity import RetryCallState, Retrying, wait_exponential_jitter


class Backoff:
    """Exponential backoff with jitter: base · 2^(n-1) + jitter, at most `max_s`."""

    def __init__(self, base_s: float, max_s: float) -> None:
        self._wait = wait_exponential_jitter(multiplier=base_s, max=max_s, jitter=base_s)
        self._retrying = Retrying()

    def delay_s(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1 = the first)."""
        state = RetryCallState(retry_object=self._retrying, fn=None, args=(), kwargs={})
        state.attempt_number = max(attempt, 1)
        return float(self._wait(state))
