"""EASE, RP3beta and weighted ALS against hand-computed values; fold-in of the new kinds against the
shopper-side refit; the selection's folds, race and budget (with an injected clock). Pure: no DB."""
import logging

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.ml import artifacts, evaluation, fitting, matrix, model_kinds, scoring
from recsys.ml.model_kinds import ScoreRequest
from recsys.ml.model_kinds.neighbourhood import ease_weights, rp3beta_walk, rp3beta_weights
from tests.ml.test_training_fitting import OPTIONS, clustered

# Shoppers: u0 {0, 1}, u1 {0, 2}, u2 {1}.
TINY = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.float32))


def test_ease_matches_the_closed_form_by_hand():
    # G + I = [[3,1,1],[1,3,0],[1,0,2]]: det 13, P = adj / 13 = [[6,-2,-3],[-2,5,1],[-3,1,8]] / 13,
    # B_ij = -P_ij / P_jj.
    expected = np.array([[0, 2 / 5, 3 / 8], [1 / 3, 0, -1 / 8], [1 / 2, -1 / 5, 0]])
    np.testing.assert_allclose(ease_weights(TINY, 1.0), expected, rtol=1e-12)
    model = fitting.fit(fitting.Candidate("ease", {"lambda": 1.0, "K": 5}), TINY, options=OPTIONS)
    # The served matrix keeps the positive neighbours only; u2 (item 1) scores item 0 with 1/3.
    np.testing.assert_allclose(model.similarity(2).toarray(), np.where(expected > 0, expected, 0), rtol=1e-6)
    assert model.recommend(TINY, np.array([2]), k=2).tolist() == [[0, -1]]


def test_ease_head_is_ease_on_the_head_and_scaled_rp3beta_where_a_tail_item_is_involved():
    m = clustered(seed=5)
    pop = np.diff(m.tocsc().indptr)
    head = np.sort(np.argsort(-pop, kind="stable")[:40])
    w = fitting.fit(fitting.Candidate("ease_head", {"lambda": 20.0, "K": 100, "items": 40, "alpha": 0.8, "beta": 0.3}),
                    m, options=OPTIONS).fitted.toarray()
    binary = m.copy()
    binary.data[:] = 1.0
    ease = ease_weights(binary[:, head].tocsr(), 20.0)
    block = w[np.ix_(head, head)]
    assert np.allclose(block, np.where(ease > 0, ease, 0.0), atol=1e-6)  # the head block: EASE's positive weights
    tail = np.setdiff1d(np.arange(100), head)
    assert w[tail].sum() > 0 and w[:, tail].sum() > 0  # tail items point and are pointed to (RP3beta)
    everything = fitting.fit(fitting.Candidate("ease_head", {"lambda": 20.0, "K": 30, "items": 100}), m,
                             options=OPTIONS).fitted
    alone = fitting.fit(fitting.Candidate("ease", {"lambda": 20.0, "K": 30}), m, options=OPTIONS).fitted
    assert abs(everything - alone).max() < 1e-6  # a head as large as the catalog: EASE itself
    assert model_kinds.kind_class("ease_head").skip_reason((10, 100), fitting.FitOptions(ease_max_items=100))
    assert not model_kinds.kind_class("ease_head").skip_reason((10, 101), fitting.FitOptions(ease_max_items=100))


def test_rp3beta_matches_the_random_walk_by_hand():
    # P(item -> shopper) = 1/2 for every pair here; P(u0 -> 0) = P(u0 -> 1) = P(u1 -> 0) = P(u1 -> 2) = 1/2,
    # P(u2 -> 1) = 1; popularity (shoppers) [2, 2, 1].
    piu, right = rp3beta_walk(TINY, 1.0, 0.5)
    w = rp3beta_weights(piu, right, slice(0, 3)).toarray()
    r2 = np.sqrt(2)
    np.testing.assert_allclose(w, [[0, 1 / 4 / r2, 1 / 4], [1 / 4 / r2, 0, 0], [1 / 2 / r2, 0, 0]], rtol=1e-12)
    piu, right = rp3beta_walk(TINY, 2.0, 0.0)  # alpha squares each step's probability, beta 0: no division
    np.testing.assert_allclose(rp3beta_weights(piu, right, slice(0, 3)).toarray(),
                               [[0, 1 / 16, 1 / 16], [1 / 16, 0, 0], [1 / 4, 0, 0]], rtol=1e-12)
    fitted = fitting.fit(fitting.Candidate("rp3beta", {"alpha": 1.0, "beta": 0.5, "K": 1}), TINY, options=OPTIONS)
    assert fitted.similarity(1).toarray()[0].tolist() == pytest.approx([0, 0, 0.25])  # top-1 per row


