from django.core.management.base import BaseCommand

from recsys.training.content import content_refresh


class Command(BaseCommand):
    help = ("Fold new and changed items into the active model version's content index now, as a new revision "
            "(what the every-minute task does); --force rebuilds it even when the catalog did not move.")

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Rebuild even if the index is current.")

    def handle(self, *args, force=False, **options):
        revision = content_refresh(force=force)
        self.stdout.write("the content index is current" if revision is None
                          else f"content index refreshed: revision {revision} of the active version")
