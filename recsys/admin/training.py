"""Admin for the training area."""