def test_als_bm25_confidences_are_implicits_bm25_weight_times_alpha():
    from implicit.nearest_neighbours import bm25_weight

    m = clustered(n_users=60)
    m.data = np.random.default_rng(0).integers(1, 6, m.nnz).astype(np.float32)
    model = model_kinds.create("als", {"weighting": "bm25", "bm25_K1": 1.2, "bm25_B": 0.75, "alpha": 3.0})
    ours = model._fit_weights(m)
    np.testing.assert_allclose(ours.toarray(), np.maximum(bm25_weight(m, K1=1.2, B=0.75).toarray(), 0), atol=1e-3)
    log = model_kinds.create("als", {"weighting": "log"})._fit_weights(m)
    np.testing.assert_allclose(log.data, np.log1p(m.data), rtol=1e-6)
    with pytest.raises(ValueError, match="use linear, log or bm25"):
        model_kinds.create("als", {"weighting": "sqrt"})


def _saved(model, tmp_path, m):
    art = model.to_artifact(version=1, user_ids=np.array([f"u{i}" for i in range(m.shape[0])]),
                            item_ids=np.array([f"i{j}" for j in range(m.shape[1])]), similar_items=30,
                            params={"kind": model.kind, **model.params})
    return model_kinds.from_artifact(artifacts.load(artifacts.save(art, tmp_path))).prepare_serving()


@pytest.mark.parametrize("candidate", [
    fitting.Candidate("ease", {"lambda": 20.0, "K": 30}),
    fitting.Candidate("ease_head", {"lambda": 20.0, "K": 30, "items": 40}),
    fitting.Candidate("rp3beta", {"alpha": 0.8, "beta": 0.3, "K": 30}),
    fitting.Candidate("rp3beta", {"alpha": 0.8, "beta": 0.3, "K": 30, "binary": True}),
    fitting.Candidate("als", {"factors": 8, "iterations": 6, "alpha": 4.0, "regularization": 0.1, "weighting": "bm25",
                              "bm25_K1": 1.2, "bm25_B": 0.75}),
    fitting.Candidate("als", {"factors": 8, "iterations": 6, "alpha": 4.0, "regularization": 0.1,
                              "weighting": "log"}),
], ids=lambda c: c.label())
def test_fold_in_of_a_one_shopper_change_equals_the_shoppers_refit(tmp_path, candidate):
    """A shopper's new event: serving folds her in from the saved version; offline, her part of the
    model is refitted (ALS: implicit's recalculate_user on her reweighed row; item-item kinds: her
    row times the fitted matrix). Same items, same scores."""
    m = clustered()
    m.data = np.random.default_rng(1).integers(1, 5, m.nnz).astype(np.float32)
    fitted = fitting.fit(candidate, m, options=OPTIONS)
    loaded = _saved(fitted, tmp_path, m)
    changed = m.tolil()
    new_item = int(np.setdiff1d(np.arange(m.shape[1]), m[5].indices)[0])
    changed[5, new_item] = 3.0
    row = sp.csr_matrix(changed.tocsr()[5])
    history = scoring.History(row.indices.astype(np.int32), (row.data * loaded.confidence_scale).astype(np.float32))
    served = loaded.score([ScoreRequest(history, 10, exclude=row.indices)])[0]
    if fitted.is_factor_model:
        ids, scores = fitted.model.recommend(0, fitted._weigh_rows(row), N=10, recalculate_user=True,
                                             filter_already_liked_items=True)
        np.testing.assert_array_equal(served.cols, ids)
        np.testing.assert_allclose(served.scores, scores, rtol=2e-3, atol=2e-4)
    else:
        dense = np.asarray(fitted._rows(row) @ fitted.similarity(30).toarray()).ravel()  # EASE: 0/1 rows
        dense[row.indices] = 0
        expected = np.argsort(-dense, kind="stable")[:10]
        np.testing.assert_allclose(served.scores, dense[expected], rtol=1e-5)
        assert set(served.cols.tolist()) == set(expected[dense[expected] > 0].tolist())
        assert (fitted.recommend(changed.tocsr(), np.array([5]), k=10)[0] == served.cols).all()
    assert all(c in row.indices for c in served.top_contributor)  # explained by her own items


