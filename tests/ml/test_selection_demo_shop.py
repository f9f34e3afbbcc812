"""On the demo shop (the storefront's generator, in memory): the model the search selects scores at
least as well on the untouched holdout as the best of the shipped default candidates fitted alone."""
from datetime import UTC, datetime

import numpy as np
import pytest

from config import settings as project_settings
from recsys.ml import evaluation, fitting, matrix
from recsys.storefront import demo_shop

OPTIONS = fitting.FitOptions(num_threads=2, random_state=42)


def demo_matrix(scale: float = 1.0) -> matrix.Interactions:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    shop = demo_shop.generate(seed=42, scale=scale, now=now)
    weights = matrix.event_weights(shop.ev_type.astype(np.int64), shop.ev_value, now.timestamp() - shop.ev_seconds_ago,
                               now=now.timestamp(), config=matrix.WeightConfig(half_life_days=365.0))
    return matrix.build_interactions(shop.ev_shopper.astype(np.int64), shop.ev_item.astype(np.int64), weights)


@pytest.mark.slow
def test_selected_model_is_at_least_the_best_default_candidate_on_the_holdout():
    data = demo_matrix()
    split = matrix.holdout_split(data.matrix, fraction=0.2, max_eval_users=10_000, seed=42)
    users, holdout = fitting.split_eval_users(split.eval_users, selection_users=3_000, seed=42)
    folds = fitting.selection_folds(split.train, split.test, users, n_folds=3, sample_users=40_000, seed=42)
    defaults = [fitting.Candidate.from_setting(c) for c in project_settings.TRAINING_CANDIDATES]
    trials = fitting.search(defaults, fitting.tuning_space(42), folds, options=OPTIONS, iterations=6,
                            budget_fits=30)  # work, not seconds: the same trials on any machine
    test, pop = split.test[holdout], matrix.item_popularity(split.train)

    def holdout_ndcg(candidate: fitting.Candidate) -> float:
        model = fitting.fit(candidate, split.train, options=OPTIONS)
        return evaluation.ranking_metrics(model.recommend(split.train, holdout), test, n_items=data.shape[1],
                                  popularity=pop)["ndcg@10"]

    selected = holdout_ndcg(trials[0].candidate)
    best_default = max(holdout_ndcg(c) for c in defaults)
    popular = evaluation.ranking_metrics(evaluation.popular_recommendations(split.train, holdout), test,
                                         n_items=data.shape[1], popularity=pop)["ndcg@10"]
    print(f"selected {trials[0].candidate.label()} {selected:.4f}, best default {best_default:.4f}, "
          f"popularity {popular:.4f}, {len(trials)} trials")
    assert selected >= best_default and selected > 1.5 * popular
