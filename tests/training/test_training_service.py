"""Training runs end to end in this process, on the test database (SQLite or PostgreSQL).

transactional_db: the run's heartbeat thread uses its own connection and must see committed rows.
"""
import os
import time
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from recsys.ml import artifacts
from recsys.models import Feedback, Item, ModelVersion, Shopper, TrainingRun
from recsys.training import selectors, services
from recsys.training.config import weight_config
from recsys.training.lease import training_run_claim, training_run_create
from tests.factories import served_version
from tests.training_data import FAST_CANDIDATES, fast_training_settings, make_popularity_shop, make_shop

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def training_settings(settings, tmp_path):
    return fast_training_settings(settings, tmp_path, TRAINING_SIMILAR_ITEMS=10)


def train() -> TrainingRun:
    run, created = services.training_run_start(triggered_by="test", executor="inline")
    assert created
    done = services.training_run_execute(run_id=run.pk)
    assert done is not None
    return done


def test_run_selects_evaluates_saves_and_activates(settings):
    settings.TRAINING_SEARCH_SECONDS = 0  # the starting points only, each on every fold (no timing in the test)
    shop = make_shop()
    run = train()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.worker_pid == os.getpid() and run.worker_host and run.progress == 100.0
    assert run.lock is None and run.finished_at and run.heartbeat_at
    assert run.data_counts["events"] == shop["events"] and run.data_counts["shoppers"] == shop["shoppers"]
    assert {"extract", "split", "select", "fit", "evaluate", "refit", "save", "activate", "total"} <= set(run.timings)
    selection = run.metrics["selection"]
    search = run.metrics["search"]
    # The two starting points on every fold: 3 folds, repeated over a sample far below the interactions bound.
    assert len(selection) == 2 and {t["folds"] for t in selection} == {search["folds"]} and search["folds"] % 3 == 0
    assert {"kind", "params", "folds", "ndcg@10", "ndcg@10_std", "seconds", "outcome", "won"} <= set(selection[0])
    assert selection[0]["won"] and not selection[1]["won"] and {t["outcome"] for t in selection} <= {
        "incumbent", "within noise", "behind", "displaced the incumbent"}
    assert {"gain", "gain_se"} <= set(selection[1]) or selection[0]["outcome"] == "displaced the incumbent"
    assert run.metrics["winner"]["kind"] == selection[0]["kind"] == run.model_version.params["kind"]
    assert search["stopped"] == "space" and search["fits"] == 2 * search["folds"]
    assert search["sample"]["shoppers"] == shop["shoppers"] and search["sample"]["interactions"] > 0
    assert run.data_counts["selection_shoppers"] + run.data_counts["holdout_shoppers"] == \
        run.data_counts["eval_shoppers"]
    version = run.model_version
    assert version.is_active and version.activated_at
    assert version.metrics["ndcg@10"] > 1.5 * version.baseline_metrics["ndcg@10"]
    assert run.metrics["model"]["ndcg@10"] > run.metrics["random"]["ndcg@10"]
    loaded = artifacts.load(version.artifact_path)
    assert loaded.version == version.pk and loaded.kind == version.kind
    assert len(loaded.user_ids) == shop["shoppers"] and "u0" in set(loaded.user_ids.tolist())
    assert loaded.similarity.shape == (shop["items"], shop["items"]) and loaded.similarity.nnz > 0
    assert served_version() == version.pk
    assert "selected" in run.log and "active" in run.log


def test_the_next_run_starts_its_search_from_the_last_runs_best():
    make_shop()
    first = train()
    assert first.metrics["search"]["warm_start"] is None and first.metrics["search"]["folds"] % 3 == 0
    second = train()
    best = first.metrics["selection"][0]
    assert second.metrics["search"]["warm_start"] == {"kind": best["kind"], "params": best["params"]}
    # The last run's winner is the incumbent: tried first, on every fold.
    assert any(t["kind"] == best["kind"] and t["params"] == best["params"] and t["folds"] == second.metrics[
        "search"]["folds"] for t in second.metrics["selection"])

    # Same data, same seed: the second run (its incumbent the first run's winner) keeps the same winner and model.
    assert second.metrics["winner"] == first.metrics["winner"]
    assert second.model_version.params == first.model_version.params
    assert second.metrics["model"] == first.metrics["model"]  # the holdout figures, to the digit


def test_consent_withdrawn_shoppers_are_left_out():
    make_shop()
    Shopper.objects.filter(user_id__in=["u1", "u2", "u3"]).update(personalization_consent=False)
    run = train()
    assert run.data_counts["shoppers"] == 297
    user_ids = set(artifacts.load(run.model_version.artifact_path).user_ids.tolist())
    assert not user_ids & {"u1", "u2", "u3"} and "u4" in user_ids


def test_not_interested_feedback_is_a_negative_interaction():
    make_shop(shoppers=20, items=12)
    shopper, item = Shopper.objects.get(user_id="u0"), Item.objects.get(item_id="i0")
    Feedback.objects.create(shopper=shopper, item=item, type="not_interested", status="none")
    users, items = selectors.negative_interactions()
    assert users.tolist() == [shopper.pk] and items.tolist() == [item.pk]


