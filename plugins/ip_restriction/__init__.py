"""IP restriction: pupils (by default) may log in only from their school's registered networks."""
