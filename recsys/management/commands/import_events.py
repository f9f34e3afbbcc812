from django.core.management.base import BaseCommand, CommandError

from recsys.ingest.cli import add_import_arguments, finish
from recsys.ingest.files import FileRefused
from recsys.ingest.imports import events_import


class Command(BaseCommand):
    help = ("Import events from CSV (header user_id,item_id and optionally type,value,timestamp,event_id,"
            "recommendation_id) or JSON Lines. Idempotent: events already stored count as duplicates. "
            "A file with bad rows is refused whole, with their line numbers.")

    def add_arguments(self, parser):
        add_import_arguments(parser)
        parser.add_argument("--create-items", action="store_true",
                            help="Create unknown items (titled by their id) instead of refusing their events.")

    def handle(self, *args, path, skip_bad, no_progress, create_items, **options):
        try:
            report = events_import(path=path, skip_bad=skip_bad, progress=False if no_progress else None,
                                   auto_create_items=True if create_items else None)
        except FileRefused as exc:
            raise CommandError(str(exc))
        c = report.counts
        finish(self, report, "event", f"{c.accepted:,} stored, {c.duplicates:,} duplicates, "
                                      f"{c.shoppers_created:,} new shoppers, {c.items_created:,} new items")
