"""The venue adapters, one folder each: the only code that imports its venue's wire library.

Each implements `worker.venue.VenueAdapter` for the flow in `worker.trading`, and brings
its own lane (how its jobs are claimed: an MT5 terminal's lease and login preference).
"""
