"""Tests of the simulated exchange, through the real ccxt over real HTTP."""
