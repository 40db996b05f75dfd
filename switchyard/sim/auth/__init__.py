"""A local stand-in for Supabase Auth (GoTrue): email and password, sessions, TOTP MFA."""