def test_extraction_matches_orm_sum_of_weights():
    make_shop(shoppers=30, items=20, events_per_shopper=10)
    config = weight_config()
    users, items, weights, total = selectors.event_arrays(config=config, now=timezone.now())
    assert total == 300 and len(users) == 300
    from recsys.models import Event

    expected = {}
    for ev in Event.objects.all():
        age = (timezone.now() - ev.timestamp).total_seconds() / 86400
        w = config.weights[ev.type] * 0.5 ** (age / config.half_life_days)
        expected[(ev.shopper_id, ev.item_id)] = expected.get((ev.shopper_id, ev.item_id), 0) + w
    got = {}
    for u, i, w in zip(users, items, weights, strict=True):
        got[(u, i)] = got.get((u, i), 0) + w
    assert got.keys() == expected.keys()
    assert np.allclose([got[k] for k in expected], list(expected.values()), rtol=1e-3)


def test_injected_failure_leaves_previous_version_active(settings):
    make_shop()
    first = train().model_version
    settings.TRAINING_FAIL_AT_STAGE = "save"
    failed = train()
    assert failed.status == TrainingRun.Status.FAILED
    assert "injected failure at stage save" in failed.error and failed.lock is None
    assert ModelVersion.objects.get(is_active=True).pk == first.pk
    assert served_version() == first.pk
    settings.TRAINING_FAIL_AT_STAGE = ""
    assert train().status == TrainingRun.Status.SUCCEEDED  # the lock was released


def test_gate_rejects_a_random_quality_model(settings):
    make_shop()
    settings.TRAINING_CANDIDATES = [{"kind": "random"}]
    settings.TRAINING_SEARCH_SECONDS = 0  # no search: the one starting point is the winner
    run = train()
    assert run.status == TrainingRun.Status.REJECTED
    version = run.model_version
    assert not version.is_active and not version.artifact_path
    assert "does not beat random" in version.rejected_reason
    assert not ModelVersion.objects.filter(is_active=True).exists()
    with pytest.raises(CommandError, match="rejected"):
        call_command("train", "--wait")


def test_gate_rejects_a_model_worse_than_popularity(settings):
    make_popularity_shop()
    settings.TRAINING_CANDIDATES = [{"kind": "cosine", "K": 3}]
    settings.TRAINING_SEARCH_SECONDS = 0
    run = train()
    assert run.status == TrainingRun.Status.REJECTED, run.metrics
    assert run.metrics["model"]["ndcg@10"] < run.metrics["popularity"]["ndcg@10"]
    assert "does not beat popularity" in run.model_version.rejected_reason


