-- The journal over HTTP (GET /v1/deals, /v1/pnl, /v1/positions, /v1/accounts/{id}/equity).
--
-- `deals.swap`: the swap (rollover interest) the venue booked with a deal, as it reports
-- it (MT5 books a position's swap on its closing deal). Null: not reported — a venue that
-- books no swap per fill, or a deal stored before this column existed (the next sync that
-- reads the deal again fills it in from the venue; nothing else ever changes a stored deal).
alter table public.deals add column swap numeric;

-- `deals.seq`: the order deals were stored in: the order the venue reported them in (MT5
-- lists deals oldest first). A venue's clock has one-second steps,
-- so an opening and its closing deal often share `executed_at`: the history is ordered by
-- (executed_at, seq), which keeps them in the venue's order and gives pages a cursor that
-- never skips a deal. Rows already stored are numbered in no particular order.
alter table public.deals add column seq bigint generated always as identity;
revoke all on sequence public.deals_seq_seq from anon, authenticated, public;

-- Paging the history of one account and the P&L of a range read this index; a user's
-- whole history reads deals_user_id_idx.
create index deals_account_executed_idx on public.deals (account_id, executed_at desc, seq desc);
-- The equity series of one account over a range: balance_snapshots_account_idx
-- (account_id, taken_at desc) already serves it.
