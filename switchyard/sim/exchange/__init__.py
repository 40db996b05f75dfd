"""A simulated exchange that unmodified ccxt cannot tell from Binance, Bybit and OKX."""
