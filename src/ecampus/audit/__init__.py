"""The audit log: who did what to whom, for every staff action."""
