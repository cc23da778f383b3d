"""The sync engine: a source's snapshot → a plan (diff) → a bulk apply, recorded as a run."""
