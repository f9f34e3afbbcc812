from django.core.management.base import BaseCommand, CommandError

from recsys.clients.models import ApiClient
from recsys.clients.services import api_client_create


class Command(BaseCommand):
    help = "Create an API client and print its token (alone on the last line). Read scope unless --write."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--write", action="store_true", help="Grant write scope (changes data, export, erasure).")

    def handle(self, *args, name, write, **options):
        if ApiClient.objects.filter(name=name).exists():
            raise CommandError(f"An API client named {name!r} exists; revoke it in the admin or pick another name.")
        scope = ApiClient.Scope.WRITE if write else ApiClient.Scope.READ
        client, key = api_client_create(name=name, scope=scope)
        self.stderr.write(f"Created API client {client.name!r} with {scope} scope. The token is shown once:")
        self.stdout.write(key)