def _planted_low_rank(n_users=600, n_items=150, rank=4, per_user=15, seed=3):
    """Tastes are mixtures of `rank` latent factors, items have no popularity skew: a factor structure."""
    rng = np.random.default_rng(seed)
    u, v = rng.gamma(0.3, 1.0, (n_users, rank)), rng.gamma(0.3, 1.0, (n_items, rank))
    p = u @ v.T
    rows, cols = [], []
    for i in range(n_users):
        picks = rng.choice(n_items, size=per_user, replace=False, p=p[i] / p[i].sum())
        rows += [i] * per_user
        cols += picks.tolist()
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items)), p


def test_selection_on_planted_structure_picks_a_kind_that_recovers_it():
    m, truth = _planted_low_rank()
    split = matrix.holdout_split(m, seed=0)
    users, holdout = fitting.split_eval_users(split.eval_users, selection_users=300)
    folds = fitting.selection_folds(split.train, split.test, users, n_folds=3, sample_users=600)
    starts = [fitting.Candidate("random"), fitting.Candidate("cosine", {"K": 20}),
              fitting.Candidate("als", {"factors": 4, "iterations": 10, "regularization": 0.1})]
    trials = fitting.search(starts, [], folds, options=OPTIONS, iterations=None)
    winner = fitting.fit(trials[0].candidate, split.train, options=OPTIONS)
    test, pop = split.test[holdout], matrix.item_popularity(split.train)
    got = evaluation.ranking_metrics(winner.recommend(split.train, holdout), test, n_items=150,
                                     popularity=pop)["ndcg@10"]
    # The planted model's own ranking (true probabilities, seen items removed) is the ceiling.
    oracle_scores = truth[holdout] * (split.train[holdout].toarray() == 0)
    oracle = evaluation.ranking_metrics(np.argsort(-oracle_scores, axis=1)[:, :10], test, n_items=150,
                                popularity=pop)["ndcg@10"]
    popular = evaluation.ranking_metrics(evaluation.popular_recommendations(split.train, holdout), test, n_items=150,
                                 popularity=pop)["ndcg@10"]
    assert trials[0].candidate.kind != "random"
    assert got >= 0.85 * oracle and got > 1.25 * popular, (trials[0].candidate, got, oracle, popular)


class StepClock:
    """A clock that moves one second each time it is read: the safety stop without wall time."""

    def __init__(self):
        self.now, self.reads = 0.0, 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += 1.0
        return self.now


def _folds():
    split = matrix.holdout_split(clustered(), seed=0)
    users, _ = fitting.split_eval_users(split.eval_users, selection_users=200)
    return fitting.selection_folds(split.train, split.test, users, n_folds=3, sample_users=400)


def test_the_search_budget_is_fold_fits_and_no_started_candidate_is_cut():
    folds = _folds()
    space = [fitting.Candidate("cosine", {"K": k}) for k in (10, 20, 30, 40, 50, 60, 70, 80)]
    fits = []
    orig = folds.fit_and_score

    def counting(candidate, fold, **kw):
        fits.append((candidate.params["K"], fold))
        return orig(candidate, fold, **kw)

    folds.fit_and_score = counting
    # The starting point always runs; then a candidate starts only if its 3 folds fit in what is left of
    # the 7 fold-fits: K=20 (fits 1-3), K=30 (4-6), and K=40 would need 3 more: the search stops there.
    result = fitting.race(space[:1], space[1:], folds, options=OPTIONS, iterations=None, budget_fits=7, z=50.0)
    assert fits == [(k, f) for k in (10, 20, 30) for f in range(3)]
    assert [(t.candidate.params["K"], len(t.fold_scores)) for t in result.trials] == [(10, 3), (20, 3), (30, 3)]
    assert result.stopped == "budget" and result.fits == 9
    # No budget at all: every candidate, every fold.
    assert fitting.race(space[:2], [], _folds(), options=OPTIONS, iterations=None, budget_fits=None).stopped == "space"


