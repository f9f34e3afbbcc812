"""The pure serving core against implicit itself: fold-in, top-k, explanations, item-item scores."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import implicit
import numpy as np
import scipy.sparse as sp

from recsys.ml import artifacts, scoring
from recsys.serving.model_store import IdIndex
from recsys.serving.popular import rank_counts


def _fitted(seed=1):
    rng = np.random.default_rng(seed)
    dense = (rng.random((80, 40)) < 0.12) * rng.integers(1, 6, size=(80, 40))
    m = sp.csr_matrix(dense.astype(np.float32))
    model = implicit.cpu.als.AlternatingLeastSquares(factors=6, regularization=0.1, iterations=10,
                                                      random_state=seed, num_threads=1)
    model.fit(m, show_progress=False)
    return model, m


def _history(row: sp.csr_matrix) -> scoring.History:
    return scoring.History(row.indices.astype(np.int32), row.data.astype(np.float32))


def test_fold_in_matches_implicit_recalculate_user():
    model, m = _fitted()
    yty = scoring.gram(model.item_factors)
    for u in (0, 5, 17):
        mine, _ = scoring.als_fold_in(model.item_factors, yty, model.regularization, _history(m[u]))
        theirs = model.recalculate_user(u, m[u])
        np.testing.assert_allclose(mine, theirs, rtol=2e-3, atol=2e-4)


def test_top_k_leaves_out_history_and_matches_implicit_recommend():
    model, m = _fitted()
    h = _history(m[3])
    vector, _ = scoring.als_fold_in(model.item_factors, scoring.gram(model.item_factors), model.regularization, h)
    ids, scores = scoring.als_top(model.item_factors, vector[None, :], 8, scoring.exclusion_rows([h], 40))
    assert not set(ids[0].tolist()) & set(h.cols.tolist())
    ref_ids, _ = model.recommend(3, m[3], N=8, recalculate_user=True)
    assert ids[0].tolist()[:5] == ref_ids.tolist()[:5]
    assert list(scores[0]) == sorted(scores[0], reverse=True)


def test_top_k_restricted_to_candidates():
    model, m = _fitted()
    vector = model.user_factors[2]
    allowed = np.array([1, 4, 9, 30], dtype=np.int32)
    ids, _ = scoring.als_top(model.item_factors, vector[None, :], 10, None, candidates=allowed)
    assert sorted(ids[0].tolist()) == allowed.tolist()


def test_explain_names_implicits_top_contributor():
    model, m = _fitted()
    yty = scoring.gram(model.item_factors)
    for u in (1, 8, 20):
        h = _history(m[u])
        if len(h) < 2:
            continue
        _, system = scoring.als_fold_in(model.item_factors, yty, model.regularization, h)
        cands = np.arange(40, dtype=np.int32)
        top = scoring.als_explain(model.item_factors, system, h, cands)
        for item in (0, 7, 33):
            _, contributions, _ = model.explain(u, m, item)
            assert top[item] == contributions[0][0]


def test_knn_scores_sum_similarity_rows_and_explain():
    sim = sp.csr_matrix(np.array([
        [0, 0.9, 0.1, 0.0],
        [0.9, 0, 0.0, 0.4],
        [0.1, 0.0, 0, 0.8],
        [0.0, 0.4, 0.8, 0],
    ], dtype=np.float32))
    h = scoring.History(np.array([0, 2], dtype=np.int32), np.array([1.0, 2.0], dtype=np.float32))
    scored = scoring.knn_scores(sim, h, 5, exclude_cols=h.cols)
    assert scored.cols.tolist() == [3, 1]  # 3: 0.0 + 2 * 0.8; 1: 0.9 + 0
    np.testing.assert_allclose(scored.scores, [1.6, 0.9], rtol=1e-6)
    assert scored.top_contributor.tolist() == [2, 0]
    only = scoring.knn_scores(sim, h, 5, exclude_cols=h.cols, candidates=np.array([1], dtype=np.int32))
    assert only.cols.tolist() == [1]


def test_id_index_finds_every_id_and_nothing_else():
    ids = np.array([f"sku-{n}" for n in range(5000)])
    index = IdIndex(ids)
    assert all(index.get(f"sku-{n}") == n for n in (0, 1, 2499, 4999))
    assert index.get("sku-5000") is None and index.get("") is None
    assert len(index) == 5000


def test_popular_ranking_decays_and_weighs_types():
    rows = [
        ("old-hit", "a", "view", 0, 0, 10),  # 10 views, all older than a week
        ("fresh", "a", "view", 3, 3, 3),  # 3 views today
        ("bought", "b", "purchase", 0, 1, 1),  # one purchase this week
    ]
    ranking = rank_counts(rows, type_weights={"view": 1.0, "purchase": 8.0})
    assert [i for i, _ in ranking.overall] == ["bought", "fresh", "old-hit"]
    assert ranking.overall[0][1] == 1.0
    assert [i for i, _ in ranking.by_category["a"]] == ["fresh", "old-hit"]


def test_scored_history_empty():
    sim = sp.csr_matrix((4, 4), dtype=np.float32)
    assert len(scoring.knn_scores(sim, scoring.History.empty(), 3).cols) == 0
    assert datetime.now(UTC)  # keeps the import honest for readers of the timestamps above


def test_top_k_single_vector_with_a_column_list_matches_the_csr_form():
    model, m = _fitted()
    h = _history(m[6])
    vector, _ = scoring.als_fold_in(model.item_factors, scoring.gram(model.item_factors), model.regularization, h)
    by_csr, _ = scoring.als_top(model.item_factors, vector[None, :], 12, scoring.exclusion_rows([h], 40))
    by_cols, _ = scoring.als_top(model.item_factors, vector[None, :], 12, h.cols)
    assert by_csr.tolist() == by_cols.tolist()
    allowed = np.arange(0, 40, 2, dtype=np.int32)
    within, scores = scoring.als_top(model.item_factors, vector[None, :], 30, h.cols, candidates=allowed)
    kept = [c for c, s in zip(within[0].tolist(), scores[0].tolist(), strict=True) if c >= 0 and s > scoring.FILTERED]
    assert set(kept) == set(allowed.tolist()) - set(h.cols.tolist())


def test_event_confidences_match_the_training_weighting_for_short_and_long_histories():
    from recsys.ml.matrix import TYPE_CODES, WeightConfig, event_weights
    from recsys.ml.weights import event_confidences

    rng = np.random.default_rng(3)
    now = 1_800_000_000.0
    config = WeightConfig(half_life_days=30.0, window_days=90.0)
    for n in (5, 40, 300):
        types = rng.choice(["view", "click", "add_to_cart", "purchase", "rating", "odd"], size=n).tolist()
        values = rng.integers(1, 6, size=n).astype(float).tolist()
        stamps = (now - rng.random(n) * 120 * 86400).tolist()
        ours = event_confidences(types, values, stamps, now=now, config=config)
        codes = np.array([TYPE_CODES.get(t, -1) for t in types])
        theirs = event_weights(codes, np.array(values), np.array(stamps), now=now, config=config)
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
        assert (ours[np.array(types) == "odd"] == 0).all()


class _RowCounter(np.ndarray):
    """Counts the rows read through fancy indexing (how the pruned top-k reads factor blocks)."""

    rows = 0

    def __getitem__(self, key):
        out = np.asarray(super().__getitem__(key))
        if isinstance(key, np.ndarray | slice):
            _RowCounter.rows += len(out)
        return out


def test_norm_pruned_top_k_is_exact_and_stops_early():
    # Power-law norms, as ALS gives a long-tail catalog: the bound should stop well before the end.
    rng = np.random.default_rng(7)
    n_items, k = 5000, 30
    factors = (rng.standard_normal((n_items, 16)) / (np.arange(n_items)[:, None] + 5.0) ** 0.9).astype(np.float32)
    factors = factors[rng.permutation(n_items)]
    cols = artifacts.norm_order(factors)
    order = scoring.NormOrder.of(factors, cols, factors[cols])
    assert np.all(np.diff(order.norms) <= 0) and order.cols[order.position[123]] == 123
    scanned = []
    for trial in range(40):
        u = rng.standard_normal(16).astype(np.float32)
        exclude = rng.choice(n_items, 12, replace=False).astype(np.int32) if trial % 2 else None
        full = factors @ u
        if exclude is not None:
            full[exclude] = -np.inf
        want = np.argsort(-full, kind="stable")[:k]
        cols, scores = scoring.als_top_pruned(factors, order, u, k, exclude, block=256)
        assert cols.tolist() == want.tolist()
        np.testing.assert_allclose(scores, full[want], rtol=1e-5)
        if exclude is not None:
            assert not set(cols.tolist()) & set(exclude.tolist())
        for counted in (replace(order, factors=None), replace(order, factors=order.factors.view(_RowCounter))):
            _RowCounter.rows = 0  # gathered from item_factors, or sliced from the sorted copy
            again, _ = scoring.als_top_pruned(factors.view(_RowCounter), counted, u, k, exclude, block=256)
            assert again.tolist() == cols.tolist()
            scanned.append(_RowCounter.rows / n_items)
    assert np.median(scanned) < 0.5, scanned  # exact, yet most of the catalog is never read


def test_norm_pruned_top_k_with_few_items_or_negative_scores_scans_everything():
    factors = np.array([[1.0, 0.0], [0.5, 0.0], [-1.0, 0.0]], dtype=np.float32)
    order = scoring.NormOrder.of(factors)
    cols, scores = scoring.als_top_pruned(factors, order, np.array([-1.0, 0.0], dtype=np.float32), 5, block=1)
    assert cols.tolist() == [2, 1, 0] and scores.tolist() == [1.0, -0.5, -1.0]
    assert scoring.als_top_pruned(factors, order, np.array([1.0, 0.0], dtype=np.float32), 0)[0].size == 0


def test_by_norm_files_that_do_not_fit_the_factors_are_ignored(tmp_path, caplog):
    from recsys.serving.model_store import load_model

    rng = np.random.default_rng(3)
    n_items = 300
    factors = (rng.standard_normal((n_items, 8)) / (np.arange(n_items)[:, None] + 1.0)).astype(np.float32)
    art = artifacts.Artifact(kind="als", version=1, user_ids=np.array(["u"]), item_ids=np.array(
        [f"i{j}" for j in range(n_items)]), similarity=sp.csr_matrix((n_items, n_items), dtype=np.float32),
        user_factors=np.zeros((1, 8), np.float32), item_factors=factors, params={})
    path = artifacts.save(art, tmp_path)
    good = load_model(path).norm_order
    good = replace(good, cols=np.array(good.cols), factors=np.array(good.factors))  # off the maps we overwrite
    assert np.array_equal(good.cols, artifacts.norm_order(factors)) and good.factors is not None
    u = rng.standard_normal(8).astype(np.float32)
    want = np.argsort(-(factors @ u), kind="stable")[:10]
    broken = [  # a repeated column, floats, an order that is not by norm (with rows to match), a shorter copy
        {"item_norm_order.npy": np.r_[good.cols[:-1], good.cols[0]]},
        {"item_norm_order.npy": good.cols.astype(np.float64)},
        {"item_norm_order.npy": good.cols[::-1].copy(), "item_factors_by_norm.npy": good.factors[::-1].copy()},
        {"item_factors_by_norm.npy": good.factors[: n_items // 2]},
    ]
    for files in broken:
        backups = {name: np.load(path / name) for name in files}
        for name, bad in files.items():
            np.save(path / name, bad)
        with caplog.at_level("WARNING", logger="recsys.serving.model_store"):
            order = load_model(path).norm_order
        assert "do not fit" in caplog.text and order.factors is None, files.keys()
        assert scoring.als_top_pruned(factors, order, u, 10)[0].tolist() == want.tolist()
        for name, backup in backups.items():
            np.save(path / name, backup)
        caplog.clear()
    np.save(path / "item_factors_by_norm.npy", good.factors[::-1])
    assert load_model(path).norm_order.factors is None
