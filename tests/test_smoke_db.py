def test_fresh_database_has_the_schema(db):
    row = db.execute("select count(*) as n from public.accounts").fetchone()
    assert row["n"] == 0
