"""The schema and `switchyard.domain` spell the same vocabulary.

Each enum of the domain is the list a check constraint of the schema allows, read from
pg_constraint of the database the migrations built: a venue (or a status) added on one
side only fails here, not in production.
"""

from __future__ import annotations

import enum
import re

import pytest

from switchyard.domain import AccountStatus, JobKind, JobStatus, Venue

#: `col = ANY (ARRAY['a'::text, 'b'::text])`: the quoted values of a check constraint.
_QUOTED = re.compile(r"'((?:[^']|'')*)'::text")


def allowed(db, table: str, column: str) -> set[str]:
    """The values the check constraints on `table` that involve `column` alone allow."""
    rows = db.execute(
        "select pg_get_constraintdef(c.oid) as definition"
        "  from pg_constraint c"
        "  join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)"
        " where c.conrelid = %s::regclass and c.contype = 'c' and a.attname = %s"
        "   and cardinality(c.conkey) = 1",
        (table, column),
    ).fetchall()
    assert len(rows) == 1, f"one check constraint on {table}.{column}, found {rows}"
    return {value.replace("''", "'") for value in _QUOTED.findall(rows[0]["definition"])}


@pytest.mark.parametrize(
    ("table", "column", "vocabulary"),
    [
        ("public.accounts", "venue", Venue),
        ("public.accounts", "status", AccountStatus),
        ("public.jobs", "kind", JobKind),
        ("public.jobs", "status", JobStatus),
    ],
)
def test_a_check_constraint_allows_exactly_the_domain_enum(db, table, column, vocabulary):
    values: set[str] = {member.value for member in vocabulary}
    assert issubclass(vocabulary, enum.StrEnum)
    assert allowed(db, table, column) == values
