"""Chaos tests: a night on private servers that are killed and restarted while it runs."""
