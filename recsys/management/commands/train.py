"""`manage.py train [--wait]`: start a training run, optionally follow it with a progress bar.

With TRAINING_EXECUTOR=celery and a worker consuming the `training` queue, the run goes to the
worker (--wait follows it). Otherwise (the embedded default: no Redis, no worker) the run is
executed in this process, always waited for. Exits non-zero when the run fails or is rejected.
"""
import json
import logging
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from config.celery import app
from recsys.ml.fitting import recorded_spread
from recsys.training import services
from recsys.training.models import TrainingRun

FINISHED = {TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED, TrainingRun.Status.REJECTED}
SHOWN_METRICS = ("ndcg@10", "precision@10", "recall@10", "map@10", "coverage", "gini", "popularity_percentile")


def training_worker_available(timeout: float = 1.5) -> bool:
    """Is a Celery worker consuming the `training` queue right now? (Redis broker only.)"""
    if settings.TRAINING_EXECUTOR != "celery":
        return False
    try:
        queues = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception:  # noqa: BLE001 - no broker / no answer: nobody to hand the run to
        return False
    return any(q.get("name") == "training" for worker in queues.values() for q in worker)


class Command(BaseCommand):
    help = "Train a model from the events (model selection, evaluation, promotion gate, activation)."

    def add_arguments(self, parser):
        parser.add_argument("--wait", action="store_true", help="Follow the run to its end with a progress bar.")
        parser.add_argument("--inline", action="store_true", help="Run in this process even if a worker is up.")
        parser.add_argument("--tune", type=int, metavar="FITS",
                            help="Instead of training: run the training search with a budget of this many "
                                 "fold-fits (work, not seconds: the same trials on any machine), record every "
                                 "trial and print the best (nothing is activated; the next run starts from it).")

    def handle(self, *args, wait: bool, inline: bool, tune: int | None, **options):
        use_worker = not inline and training_worker_available()
        executor = "celery" if use_worker else "inline"
        if tune is not None:
            return self._tune(tune, executor, wait)
        run, created = services.training_run_start(triggered_by="command:train", executor=executor)
        if not created:
            if not wait:
                raise CommandError(f"training run {run.pk} is already {run.status}; use --wait to follow it")
            self.stdout.write(f"Following training run {run.pk}, already {run.status}.")
        elif use_worker:
            self.stdout.write(f"Training run {run.pk} queued for a worker (queue 'training').")
            if not wait:
                return
        else:
            self.stdout.write(f"Training run {run.pk}: no training worker, running in this process.")
            if options["verbosity"] < 2:  # the progress bar and the summary say it; -v 2 shows the log
                logging.getLogger("recsys.training").setLevel(logging.WARNING)
            thread = threading.Thread(target=services.execute_in_thread, args=(run.pk,), daemon=True)
            thread.start()
        run = self._follow(run.pk)
        self._report(run)

    def _tune(self, budget: int, executor: str, wait: bool) -> None:
        if budget <= 0:
            raise CommandError("--tune needs a positive number of fold-fits (e.g. --tune 200)")
        run, created = services.training_tune_start(triggered_by="command:train --tune",
                                                             budget_fits=budget, executor=executor)
        if not created:
            raise CommandError(f"training run {run.pk} is already {run.status}; try again when it is done")
        self.stdout.write(f"Tuning run {run.pk} ({budget} fold-fits of budget, {executor}).")
        if executor == "inline":
            logging.getLogger("recsys.training").setLevel(logging.WARNING)
            threading.Thread(target=services.tune_in_thread, args=(run.pk, budget), daemon=True).start()
        elif not wait:
            return
        run = self._follow(run.pk)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"tuning run {run.pk} {run.status}: {run.error}")
        for trial in run.metrics.get("tuning", []):
            self.stdout.write(f"  {trial['kind']:<7} {json.dumps(trial['params'], sort_keys=True):<60} "
                              f"ndcg@10 {trial['ndcg@10']:.4f} ± {recorded_spread(trial):.4f} "
                              f"({trial['folds']} folds)  {trial['seconds']}s")
        best = run.metrics.get("best")
        if best:
            self.stdout.write(self.style.SUCCESS(
                "Best: " + json.dumps({"kind": best["kind"], **best["params"]}) +
                " (the next training run starts its search from it)"))

    def _follow(self, run_id: int) -> TrainingRun:
        with tqdm(total=100, unit="%", desc="training", bar_format="{l_bar}{bar}| {n:.0f}/{total}% [{elapsed}]",
                  file=self.stderr._out) as bar:
            while True:
                run = TrainingRun.objects.get(pk=run_id)
                bar.set_description(f"training [{run.stage or run.status}]")
                bar.update(max(run.progress - bar.n, 0))
                if run.status in FINISHED:
                    bar.update(100 - bar.n)
                    return run
                time.sleep(0.5)

    def _report(self, run: TrainingRun) -> None:
        metrics = run.metrics or {}
        if metrics.get("model"):
            self.stdout.write(f"{'metric':<24}{'model':>10}{'popularity':>12}{'random':>10}")
            for name in SHOWN_METRICS:
                row = [metrics.get(k, {}).get(name, 0.0) for k in ("model", "popularity", "random")]
                self.stdout.write(f"{name:<24}{row[0]:>10.4f}{row[1]:>12.4f}{row[2]:>10.4f}")
        trials = metrics.get("selection", [])
        for trial in trials[:10]:  # best first; the run's API record and admin page have them all
            self.stdout.write(f"  trial {trial['kind']} {trial['params']}: ndcg@10 {trial['ndcg@10']:.4f} "
                              f"± {recorded_spread(trial):.4f} ({trial['folds']} folds, {trial['seconds']}s)")
        if len(trials) > 10:
            self.stdout.write(f"  ... and {len(trials) - 10} more trials (GET /api/v1/training-runs/{run.pk}/)")
        counts = run.data_counts or {}
        if counts:
            self.stdout.write("data: " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                                   for k, v in counts.items()))
        if run.timings:
            self.stdout.write("timings (s): " + ", ".join(f"{k} {v}" for k, v in run.timings.items()))
        version = getattr(run, "model_version", None)
        if run.status == TrainingRun.Status.SUCCEEDED:
            self.stdout.write(self.style.SUCCESS(f"Run {run.pk} succeeded: model version {version.pk} "
                                                 f"({version.kind}) is active."))
            return
        if run.status == TrainingRun.Status.REJECTED:
            raise CommandError(f"run {run.pk} rejected: model version {version.pk if version else '-'} "
                               f"was not activated. {run.error}")
        raise CommandError(f"run {run.pk} failed: {run.error.splitlines()[0] if run.error else 'unknown error'}")

