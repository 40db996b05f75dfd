"""Tests of the local Supabase Auth stand-in (switchyard/sim/auth), through the real clients."""