def test_one_run_at_a_time_and_lost_workers_are_reaped(settings):
    first, created = training_run_create(triggered_by="a")
    second, created_again = training_run_create(triggered_by="b")
    assert created and not created_again and second.pk == first.pk
    assert training_run_claim(run_id=first.pk)
    assert not training_run_claim(run_id=first.pk)  # a redelivered task does nothing
    TrainingRun.objects.filter(pk=first.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    third, created = training_run_create(triggered_by="c")
    assert created and third.pk != first.pk
    lost = TrainingRun.objects.get(pk=first.pk)
    assert lost.status == TrainingRun.Status.FAILED and lost.error.startswith("worker lost") and lost.lock is None


def test_rollback_and_pruning(settings):
    settings.TRAINING_RETAIN_VERSIONS = 2
    make_shop()
    versions = [train().model_version for _ in range(3)]
    assert ModelVersion.objects.get(is_active=True).pk == versions[2].pk
    oldest = ModelVersion.objects.get(pk=versions[0].pk)
    assert oldest.artifact_path == "" and not (settings.MODEL_DIR / str(oldest.pk)).exists()
    services.model_version_activate(version_id=versions[1].pk)
    assert ModelVersion.objects.get(is_active=True).pk == versions[1].pk
    assert served_version() == versions[1].pk
    with pytest.raises(services.ActivationError, match="not in the artifact store"):
        services.model_version_activate(version_id=versions[0].pk)


def test_train_command_runs_in_process_and_prints_metrics(capsys):
    make_shop()
    call_command("train", "--wait")
    out = capsys.readouterr().out
    assert "no training worker, running in this process" in out
    assert "ndcg@10" in out and "popularity" in out
    version = ModelVersion.objects.get(is_active=True)
    assert f"model version {version.pk}" in out


def test_train_command_fails_without_data():
    with pytest.raises(CommandError, match="not enough data"):
        call_command("train")


@pytest.mark.slow
def test_demo_data_selected_model_beats_popularity_by_half(settings, capsys):
    from config import settings as project_settings

    settings.TRAINING_CANDIDATES = project_settings.TRAINING_CANDIDATES  # the shipped defaults
    call_command("demo")
    capsys.readouterr()
    run = train()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    model, popular = run.metrics["model"]["ndcg@10"], run.metrics["popularity"]["ndcg@10"]
    print(f"demo data: {run.data_counts} selected {run.model_version.params} ndcg@10 {model:.4f} "
          f"vs popularity {popular:.4f} (+{model / popular - 1:.0%})")
    assert model >= 1.5 * popular


def test_tuning_records_every_trial_within_the_budget_and_activates_nothing():
    make_shop()
    run, created = services.training_tune_start(triggered_by="test", budget_fits=6, executor="inline")
    assert created
    started = time.monotonic()
    done = services.training_tune_execute(run_id=run.pk, budget_fits=6)
    assert time.monotonic() - started < 60
    assert done.status == TrainingRun.Status.SUCCEEDED and done.lock is None, done.error
    trials = done.metrics["tuning"]
    assert len(trials) >= 2 and done.metrics["best"] == trials[0]
    n_folds = max(t["folds"] for t in trials)  # 3 folds x the repeats a small shop gets
    complete = [t["ndcg@10"] for t in trials if t["folds"] == n_folds]  # then those stopped early
    assert trials[0]["won"] and len(complete) >= 2 and complete[1:] == sorted(complete[1:], reverse=True)
    assert trials[:len(complete)] == [t for t in trials if t["folds"] == n_folds]
    assert {t["kind"] for t in trials} <= {"als", "bm25", "cosine", "ease", "rp3beta"}
    assert not ModelVersion.objects.exists() and done.params == {"mode": "tuning", "budget_fits": 6}
    search = done.metrics["search"]  # the budget is the fold-fits asked for, not seconds
    assert search["budget_fits"] == 6 and search["stopped"] in ("budget", "space"), search


def test_a_run_on_a_sample_checks_its_verdict_on_the_whole_data(settings):
    make_shop()
    settings.TRAINING_SELECTION_INTERACTIONS = 200  # the race runs on a sample of the shop
    run = train()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    search = run.metrics["search"]
    assert search["sample"]["interactions"] < search["sample"]["of_interactions"]
    final = search["final"]  # the best of each kind raced again on the whole data: the winner is its winner
    assert len({t["kind"] for t in final}) == len(final) >= 2 and sum(t["won"] for t in final) == 1
    winner = next(t for t in final if t["won"])
    assert run.metrics["winner"] == {"kind": winner["kind"], "params": winner["params"]}
    assert "final round on the whole data" in run.log
    settings.TRAINING_SELECTION_INTERACTIONS = 10**9  # within the bound: no final round
    assert train().metrics["search"]["final"] == []


@pytest.fixture
def one_fold(settings):
    make_shop()
    settings.TRAINING_SELECTION_EVAL_USERS = 20  # under a tenth of the shoppers: one fold of all 20
    settings.TRAINING_SELECTION_Z = 1000.0  # the first starting point stays the winner
    return settings


def test_a_one_fold_selection_hands_its_item_item_fit_to_the_holdout(one_fold):
    settings = one_fold
    settings.TRAINING_CANDIDATES = [{"kind": "bm25", "K": 50}, {"kind": "cosine", "K": 50}]
    run = train()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    search = run.metrics["search"]
    assert search["sample"]["folds"] == 1 and search["winner_fit_reused"] is True, search
    assert search["work_seconds"] > 0 and search["budget_work_seconds"] >= settings.TRAINING_SEARCH_MIN_WORK
    assert "the winner's fit from the selection is the model" in run.log
    assert run.metrics["model"]["ndcg@10"] > run.metrics["random"]["ndcg@10"]


def test_an_als_winner_is_fitted_afresh_after_a_one_fold_selection(one_fold):
    one_fold.TRAINING_CANDIDATES = [FAST_CANDIDATES[0], {"kind": "bm25", "K": 50}]
    run = train()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.metrics["winner"]["kind"] == "als" and run.metrics["search"]["winner_fit_reused"] is False
    assert "the winner's fit from the selection is the model" not in run.log


def test_train_tune_takes_a_budget_of_fold_fits(capsys):
    make_shop()
    with pytest.raises(CommandError, match="positive number of fold-fits"):
        call_command("train", "--tune", "0", "--inline")
    call_command("train", "--tune", "6", "--inline")
    out = capsys.readouterr().out
    run = TrainingRun.objects.get()
    assert "6 fold-fits of budget" in out and "best" in out.lower(), out
    assert run.params == {"mode": "tuning", "budget_fits": 6} and run.metrics["search"]["budget_fits"] == 6


def test_peak_rss_is_the_process_own_not_its_spawner():
    """A worker started by a big process reports its own peak (ru_maxrss would report the spawner's)."""
    import subprocess
    import sys

    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"x" * len(range(0, len(ballast), 4096))  # touch every page: it is resident
    del ballast
    script = ("import django; django.setup(); "
              "from recsys.training.progress import process_peak_rss_bytes; print(process_peak_rss_bytes())")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    peak = int(out.stdout.split()[-1])
    assert 10 * 2**20 < peak < 300 * 2**20
