"""Writes (services) for the recsys app, one module per area."""
