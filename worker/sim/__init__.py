"""Simulators that speak the real broker and exchange protocols, for local runs and tests."""
