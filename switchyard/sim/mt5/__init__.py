"""A simulated MetaTrader 5 terminal behind the real mt5linux (rpyc) protocol."""
