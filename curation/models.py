"""Merchandiser rules: pins, blocks, boosts, annotations (see curation/rules.py for how they apply)."""
