"""Training runs: events -> matrix -> model selection -> evaluation -> gate -> artifact -> activation.

Entry points:
- `training_run_start(*, triggered_by)`: take the lock, queue a run and dispatch it (Celery task on
  the `training` queue, or a background thread when TRAINING_EXECUTOR="thread").
- `training_run_execute(*, run_id)`: the whole run in this process (the task, thread and
  `manage.py train` all call it). Idempotent: a run that is not queued is left alone.
- `model_version_activate(*, version_id)`: activate/rollback; the ACTIVE stamp is written after commit.
"""
from __future__ import annotations

import logging
import resource
import shutil
import threading
import time
import traceback
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from recsys.ml import artifacts, evaluation, fitting
from recsys.ml import matrix as mx
from recsys.privacy.services import scrub_erased_from_artifact
from recsys.training import selectors
from recsys.training.config import fit_options, weight_config
from recsys.training.lease import Heartbeat, LeaseLost, training_run_claim, training_run_create, training_run_release
from recsys.training.models import ModelVersion, TrainingRun
from recsys.training.selectors import downweight_promoted

log = logging.getLogger(__name__)
Status = TrainingRun.Status

# Stage name -> share of the progress bar (percent). Roughly their share of the run time.
STAGES = {"extract": 8, "split": 2, "select": 20, "fit": 40, "evaluate": 5, "refit": 10, "save": 13, "activate": 2}


class TrainingError(Exception):
    """A run cannot go on (no data, bad settings); the message is shown to the operator."""


class ActivationError(Exception):
    """A version cannot be activated (artifact pruned or incomplete)."""


class InjectedFailure(RuntimeError):
    """Raised by the TRAINING_FAIL_AT_STAGE test hook."""


# --- starting runs ----------------------------------------------------------------------------

def training_run_start(*, triggered_by: str, executor: str | None = None) -> tuple[TrainingRun, bool]:
    """Queue a run and hand it to the executor once the transaction commits.
    Returns (run, created); created=False means a run already holds the lock (that one is returned)."""
    executor = executor or settings.TRAINING_EXECUTOR
    run, created = training_run_create(triggered_by=triggered_by, executor=executor)
    if created:
        transaction.on_commit(lambda: training_run_dispatch(run_id=run.pk, executor=executor))
    return run, created


def training_run_dispatch(*, run_id: int, executor: str) -> None:
    if executor == "celery":
        from recsys.training.tasks import train_model

        try:
            train_model.apply_async(args=[run_id], retry=False)
        except Exception as exc:  # noqa: BLE001 - broker down: fail the run now, don't hold the lock
            log.exception("could not queue training run %s", run_id)
            TrainingRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
                status=Status.FAILED, lock=None, finished_at=timezone.now(),
                error=f"could not queue the run on the broker: {type(exc).__name__}: {exc}")
    elif executor == "thread":
        threading.Thread(target=execute_in_thread, args=(run_id,), name=f"training-{run_id}", daemon=True).start()
    elif executor != "inline":  # inline: the caller runs training_run_execute itself
        raise ValueError(f"unknown TRAINING_EXECUTOR {executor!r}: use celery or thread")


def execute_in_thread(run_id: int) -> None:
    """training_run_execute as a thread target (the thread executor, `manage.py train` inline)."""
    try:
        training_run_execute(run_id=run_id)
    finally:
        connection.close()


# --- one run ----------------------------------------------------------------------------------

@dataclass
class Progress:
    stage: str = "starting"
    fraction: float = 0.0  # of the current stage

    @property
    def percent(self) -> float:
        done = 0.0
        for name, share in STAGES.items():
            if name == self.stage:
                return min(100.0, done + share * min(self.fraction, 1.0))
            done += share
        return done if self.stage == "done" else 0.0


