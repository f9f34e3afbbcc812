"""The merchandiser's console, above serving: the preview (algorithm and curated lists side by side), the
board (the curated list as product cards, drafts included) and the landing panel (what is live, what changes,
what is known to help or hurt). It composes serving, analytics, feedback and curation; it only reads — the
writes are curation.services'."""
