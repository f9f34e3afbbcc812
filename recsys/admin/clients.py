"""Admin for the clients area."""