def process_peak_rss_bytes() -> int:
    """This process's own peak RSS (Linux VmHWM). Not getrusage's ru_maxrss: Linux carries the
    spawning process's peak across fork/vfork + exec into it, so a worker started by a big process
    (a benchmark that just loaded its data, a fat supervisor) would report that process's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # no /proc: best effort (kB on Linux)


class _Run:
    """Bookkeeping of one executing run: stage timings, log lines, the hooks, the lease."""

    def __init__(self, run_id: int):
        self.run_id = run_id
        self.progress = Progress()
        self.timings: dict[str, float] = {}
        self.peak_rss_mb: dict[str, int] = {}  # process peak RSS at the end of each stage
        self.lines: list[str] = []
        self.heartbeat: Heartbeat | None = None
        self._stage_started = time.perf_counter()

    def stage(self, name: str) -> None:
        self._close_stage()
        if self.heartbeat is not None and self.heartbeat.lost:
            raise LeaseLost("the run was marked failed (worker lost) while this worker still ran it")
        self.progress.stage, self.progress.fraction = name, 0.0
        TrainingRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
            stage=name, progress=round(self.progress.percent, 1), log="\n".join(self.lines))
        if settings.TRAINING_STAGE_DELAY_SECONDS:
            time.sleep(settings.TRAINING_STAGE_DELAY_SECONDS)
        if settings.TRAINING_FAIL_AT_STAGE == name:
            raise InjectedFailure(f"injected failure at stage {name} (TRAINING_FAIL_AT_STAGE)")

    def _close_stage(self) -> None:
        now = time.perf_counter()
        if self.progress.stage in STAGES:
            self.timings[self.progress.stage] = round(now - self._stage_started, 3)
            self.peak_rss_mb[self.progress.stage] = round(process_peak_rss_bytes() / 2**20)
        self._stage_started = now

    def note(self, message: str) -> None:
        line = f"{timezone.now():%H:%M:%S} [{self.progress.stage}] {message}"
        log.info("training run %s: %s", self.run_id, message)
        self.lines.append(line)

    def set_fraction(self, fraction: float) -> None:
        self.progress.fraction = fraction

    def finish_timings(self) -> dict:
        self._close_stage()
        return {**self.timings, "total": round(sum(self.timings.values()), 3)}


def training_run_execute(*, run_id: int) -> TrainingRun | None:
    """Run a queued run to its end in this process. Returns the run, or None if it was not queued."""
    if not training_run_claim(run_id=run_id):
        log.info("training run %s is not queued; nothing to do", run_id)
        return None
    state = _Run(run_id)
    state.note(f"started (pid {TrainingRun.objects.get(pk=run_id).worker_pid})")
    try:
        with Heartbeat(run_id, state.progress) as heartbeat:
            state.heartbeat = heartbeat
            _train(state)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the run
        state.note(f"failed: {exc}")
        detail = "".join(traceback.format_exception(exc)[-6:])
        training_run_release(run_id=run_id, status=Status.FAILED, error=f"{type(exc).__name__}: {exc}\n\n{detail}",
                             timings=state.finish_timings(), log="\n".join(state.lines), stage=state.progress.stage)
    return TrainingRun.objects.get(pk=run_id)


def _train(state: _Run) -> None:
    run_id = state.run_id
    config, options = weight_config(), fit_options()
    candidates = [fitting.Candidate.from_setting(c) for c in settings.TRAINING_CANDIDATES]
    if not candidates:
        raise TrainingError("TRAINING_CANDIDATES is empty")
    params = {"candidates": [c.label() for c in candidates], "weights": config.weights,
              "rating_threshold": config.rating_threshold, "half_life_days": config.half_life_days,
              "window_days": config.window_days, "num_threads": options.num_threads, "use_gpu": options.use_gpu,
              "seed": options.random_state, "gate_margin": settings.TRAINING_GATE_MARGIN}
    TrainingRun.objects.filter(pk=run_id).update(params=params)

    with fitting.blas_single_thread():
        data, split, counts, now = _extract_and_split(state, config, options)

        state.stage("select")
        trials = fitting.select(candidates, split.train, split.test, split.eval_users, options=options,
                                sample_users=settings.TRAINING_SELECTION_USERS,
                                eval_sample=settings.TRAINING_SELECTION_EVAL_USERS,
                                iterations=settings.TRAINING_SELECTION_ITERATIONS, seed=options.random_state,
                                progress=state.set_fraction)
        winner = trials[0].candidate
        for trial in trials:
            state.note(f"trial {trial.candidate.label()}: ndcg@10 {trial.metrics['ndcg@10']:.4f} "
                       f"({trial.seconds:.1f}s)")
        state.note(f"selected {winner.label()}")

        state.stage("fit")
        model = fitting.fit(winner, split.train, options=options, progress=state.set_fraction)

        state.stage("evaluate")
        eval_users = split.eval_users
        test = split.test[eval_users]
        popularity = mx.item_popularity(split.train)
        n_items = data.shape[1]
        metrics = evaluation.ranking_metrics(model.recommend(split.train, eval_users), test, n_items=n_items,
                                             popularity=popularity)
        popular = evaluation.ranking_metrics(evaluation.popular_recommendations(split.train, eval_users), test,
                                             n_items=n_items, popularity=popularity)
        rand = evaluation.ranking_metrics(
            evaluation.random_recommendations(split.train, eval_users, seed=options.random_state), test,
            n_items=n_items, popularity=popularity)
        active = selectors.active_model_version()
        accepted, reason = evaluation.promotion_decision(
            metrics, popularity=popular, random=rand, margin=settings.TRAINING_GATE_MARGIN,
            active=active.metrics if (active and settings.TRAINING_GATE_VS_ACTIVE and active.metrics) else None)
        state.note(f"ndcg@10 {metrics['ndcg@10']:.4f} vs popularity {popular['ndcg@10']:.4f} "
                   f"vs random {rand['ndcg@10']:.4f}: {'accepted' if accepted else 'rejected'} ({reason})")
        run_metrics = {"model": _rounded(metrics), "popularity": _rounded(popular), "random": _rounded(rand),
                       "selection": [t.as_dict() for t in trials], "gate": {"accepted": accepted, "reason": reason}}
        version = ModelVersion.objects.create(
            run_id=run_id, kind=winner.artifact_kind, params={"kind": winner.kind, **winner.params},
            metrics=_rounded(metrics), baseline_metrics=_rounded(popular),
            rejected_reason="" if accepted else reason,
        )
        TrainingRun.objects.filter(pk=run_id).update(metrics=run_metrics)
        if not accepted:
            state.note(f"version {version.pk} rejected; the active version is unchanged")
            training_run_release(run_id=run_id, status=Status.REJECTED,
                                 error=f"rejected by the promotion gate: {reason}", timings=state.finish_timings(),
                                 log="\n".join(state.lines), progress=100.0, stage="rejected", data_counts=counts)
            return

        state.stage("refit")
        if winner.kind == "als":
            refit = fitting.Candidate("als", {**winner.params, "iterations": settings.TRAINING_REFIT_ITERATIONS})
            model = fitting.fit(refit, data.matrix, options=options, progress=state.set_fraction, warm_start=model)
            model.candidate = winner
        else:
            del model  # item-item: nothing to warm-start from; free its similarity first
            model = fitting.fit(winner, data.matrix, options=options, progress=state.set_fraction)
        del split

        state.stage("save")
        similarity = model.similarity(settings.TRAINING_SIMILAR_ITEMS)
        artifact = artifacts.Artifact(
            kind=winner.artifact_kind, version=version.pk, user_ids=selectors.shopper_ids(data.user_pks),
            item_ids=selectors.item_ids(data.item_pks), similarity=similarity,
            user_factors=model.user_factors, item_factors=model.item_factors,
            params={"kind": winner.kind, **winner.params, "run": run_id},
        )
        path = artifacts.save(artifact, settings.MODEL_DIR)
        scrub_erased_from_artifact(path, since=now)  # shoppers erased while this run was training
        ModelVersion.objects.filter(pk=version.pk).update(artifact_path=str(path))
        counts["peak_rss_mb_after_stage"] = state.peak_rss_mb
        counts["model_bytes"] = int(sum(a.nbytes for a in (artifact.user_factors, artifact.item_factors)
                                        if a is not None) + mx.matrix_bytes(similarity))
        state.note(f"artifact written to {path}")

        state.stage("activate")
        with transaction.atomic():
            locked = TrainingRun.objects.select_for_update().get(pk=run_id)
            if locked.status != Status.RUNNING:
                raise LeaseLost("the run was marked failed (worker lost) before activation; not activating")
            model_version_activate(version_id=version.pk)
            state.note(f"version {version.pk} active")
            timings = state.finish_timings()
            state.progress.stage, state.progress.fraction = "done", 1.0
            training_run_release(run_id=run_id, status=Status.SUCCEEDED, timings=timings,
                                 log="\n".join(state.lines), progress=100.0, stage="done", data_counts=counts)
    model_versions_prune()


def _extract_and_split(state: _Run, config: mx.WeightConfig, options: fitting.FitOptions):
    """The extract and split stages shared by training and tuning runs."""
    state.stage("extract")
    now = timezone.now()
    users, items, weights, n_events = selectors.event_arrays(config=config, now=now)
    data = mx.build_interactions(users, items, weights, negatives=selectors.negative_interactions())
    data = downweight_promoted(data, config=config, now=now)  # trust: curators' promotions count less
    del users, items, weights
    counts = {"events": n_events, "shoppers": data.shape[0], "items": data.shape[1],
              "interactions": int(data.matrix.nnz), "matrix_bytes": mx.matrix_bytes(data.matrix)}
    state.note(f"{n_events:,} events -> {data.shape[0]:,} shoppers x {data.shape[1]:,} items, "
               f"{data.matrix.nnz:,} interactions")

    state.stage("split")
    split = mx.holdout_split(data.matrix, fraction=settings.TRAINING_HOLDOUT_FRACTION,
                             max_eval_users=settings.TRAINING_EVAL_USERS, seed=options.random_state)
    counts["eval_shoppers"] = int(len(split.eval_users))
    counts["held_out"] = int(split.test.nnz)
    TrainingRun.objects.filter(pk=state.run_id).update(data_counts=counts)
    if len(split.eval_users) < 2 or data.shape[1] < 2:
        raise TrainingError(f"not enough data to train: {len(split.eval_users)} shoppers with 2+ items, "
                            f"{data.shape[1]} items (import events or run `manage.py demo`)")
    return data, split, counts, now


# --- tuning: a larger search within a time budget, every trial recorded, nothing activated -----

def training_tune_start(*, triggered_by: str, budget_seconds: float,
                        executor: str | None = None) -> tuple[TrainingRun, bool]:
    """Queue a tuning run (it holds the same one-at-a-time lock as training)."""
    executor = executor or settings.TRAINING_EXECUTOR
    run, created = training_run_create(triggered_by=triggered_by, executor=executor)
    if created:
        TrainingRun.objects.filter(pk=run.pk).update(params={"mode": "tuning", "budget_seconds": budget_seconds})
        run.params = {"mode": "tuning", "budget_seconds": budget_seconds}
        if executor == "celery":
            from recsys.training.tasks import tune_model

            transaction.on_commit(lambda: tune_model.apply_async(args=[run.pk, budget_seconds]))
        elif executor == "thread":
            transaction.on_commit(lambda: threading.Thread(
                target=tune_in_thread, args=(run.pk, budget_seconds), daemon=True).start())
    return run, created


def tune_in_thread(run_id: int, budget_seconds: float) -> None:
    try:
        training_tune_execute(run_id=run_id, budget_seconds=budget_seconds)
    finally:
        connection.close()


def training_tune_execute(*, run_id: int, budget_seconds: float) -> TrainingRun | None:
    """Try candidates of `fitting.tuning_space()` on the selection subsample until the budget is
    spent; every trial is written to the run as it ends (metrics["tuning"], best first at the end).
    The best parameters are a suggestion for CURIO_TRAINING_CANDIDATES; nothing is activated."""
    if not training_run_claim(run_id=run_id):
        return None
    state = _Run(run_id)
    options = fit_options()
    try:
        with Heartbeat(run_id, state.progress) as heartbeat:
            state.heartbeat = heartbeat
            with fitting.blas_single_thread():
                _, split, counts, _ = _extract_and_split(state, weight_config(), options)
                state.stage("select")
                started, trials = time.monotonic(), []

                def record(trial: fitting.Trial) -> None:
                    trials.append(trial.as_dict())
                    state.set_fraction((time.monotonic() - started) / budget_seconds)
                    state.note(f"trial {trial.candidate.label()}: ndcg@10 {trial.metrics['ndcg@10']:.4f}")
                    TrainingRun.objects.filter(pk=run_id).update(metrics={"tuning": trials})

                ranked = fitting.select(
                    fitting.tuning_space(options.random_state), split.train, split.test, split.eval_users,
                    options=options, sample_users=settings.TRAINING_SELECTION_USERS,
                    eval_sample=settings.TRAINING_SELECTION_EVAL_USERS, iterations=None,
                    seed=options.random_state, deadline=started + budget_seconds, on_trial=record)
        best = [t.as_dict() for t in ranked]
        state.note(f"{len(best)} trials in {time.monotonic() - started:.0f}s; best "
                   f"{best[0]['kind']} {best[0]['params']}" if best else "no trial fitted within the budget")
        training_run_release(run_id=run_id, status=Status.SUCCEEDED, timings=state.finish_timings(),
                             log="\n".join(state.lines), progress=100.0, stage="done", data_counts=counts,
                             metrics={"tuning": best, "best": best[0] if best else None})
    except Exception as exc:  # noqa: BLE001 - recorded on the run
        training_run_release(run_id=run_id, status=Status.FAILED, error=f"{type(exc).__name__}: {exc}",
                             timings=state.finish_timings(), log="\n".join(state.lines))
    return TrainingRun.objects.get(pk=run_id)


def _rounded(metrics: dict) -> dict:
    return {k: round(float(v), 6) for k, v in metrics.items()}


# --- versions ---------------------------------------------------------------------------------

@transaction.atomic
def model_version_activate(*, version_id: int) -> ModelVersion:
    """Make `version_id` the one active version (also the rollback). The ACTIVE stamp that serving
    processes watch is written only after the transaction commits."""
    version = ModelVersion.objects.select_for_update().get(pk=version_id)
    if not version.artifact_path or not artifacts.is_complete(version.artifact_path):
        why = version.rejected_reason and f" (rejected: {version.rejected_reason})"
        raise ActivationError(f"version {version.pk} has no complete artifact on disk{why or ' (pruned?)'}")
    ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    version.save(update_fields=["is_active", "activated_at"])
    model_dir = settings.MODEL_DIR
    transaction.on_commit(lambda: artifacts.write_active_stamp(model_dir, version.pk))
    return version


def model_versions_prune(*, keep: int | None = None) -> list[int]:
    """Delete the artifacts of all but the newest `keep` saved versions (never the active one)."""
    keep = settings.TRAINING_RETAIN_VERSIONS if keep is None else keep
    saved = list(ModelVersion.objects.exclude(artifact_path="").order_by("-created_at", "-pk")
                 .values_list("pk", "artifact_path", "is_active"))
    pruned = []
    for pk, path, is_active in saved[keep:]:
        if is_active:
            continue
        if ModelVersion.objects.filter(pk=pk, is_active=False).update(artifact_path=""):
            shutil.rmtree(path, ignore_errors=True)
            pruned.append(pk)
    return pruned
