import time

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from recsys.storefront.services import DemoConflict, demo_load, demo_reset, demo_users_ensure
from recsys.suggestions.cli import suggest
from recsys.suggestions.planted import planted_problems_seed
from recsys.training.models import ModelVersion


class Command(BaseCommand):
    help = (
        "Load the demo shop: ~2,000 items in 20 categories, ~3,000 shoppers with clustered tastes and ~200,000 "
        "events over the last 90 days (deterministic by --seed; rerunning adds nothing). Creates demo logins."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42, help="Random seed (same seed, same shop).")
        parser.add_argument("--scale", type=float, default=1.0, help="Size factor, e.g. 0.1 for a quick small shop.")
        parser.add_argument("--reset", action="store_true", help="Delete existing demo data first (only demo data).")
        parser.add_argument("--train", action="store_true",
                            help="Then train a first model with `train --wait` unless a model is active (make run).")
        parser.add_argument("--planted", action="store_true",
                            help="Then plant one problem per suggestion detector (traffic, rules, feedback) and run "
                                 "the detectors (docs/merchandising.md). Without it the shop stays clean.")

    def handle(self, *args, seed, scale, reset, train, planted=False, **options):
        if not scale > 0:
            raise CommandError("--scale must be positive")
        started = time.monotonic()
        if reset:
            self.stdout.write(f"Reset: deleted {demo_reset()} demo rows.")
        try:
            result = demo_load(seed=seed, scale=scale, progress=lambda msg: self.stdout.write(f"  {msg}"))
        except DemoConflict as exc:
            raise CommandError(str(exc)) from exc
        if result.already_loaded:
            self.stdout.write(f"Demo shop already loaded (seed {seed}, scale {scale:g}, {result.events_total} events).")
        else:
            self.stdout.write(
                f"Demo shop loaded: +{result.items_created} items, +{result.shoppers_created} shoppers, "
                f"+{result.events_created} events in {time.monotonic() - started:.1f}s."
            )
        if train:
            self._train(retrain=reset)
        if planted:
            plant = planted_problems_seed(now=timezone.now(), seed=seed)
            self.stdout.write(f"Planted one problem per detector: items {plant.items}, rules {plant.rules}, "
                              f"model versions {plant.versions}, placement {plant.placement!r}.")
            suggest(detectors=None, evidence=True, write=self.stdout.write)
        self.stdout.write("Logins (demo passwords; change them outside a demo):")
        for login in demo_users_ensure():
            note = "" if login.created else " (existed already; password unchanged)"
            self.stdout.write(f"  {login.role}: {login.username} / {login.password}{note}")

    def _train(self, *, retrain: bool) -> None:
        active = ModelVersion.objects.filter(is_active=True).first()
        if active is not None and not retrain:
            self.stdout.write(f"Model version {active.pk} ({active.kind}) is active; not retraining.")
            return
        if "train" not in get_commands():
            self.stdout.write("No `train` command in this build; lists fall back to popularity.")
            return
        try:
            call_command("train", wait=True, stdout=self.stdout, stderr=self.stderr)
        except CommandError as exc:
            # The shop still works without a model (popular lists); say so and carry on.
            self.stderr.write(self.style.WARNING(f"Training did not produce an active model: {exc}"))
