"""When the worker's own code fails mid-job: the job still ends, and nothing is sent twice.

An exception a handler did not expect (a bug, a trigger's constraint violation) is
logged with its traceback by the lane; the job row gets a reason that says an internal
error happened, never the exception's text (it may hold input). What becomes of the
job depends on the trade journal alone:

* no journal row, or one that says `rejected`: nothing was sent, so the job fails now
  (`internal`). A bug retried only fails again later; the caller may safely send anew.
* any other row (`sent`, `unknown`, or done): an order may have been executed. The job is
  retried as after an ambiguous outcome: the next attempt answers from the journal or
  looks the client order id up at the venue before anything could be sent again (past
  its time-to-live too). A bug that recurs ends the job after `max_attempts` attempts with
  "the outcome is unknown".
"""

from __future__ import annotations

from typing import Final

from switchyard.db import Connection
from switchyard.domain import TRADE_JOB_KINDS, ErrorCode, JobError, client_order_id
from worker.outcome import Failed, Outcome, Retry
from worker.queue import Job
from worker.trading.journal import Journal, may_have_effect

NOTHING_SENT: Final = (
    "an internal error in the worker ended this job; no order was sent for it "
    "(the worker's log has the details under this job's id)"
)


def look_up(noun: str) -> str:
    """The reason of a job retried after a bug, `noun` naming its venue ("the terminal")."""
    return (
        "an internal error in the worker interrupted this job after its order was "
        f"journalled; the order is looked up at {noun} before anything is sent again"
    )


def effect_possible(conn: Connection, job: Job) -> bool:
    """Whether an attempt of this job may have reached the venue (its journal row says so)."""
    if job.kind not in TRADE_JOB_KINDS:
        return False
    entry = Journal(conn).get(job.user_id, client_order_id(job.id))
    return may_have_effect(None if entry is None else entry.status)


def after_bug(conn: Connection, job: Job, noun: str = "the venue") -> Outcome:
    """What a job becomes when its handler raised something unexpected."""
    if effect_possible(conn, job):
        return Retry(JobError(code=ErrorCode.INTERNAL, message=look_up(noun)), ambiguous=True)
    return Failed(JobError(code=ErrorCode.INTERNAL, message=NOTHING_SENT))