def test_the_wall_clock_is_only_a_safety_stop_and_is_reported():
    clock = StepClock()
    result = fitting.race([fitting.Candidate("cosine", {"K": 20})], [fitting.Candidate("bm25", {"K": 20})],
                          _folds(), options=OPTIONS, iterations=None, budget_fits=100, max_seconds=0.5, clock=clock)
    assert [(t.candidate.kind, len(t.fold_scores)) for t in result.trials] == [("cosine", 3)]
    assert result.stopped == "safety"


def test_a_candidate_clearly_behind_stops_after_one_fold():
    trials = fitting.search([fitting.Candidate("bm25", {"K": 50}), fitting.Candidate("random")], [], _folds(),
                            options=OPTIONS, iterations=None)
    assert [(t.candidate.kind, len(t.fold_scores), t.dropped) for t in trials] == [("bm25", 3, ""),
                                                                                  ("random", 1, "behind")]
    assert trials[0].as_dict()["ndcg@10_std"] > 0 and trials[1].as_dict()["folds"] == 1
    assert trials[1].as_dict()["gain"] < 0 and trials[0].won


def test_a_challenger_displaces_the_incumbent_only_beyond_the_folds_noise():
    folds = _folds()
    weak, strong = fitting.Candidate("cosine", {"K": 3}), fitting.Candidate("bm25", {"K": 50})
    # A clearly better challenger displaces the incumbent (the first starting point) ...
    trials = fitting.search([weak, strong], [], folds, options=OPTIONS, iterations=None)
    assert trials[0].candidate == strong and trials[0].outcome == "displaced the incumbent"
    assert trials[0].gain > 2 * trials[0].gain_se
    # ... a near-twin does not, even when its mean on the folds is a hair higher.
    twin = fitting.Candidate("bm25", {"K": 49})
    trials = fitting.search([strong, twin], [], folds, options=OPTIONS, iterations=None)
    assert trials[0].candidate == strong and trials[1].outcome == "within noise", [t.as_dict() for t in trials]


def test_paired_gain_is_the_mean_difference_and_its_standard_error():
    gain, se = fitting.paired_gain(np.array([0.5, 0.7, 0.9, 0.3]), np.array([0.4, 0.7, 0.7, 0.3, 0.9]))
    d = np.array([0.1, 0.0, 0.2, 0.0])
    assert gain == pytest.approx(d.mean()) and se == pytest.approx(d.std(ddof=1) / 2)


def test_a_shopper_scored_in_several_repeats_counts_once_in_the_standard_error():
    d = np.array([0.1, 0.0, 0.2, 0.0])
    repeated = np.tile(d, 3)  # three repeats of the folds: the same four shoppers, the same differences
    gain, se = fitting.paired_gain(repeated, np.zeros(12), shoppers=np.tile(np.arange(4), 3))
    assert gain == pytest.approx(d.mean()) and se == pytest.approx(d.std(ddof=1) / 2)  # 4 shoppers, not 12
    assert fitting.paired_gain(repeated, np.zeros(12))[1] < se  # counted as 12 scores it looked surer than it is


def test_folds_are_user_disjoint_and_apart_from_the_holdout():
    split = matrix.holdout_split(clustered(), seed=0)
    users, holdout = fitting.split_eval_users(split.eval_users, selection_users=150, seed=4)
    assert len(users) == 150 and not set(users) & set(holdout) and len(users) + len(holdout) == len(split.eval_users)
    folds = fitting.selection_folds(split.train, split.test, users, n_folds=3, sample_users=300, seed=4)
    scored = np.concatenate(folds.folds)
    assert len(folds.folds) == 3 and len(np.unique(scored)) == len(scored) == 150
    assert folds.train.shape[0] == 300


def test_ease_over_its_size_limit_is_skipped_with_a_logged_reason(caplog):
    notes = []
    options = fitting.FitOptions(ease_max_items=50)
    trials = fitting.search([fitting.Candidate("ease", {"lambda": 10.0}), fitting.Candidate("cosine", {"K": 20})],
                            [], _folds(), options=options, iterations=None, log=notes.append)
    assert [t.candidate.kind for t in trials] == ["cosine"]
    assert notes == ["ease skipped: 100 items > CURIO_EASE_MAX_ITEMS (50); its closed form is dense in the "
                     "catalog size"]
    with caplog.at_level(logging.INFO):
        assert fitting.search_starts([fitting.Candidate("cosine", {"K": 20})],
                                     fitting.Candidate("bm25", {"K": 50}))[0].kind == "bm25"  # warm start first
