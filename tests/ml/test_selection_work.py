"""The search's budget is estimated work (issue #30): each kind's `fit_seconds` from the data's size, never a
clock; large samples race on one fold, whose fit is then the winner's model."""
import numpy as np
import pytest
import scipy.sparse as sp

from recsys.ml import fitting, matrix
from tests.ml.test_selection_repeatable import idle_and_loaded
from tests.ml.test_training_fitting import clustered

OPTIONS = fitting.FitOptions(num_threads=2, random_state=7, ease_max_items=100)


def size(shoppers=1_000, items=500, interactions=20_000, cooccurrences=1e6) -> fitting.DataSize:
    return fitting.DataSize(shoppers, items, interactions, cooccurrences)


def seconds(kind: str, data: fitting.DataSize, iterations=None, **params) -> float:
    return fitting.Candidate(kind, params).fit_seconds(data, OPTIONS, iterations)


def test_a_fits_estimate_grows_with_what_its_kind_works_on():
    base = size()
    # ALS: passes over interactions and rows, per iteration, more with the factors
    assert seconds("als", size(interactions=40_000)) > 1.8 * seconds("als", base)
    assert seconds("als", base, iterations=6) == pytest.approx(seconds("als", base) * 6 / 15)
    assert seconds("als", base, factors=128) > seconds("als", base, factors=64)
    # scoring folded-in shoppers: ALS scores every item with its factors; item-item kinds count it in the fit
    als = fitting.Candidate("als", {"factors": 64})
    assert als.score_seconds(2_000, base) == 2 * als.score_seconds(1_000, base) > 0
    assert fitting.Candidate("bm25", {}).score_seconds(1_000, base) == 0.0
    # item-item: the co-occurrences and the neighbours kept per item; RP3beta: a top-K pass per item row too;
    # EASE: the cube of the catalog; ease_head: only its head's cube
    assert seconds("bm25", size(cooccurrences=4e6)) > 2.5 * seconds("bm25", base)
    assert seconds("bm25", size(items=5_000), K=200) > seconds("bm25", size(items=5_000), K=50)
    assert seconds("rp3beta", size(cooccurrences=4e6)) > 2.5 * seconds("rp3beta", base)
    assert seconds("rp3beta", size(items=50_000)) > 2 * seconds("rp3beta", base)
    assert seconds("ease", size(items=8_000)) > 100 * seconds("ease", size(items=1_000))
    big = size(items=100_000, cooccurrences=1e9)
    assert seconds("ease_head", big, items=2_000) < seconds("ease_head", big, items=5_000)
    assert seconds("random", big) == 0.0
    assert fitting.DataSize.of(sp.csr_matrix(np.array([[1, 1, 0], [0, 1, 0]], dtype=np.float32))) == size(
        shoppers=2, items=3, interactions=3, cooccurrences=5.0)


def test_the_search_work_budget_is_a_multiple_of_one_default_als_fit_with_a_floor():
    train = clustered(n_users=600, n_items=150, seed=2)
    one_als = fitting.REFERENCE_ALS.fit_seconds(fitting.DataSize.of(train), OPTIONS)
    assert fitting.search_work(train, als_fits=2.0, floor_seconds=0.0, options=OPTIONS) == 2 * one_als
    assert fitting.search_work(train, als_fits=2.0, floor_seconds=5.0, options=OPTIONS) == max(2 * one_als, 5.0)


def _folds(n_users=600, sample_users=10_000, scored=300):
    split = matrix.holdout_split(clustered(n_users=n_users, n_items=150, seed=2), seed=0)
    users, _ = fitting.split_eval_users(split.eval_users, selection_users=scored, seed=1)
    return split, users, fitting.selection_folds(split.train, split.test, users, n_folds=3,
                                                 sample_users=sample_users, seed=1)


def test_a_candidate_that_does_not_fit_the_work_left_is_passed_over_for_a_cheaper_one():
    _, _, folds = _folds()
    start = fitting.Candidate("cosine", {"K": 20})
    costly = fitting.Candidate("als", {"factors": 64, "iterations": 15})
    cheap = [fitting.Candidate("bm25", {"K": 20}), fitting.Candidate("cosine", {"K": 50})]

    def cost(c):
        return len(folds.folds) * c.fit_seconds(folds.size, OPTIONS, None)

    budget = sum(cost(c) for c in cheap) * 1.01
    assert cost(costly) > budget
    result = fitting.race([start], [costly] + cheap, folds, options=OPTIONS, iterations=None, budget_fits=None,
                          budget_work=budget, z=50.0)
    assert sorted(t.candidate.label() for t in result.trials) == sorted(c.label() for c in [start] + cheap)
    assert result.trials[0].candidate == start  # z = 50: nobody displaces the start
    assert result.stopped == "budget" and result.work == pytest.approx(sum(cost(c) for c in [start] + cheap))
    assert all(t.work == pytest.approx(cost(t.candidate)) for t in result.trials)


