"""One account's ccxt calls, run on the shared loop, and what their failures mean.

A call the exchange refuses for our timestamp is made once more after measuring the clock
difference. A read that fails raises the seam's errors (`CredentialsRejected` when the key
is refused, else `VenueUnavailable`, so that the job is retried); a send that fails is a
verdict: refused at the door (nothing ran) or ambiguous (look the order up, never resend).
A setting made before an order (a perpetual's leverage) is neither: whatever became of it,
no order was sent, so its failure is a rejection, retryable when the exchange could not
be reached or could not say (there is nothing to look up, and setting it again is safe).
Every message is `errors.describe`'s, which never carries a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Final, TypeVar

import ccxt.async_support as ccxt

from switchyard.domain import ErrorCode
from switchyard.errors import CredentialsRejected, VenueUnavailable
from worker.venue import Ambiguous, Rejected
from worker.venues.exchange.clients import Client
from worker.venues.exchange.errors import Kind, describe, meaning
from worker.venues.exchange.loop import CallTimedOutError, LoopThread
from worker.venues.exchange.profile import Unified

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What the loop adds to a request's own timeout before a caller gives up on it.
LOOP_MARGIN_S: Final = 2.0


class Calls:
    """The calls of one account's client (`client`), on `loop`."""

    def __init__(self, client: Client, loop: LoopThread, *, request_timeout_s: float) -> None:
        self.client = client
        self.loop = loop
        self.profile = client.profile
        self.noun = client.profile.noun
        self.request_timeout_s = request_timeout_s

    @property
    def call_timeout_s(self) -> float:
        """The longest one request waits: its timeout, and the loop's margin."""
        return self.request_timeout_s + LOOP_MARGIN_S

    async def _clocked(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call`, once more after resyncing the clock if the exchange refused our time."""
        try:
            return await call()
        except ccxt.InvalidNonce:
            log.info("%s refused our timestamp: measuring the clock difference", self.noun)
            await self.client.exchange.load_time_difference()
            self.client.clock_synced = True
            return await call()

    def text(self, exc: BaseException) -> str:
        return describe(exc, self.noun, self.client.secrets)

    def read(self, call: Callable[[], Awaitable[T]], *, requests: int = 1) -> T:
        """A call that changes nothing: a failure raises (CredentialsRejected when the key
        is refused, else VenueUnavailable, so that the job is retried)."""
        timeout_s = self.request_timeout_s * requests + LOOP_MARGIN_S
        try:
            return self.loop.call(self._clocked(call), timeout_s)
        except CallTimedOutError as exc:
            raise VenueUnavailable(f"{self.noun} did not answer: {exc}") from None
        except (ccxt.BaseError, OSError, TimeoutError) as exc:
            found = meaning(exc, self.profile.credential_markers, self.profile.refusal_markers)
            if found.kind is Kind.CREDENTIALS:
                if (skewed := self._clock_skew()) is not None:
                    raise VenueUnavailable(skewed) from None
                raise CredentialsRejected(self.text(exc)) from None
            raise VenueUnavailable(self.text(exc)) from None

    def lookup(self, call: Callable[[], Awaitable[T | None]]) -> T | None:
        """A read whose OrderNotFound means: not there."""

        async def guarded() -> T | None:
            try:
                return await call()
            except ccxt.OrderNotFound:
                return None

        return self.read(guarded, requests=2)

    def send(self, call: Callable[[], Awaitable[Unified]]) -> Unified | Rejected | Ambiguous:
        """A call that changes something (create, cancel): its answer, or the verdict."""
        try:
            order: Unified = self.loop.call(self._clocked(call), self.call_timeout_s)
        except CallTimedOutError as exc:
            return Ambiguous(code=ErrorCode.VENUE_UNAVAILABLE, message=f"{self.noun}: {exc}")
        except (ccxt.BaseError, OSError, TimeoutError) as exc:
            return self._verdict(exc)
        return order

    def setting(self, call: Callable[[], Awaitable[object]], what: str) -> Rejected | None:
        """A call that sets something ahead of an order (`what`, for the message): None
        once it is set, else why not — never Ambiguous, for no order was sent."""
        try:
            self.loop.call(self._clocked(call), self.call_timeout_s)
        except CallTimedOutError as exc:
            return Rejected(
                code=ErrorCode.VENUE_UNAVAILABLE,
                message=f"not sent: {what}: {self.noun} did not answer ({exc})",
                retryable=True,
            )
        except (ccxt.BaseError, OSError, TimeoutError) as exc:
            verdict = self._verdict(exc)
            if isinstance(verdict, Ambiguous):  # the setting's outcome unknown, no order sent
                verdict = Rejected(code=verdict.code, message=verdict.message, retryable=True)
            return replace(verdict, message=f"not sent: {what}: {verdict.message}")
        return None

    def _verdict(self, exc: BaseException) -> Rejected | Ambiguous:
        found = meaning(
            exc if isinstance(exc, Exception) else Exception(),
            self.profile.credential_markers,
            self.profile.refusal_markers,
        )
        text = self.text(exc)
        if found.kind is Kind.CREDENTIALS:
            if (skewed := self._clock_skew()) is not None:  # refused at the door: nothing ran
                return Rejected(code=ErrorCode.VENUE_UNAVAILABLE, message=skewed, retryable=True)
            return Rejected(code=ErrorCode.CREDENTIALS_REJECTED, message=text)
        if found.kind in (Kind.REFUSED, Kind.NOT_FOUND):
            return Rejected(code=found.code, message=text)
        if found.kind is Kind.CLOCK:  # refused twice at the timestamp check: nothing ran
            return Rejected(code=ErrorCode.VENUE_UNAVAILABLE, message=text, retryable=True)
        return Ambiguous(code=ErrorCode.VENUE_UNAVAILABLE, message=text)

    def _clock_skew(self) -> str | None:
        """Why a refused key may be our clock's fault (the exchange stamps its tokens with
        it: Coinbase), or None. Never raises: a failed check leaves the refusal as it is."""
        check = self.profile.clock_skew
        if check is None:
            return None
        try:
            return self.loop.call(check(self.client.exchange), self.call_timeout_s)
        except Exception as exc:  # noqa: BLE001 - the refusal stands; say why the check failed
            log.info("%s: clock check failed (%s)", self.noun, type(exc).__name__)
            return None
