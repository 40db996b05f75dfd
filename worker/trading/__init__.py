"""The venue-neutral trading flow, written once for every venue adapter.

risk limits → journal row → client order id → after any doubt, look the id up before
anything is resent → send (job lease and time-to-live checked right before, the journal's
`sent` committed before) → settle → journal; the account jobs (verify, switch, sync) and
what they write; and the dispatch of a claimed job to all of that (`dispatch.Flow`).
Policy lives here; parsing a venue's answers lives in its adapter (`worker.venues`).
"""
