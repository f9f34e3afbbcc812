"""The suggestions' scheduled task: run every detector (thin, idempotent; a beat entry calls it by name)."""
from __future__ import annotations

from celery import shared_task

from recsys.suggestions.services import suggestions_refresh


@shared_task(name="recsys.tasks.run_suggestion_detectors", ignore_result=True)
def run_suggestion_detectors() -> int:
    """New suggestions raised this run (open ones are refreshed, cases gone are removed)."""
    return len(suggestions_refresh().raised)
