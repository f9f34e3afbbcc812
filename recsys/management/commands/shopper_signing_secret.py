from django.core.management.base import BaseCommand, CommandError

from recsys.clients.models import ApiClient
from recsys.clients.services import api_client_signing_secret


class Command(BaseCommand):
    help = ("Print the signing secret of API client NAME (alone on the last line): the shop's backend signs "
            "shopper ids with it for the client's public token (docs/api.md, \"Signed shoppers\"). Keep it on "
            "the server, never in a page.")

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        try:
            secret = api_client_signing_secret(name=name)
        except ApiClient.DoesNotExist:
            raise CommandError(f"No API client named {name!r} (create_api_client NAME).")
        self.stderr.write(f"Signing secret of {name!r} (server side only):")
        self.stdout.write(secret)
