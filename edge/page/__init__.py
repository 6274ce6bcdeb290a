"""The gate's local status page (issue 11): live decisions, health, a guard's local open."""
