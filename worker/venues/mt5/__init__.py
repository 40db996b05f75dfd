"""MetaTrader 5 terminals: the rpyc bridge, the terminal session, the adapter, the lane.

The only code of the product that imports `rpyc` or `mt5linux`. Its retcode table,
request building and the parsing of the terminal's answers stay here; what leaves this
folder is `worker.venue`'s vocabulary.
"""
