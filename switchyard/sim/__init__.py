"""Local stand-ins for third-party services; each imports nothing of the product."""
