"""Model cards: the pure figures, then the admin page over two real artifacts."""
from __future__ import annotations

import numpy as np
import pytest

from recsys.ml import card_figures
from recsys.models import ModelVersion, TrainingRun
from tests.factories import items, write_artifact


def test_gini_is_zero_when_even_and_high_when_concentrated():
    assert card_figures.gini(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    assert card_figures.gini(np.array([0, 0, 0, 10])) == pytest.approx(0.75)  # (n-1)/n for one item
    assert card_figures.gini(np.array([])) == 0.0


def test_figures_on_known_lists():
    ids = np.array(["a", "b", "c", "d"])
    catalog = {"a": "x", "b": "x", "c": "y", "d": "y"}
    lists = [np.array([0, 1]), np.array([0, 2])]  # a twice, b once, c once, d never
    f = card_figures.figures(lists, ids, catalog)
    assert f["recommendations"] == 4 and f["catalog_coverage"] == 0.75
    shares = {s["category"]: (s["recommended"], s["catalog"]) for s in f["category_shares"]}
    assert shares == {"x": (0.75, 0.5), "y": (0.25, 0.5)}
    assert f["category_share_gap"] == pytest.approx(0.25)
    assert f["recommendation_gini"] == pytest.approx(card_figures.gini(np.array([2, 1, 1, 0])))


def test_top_k_from_factors_is_the_exact_ranking():
    users = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    item_f = np.array([[0.1, 0.9], [0.9, 0.1], [0.5, 0.5], [0.8, 0.0]], dtype=np.float32)
    top = card_figures.top_k_factors(users, item_f, np.array([0, 1]), 2, chunk=1)
    assert top.tolist() == [[1, 3], [0, 2]]


def test_warnings_fire_only_beyond_the_threshold():
    before = {"ndcg@10": 0.20, "catalog_coverage": 0.5, "recommendation_gini": 0.40}
    assert card_figures.warnings({"ndcg@10": 0.19, "catalog_coverage": 0.5, "recommendation_gini": 0.42},
                               before, 0.10) == []
    out = card_figures.warnings({"ndcg@10": 0.15, "catalog_coverage": 0.3, "recommendation_gini": 0.6}, before, 0.10)
    assert [w.split()[0] for w in out] == ["ndcg@10", "catalog_coverage", "recommendation_gini"]
    assert card_figures.warnings({"ndcg@10": 0.1}, None, 0.1) == []


@pytest.mark.django_db
def test_admin_model_card_page(admin_client, tmp_path, settings):
    settings.MODEL_DIR = tmp_path
    items("a", "b", category="shoes")
    items("c", "d", category="hats")
    selection = [
        {"kind": "ease", "params": {"lambda": 50.0, "K": 100}, "folds": 3, "ndcg@10": 0.31, "ndcg@10_std": 0.012,
         "seconds": 1.5, "outcome": "incumbent", "won": True},
        {"kind": "bm25", "params": {"K": 50}, "folds": 3, "ndcg@10": 0.29, "ndcg@10_std": 0.01, "seconds": 0.25,
         "outcome": "within noise", "gain": -0.02, "gain_se": 0.004},
        {"kind": "ease", "params": {"lambda": 5.0, "K": 100}, "folds": 3, "ndcg@10": 0.27, "ndcg@10_std": 0.02,
         "seconds": 1.25},
        {"kind": "als", "params": {"factors": 32}, "folds": 1, "ndcg@10": 0.2, "ndcg@10_std": 0.0, "seconds": 2.0}]
    run = TrainingRun.objects.create(status="succeeded", params={"window_days": 365},
                                     data_counts={"events": 1234, "shoppers": 3, "items": 4},
                                     metrics={"selection": selection, "winner": {"kind": "ease"},
                                              "search": {"folds": 3, "trials": 4, "seconds": 5.0,
                                                         "budget_fits": 60, "fits": 10, "stopped": "budget", "z": 2.0,
                                                         "budget_work_seconds": 4.24, "work_seconds": 9.5,
                                                         "winner_fit_reused": True,
                                                         "sample": {"shoppers": 3, "of_shoppers": 30,
                                                                    "interactions": 9, "of_interactions": 90,
                                                                    "items_seen": 4, "of_items": 4,
                                                                    "top_decile_items_seen": 1.0,
                                                                    "scored_shoppers": 2, "folds": 3, "repeats": 1},
                                                         "skipped": ["ease skipped: too many items"],
                                                         "final": [{"kind": "ease", "ndcg@10": 0.2712, "won": True,
                                                                    "outcome": "displaced the incumbent"},
                                                                   {"kind": "als", "ndcg@10": 0.2533, "won": False,
                                                                    "outcome": "incumbent"}]}})
    old = ModelVersion.objects.create(kind="als", params={"factors": 4}, metrics={"ndcg@10": 0.3},
                                      baseline_metrics={"ndcg@10": 0.1})
    new = ModelVersion.objects.create(run=run, kind="als", params={"factors": 4, "regularization": 0.05},
                                      metrics={"ndcg@10": 0.2}, baseline_metrics={"ndcg@10": 0.1})
    for v in (old, new):
        write_artifact(tmp_path, v.pk, ["u1", "u2", ""], ["a", "b", "c", "d"])
        v.artifact_path = str(tmp_path / str(v.pk))
        v.save()
    page = admin_client.get(f"/admin/recsys/modelversion/{new.pk}/card/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "raced again on\nthe whole data: <strong>ease 0.2712 (won)</strong>, als 0.2533 (incumbent)." in html
    assert "last 365 days" in html and "1234" in html and "regularization=0.05" in html
    assert "ndcg@10 worsened from 0.3000 to 0.2000" in html
    assert "0.1000" in html  # the popularity baseline
    assert "shoes" in html and "hats" in html and "50.00%" in html  # catalog share per category
    assert f'href="/admin/recsys/modelversion/{old.pk}/card/"' in html
    # The per-kind table: each kind's best trial, the winner marked, its trials' time summed.
    assert html.count("(selected)") == 1 and "<strong>ease (selected)</strong>" in html
    assert "lambda=50.0" in html and "lambda=5.0" not in html and "0.3100 ± 0.0120" in html
    assert "<td>2</td><td>2.75</td>" in html and "4 trials, 10 fold-fits in" in html
    assert "stopped because the search budget was spent" in html and "3 of 30 shoppers" in html
    assert "a search budget of 4.2 s of estimated work after the starting points, 9.5 s spent in all" in html
    assert "The winner's fit from the selection" in html
    assert "-0.0200 ± 0.0040" in html and "within noise" in html
    assert html.index("ease (selected)") < html.index(">bm25<") < html.index(">als<")
    assert admin_client.get(f"/admin/recsys/modelversion/{old.pk}/card/").status_code == 200
    assert admin_client.get("/admin/recsys/modelversion/999999/card/").status_code == 404


@pytest.mark.django_db
def test_model_card_needs_admin_permission(client, django_user_model):
    v = ModelVersion.objects.create(kind="als")
    user = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(f"/admin/recsys/modelversion/{v.pk}/card/").status_code == 403
    client.logout()
    assert client.get(f"/admin/recsys/modelversion/{v.pk}/card/").status_code == 302  # to the login page


@pytest.mark.django_db
def test_training_admin_links_each_version_to_its_card(admin_client):
    v = ModelVersion.objects.create(kind="als", metrics={"ndcg@10": 0.2}, baseline_metrics={"ndcg@10": 0.1})
    html = admin_client.get("/admin/recsys/modelversion/").content.decode()
    assert f'href="/admin/recsys/modelversion/{v.pk}/card/"' in html
