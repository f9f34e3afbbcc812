from django.core.management.base import BaseCommand, CommandError

from recsys.ingest.cli import add_import_arguments, finish
from recsys.ingest.files import FileRefused
from recsys.ingest.imports import items_import


class Command(BaseCommand):
    help = ("Import (create or update) items from CSV (header item_id,title,category and optionally "
            "available,url,image_url,price; any other column becomes an attribute) or JSON Lines. "
            "A file with bad rows is refused whole, with their line numbers.")

    def add_arguments(self, parser):
        add_import_arguments(parser)

    def handle(self, *args, path, skip_bad, no_progress, **options):
        try:
            report = items_import(path=path, skip_bad=skip_bad, progress=False if no_progress else None)
        except FileRefused as exc:
            raise CommandError(str(exc))
        c = report.counts
        finish(self, report, "item", f"{c.items_created:,} created, {c.items_updated:,} updated")