def _race_by_work():
    _, _, folds = _folds()
    starts = [fitting.Candidate("cosine", {"K": 20}), fitting.Candidate("als", {"factors": 8, "iterations": 4})]
    budget = 6 * fitting.Candidate("cosine", {}).fit_seconds(folds.size, OPTIONS) * len(folds.folds)
    result = fitting.race(starts, fitting.tuning_space(7), folds, options=OPTIONS, iterations=4, budget_fits=None,
                          budget_work=budget)
    return [{k: v for k, v in t.as_dict().items() if k != "seconds"} for t in result.trials], result.stopped


def test_a_work_budget_gives_the_same_trials_beside_a_cpu_hog():
    idle, loaded = idle_and_loaded(_race_by_work)
    assert idle == loaded
    trials, stopped = idle
    assert stopped == "budget" and len(trials) > 2 and trials[0]["won"]


def test_scored_shoppers_few_beside_the_sample_race_on_one_fold():
    _, _, small = _folds(n_users=600, scored=300)  # 300 of ~600: each of 3 folds leaves a sixth out
    assert small.sample["folds"] == 3 and len(small.folds) == 3 * small.sample["repeats"] and small.covers_all
    _, users, large = _folds(n_users=6_000, scored=300)  # 300 of 6,000 (5%): one fold of all of them
    assert large.sample["folds"] == 1 and large.sample["repeats"] == 1 and len(large.folds) == 1
    assert np.array_equal(large.folds[0], np.sort(np.searchsorted(np.arange(6_000), users)))
    assert large.covers_all
    _, _, sampled = _folds(n_users=6_000, sample_users=3_000, scored=300)  # a sample: its fit is not the split's
    assert not sampled.covers_all


def test_the_races_one_fold_fit_is_the_model_a_fresh_fit_of_the_same_rows_gives():
    """The fast path (the selection's fit reused as the winner's model) agrees with the slow one (a fresh fit
    of the training split without the scored shoppers); a factor model is never reused (its user rows would
    not line up with the split's), nor a fit of a sample."""
    split, users, folds = _folds(n_users=6_000)
    winner = fitting.Candidate("rp3beta", {"alpha": 0.8, "beta": 0.4, "K": 50})
    result = fitting.race([winner, fitting.Candidate("cosine", {"K": 20})], [], folds, options=OPTIONS,
                          iterations=None, budget_fits=None, z=50.0)
    assert result.trials[0].candidate == winner and result.model is not None
    keep = np.setdiff1d(np.arange(split.train.shape[0]), users)
    fresh = fitting.fit(winner, split.train[keep], options=OPTIONS)
    assert (result.model.similarity(50) != fresh.similarity(50)).nnz == 0
    holdout = np.setdiff1d(split.eval_users, users)[:200]
    assert np.array_equal(result.model.recommend(split.train, holdout), fresh.recommend(split.train, holdout))

    als = fitting.Candidate("als", {"factors": 8, "iterations": 4})
    assert fitting.race([als, winner], [], folds, options=OPTIONS, iterations=None, budget_fits=None,
                        z=50.0).model is None
    _, _, three = _folds(n_users=600)
    assert fitting.race([winner, als], [], three, options=OPTIONS, iterations=None, budget_fits=None,
                        z=50.0).model is None


def test_a_final_round_hands_over_its_fit_only_when_the_selection_shoppers_are_few():
    """The final round fits the whole split but the selection shoppers: its item-item winner's fit is the model
    where they are at most a tenth of the split, and never where leaving them out takes a large share of it."""
    starts = [fitting.Candidate("rp3beta", {"alpha": 0.8, "beta": 0.4, "K": 50}),
              fitting.Candidate("cosine", {"K": 20})]
    for n_users, scored, handed_over in ((6_000, 300, True), (600, 300, False)):
        split = matrix.holdout_split(clustered(n_users=n_users, n_items=150, seed=2), seed=0)
        users, _ = fitting.split_eval_users(split.eval_users, selection_users=scored, seed=1)
        folds, result, final = fitting.select(starts, [], split.train, split.test, users, n_folds=3, sample_users=10**6,
                                              max_interactions=split.train.nnz // 2, repeats=1, options=OPTIONS,
                                              iterations=None, budget_fits=None, z=50.0)
        assert folds.sample["interactions"] < split.train.nnz and len(final) == 2  # a sample, then the final round
        assert (result.model is not None) is handed_over, (n_users, scored)


def test_the_cholesky_inverse_matches_the_general_one_across_row_blocks():
    from recsys.ml.model_kinds.neighbourhood import symmetric_inverse

    rng = np.random.default_rng(3)
    for n in (7, 1_024, 1_500):  # within one block of 1,024 rows, exactly one, and one and a half
        x = rng.random((n + 40, n))
        g = x.T @ x + 5.0 * np.eye(n)
        expected = np.linalg.inv(g)
        got = symmetric_inverse(np.asfortranarray(g))
        assert got.flags.c_contiguous and np.allclose(got, expected, rtol=1e-9, atol=1e-12), n
