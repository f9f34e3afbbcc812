from django.core.management.base import BaseCommand, CommandError

from recsys.suggestions.cli import suggest
from recsys.suggestions.services import DETECTOR_NAMES


class Command(BaseCommand):
    help = "Run every suggestion detector now and print what it found (the inbox is updated as the hourly task does)."

    def add_arguments(self, parser):
        parser.add_argument("--detector", action="append", dest="detectors", metavar="NAME",
                            help=f"Only this detector (repeatable): {', '.join(DETECTOR_NAMES)}.")
        parser.add_argument("--evidence", action="store_true", help="Print each finding's evidence as JSON.")

    def handle(self, *args, detectors=None, evidence=False, **options):
        unknown = sorted(set(detectors or ()) - set(DETECTOR_NAMES))
        if unknown:
            raise CommandError(f"Unknown detector(s) {', '.join(unknown)}; choose from {', '.join(DETECTOR_NAMES)}.")
        suggest(detectors=detectors, evidence=evidence, write=self.stdout.write)
