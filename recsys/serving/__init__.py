"""Serving: model store, candidates, popular lists, item cards and the list service (lists.py)."""
