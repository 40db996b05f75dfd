"""Deleting a user from auth.users (the Supabase dashboard, `auth.admin.deleteUser`)
erases everything of theirs, and nothing of anyone else's."""

from __future__ import annotations

import uuid

from psycopg import sql

from switchyard.db import Connection
from tests.kernel.test_rls_matrix import EXPECTED, seed

#: The column that names a row's owner, in each table of the matrix.
OWNER = {
    "private.account_secrets": (
        "account_id in (select id from public.accounts where user_id = %s)"
    ),
    "private.signal_channel_secrets": (
        "channel_id in (select id from public.signal_channels where user_id = %s)"
    ),
}


def owned_rows(db: Connection, user: uuid.UUID) -> dict[str, int]:
    """Per table of the matrix, how many rows belong to `user` (tables with none left out)."""
    found = {}
    for table in sorted(EXPECTED):
        condition = sql.SQL(OWNER.get(table, "user_id = %s"))
        query = sql.SQL("select count(*) as n from {} where {}").format(
            sql.Identifier(*table.split(".")), condition
        )
        row = db.execute(query, (user,)).fetchone()
        assert row is not None
        if row["n"]:
            found[table] = row["n"]
    return found


def test_a_user_with_accounts_secrets_jobs_signals_and_a_second_factor_can_be_deleted(db):
    fx = seed(db)  # a row of alice's in every table, and an account of bob's
    db.execute(
        """insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status,
                                         created_at, updated_at, secret)
           values (gen_random_uuid(), %s, 'phone', 'totp', 'verified', now(), now(), 's')""",
        (fx.alice,),
    )
    before = owned_rows(db, fx.alice)
    assert set(before) == set(EXPECTED)  # the seed reaches every table: the check means something
    bob_before = owned_rows(db, fx.bob)

    db.execute("delete from auth.users where id = %s", (fx.alice,))

    assert owned_rows(db, fx.alice) == {}
    assert owned_rows(db, fx.bob) == bob_before
    assert bob_before["public.accounts"] == 1
