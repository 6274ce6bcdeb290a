"""Gate agent."""
