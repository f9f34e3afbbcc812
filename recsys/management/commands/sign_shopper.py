from django.core.management.base import BaseCommand, CommandError

from recsys.clients.models import ApiClient
from recsys.clients.services import shopper_signature_create
from recsys.clients.shopper_signatures import DEFAULT_TTL_SECONDS, HEADER


class Command(BaseCommand):
    help = (f"Print a {HEADER} value (alone on the last line) that lets a public token of client NAME speak for "
            "shopper USER_ID. For trying the API by hand; a shop's backend signs with the secret itself "
            "(docs/api.md, \"Signed shoppers\"; the secret: `shopper_signing_secret NAME`).")

    def add_arguments(self, parser):
        parser.add_argument("name", help="The API client whose signing secret signs.")
        parser.add_argument("user_id")
        parser.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS,
                            help=f"Seconds the signature stays valid (default {DEFAULT_TTL_SECONDS}).")

    def handle(self, *args, name, user_id, ttl, **options):
        if ttl <= 0:
            raise CommandError("--ttl must be a positive number of seconds.")
        try:
            value = shopper_signature_create(client_name=name, user_id=user_id, ttl_seconds=ttl)
        except ApiClient.DoesNotExist:
            raise CommandError(f"No API client named {name!r} (create_api_client NAME).")
        self.stderr.write(f"Send it as the {HEADER} header with {name!r}'s token; valid {ttl} s:")
        self.stdout.write(value)
