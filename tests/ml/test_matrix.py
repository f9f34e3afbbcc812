"""Pure tests of events -> matrix and the holdout split (no DB)."""
import numpy as np
import pytest
import scipy.sparse as sp

from recsys.ml import matrix

DAY = matrix.SECONDS_PER_DAY
NOW = 1_800_000_000.0


def codes(*names):
    return np.array([matrix.TYPE_CODES[n] for n in names], dtype=np.int8)


def test_event_weights_by_type_rating_threshold_decay_and_window():
    config = matrix.WeightConfig(half_life_days=10, window_days=100, rating_threshold=4)
    types = codes("view", "click", "add_to_cart", "purchase", "rating", "rating", "purchase", "view")
    values = np.array([1, 1, 1, 1, 5, 3, 1, 1], dtype=np.float32)
    ts = np.array([NOW] * 6 + [NOW - 10 * DAY, NOW - 101 * DAY])
    w = matrix.event_weights(types, values, ts, now=NOW, config=config)
    assert w.tolist() == pytest.approx([1, 2, 4, 8, 4, 0, 4, 0])  # 10 days = one half-life; 101 days: out


def test_default_settings_keep_a_year_of_history():
    config = matrix.WeightConfig()
    w = matrix.event_weights(codes("purchase", "purchase"), np.ones(2), np.array([NOW, NOW - 120 * DAY]), now=NOW,
                         config=config)
    assert w[1] / w[0] > 0.6  # a few months old: barely discounted


def test_no_decay_and_no_window_when_zero():
    config = matrix.WeightConfig(half_life_days=0, window_days=0)
    w = matrix.event_weights(codes("view"), np.ones(1), np.array([NOW - 5000 * DAY]), now=NOW, config=config)
    assert w.tolist() == [1.0]


def test_build_interactions_sums_duplicates_drops_zeros_and_negatives():
    users = np.array([10, 10, 10, 20, 30, 30])
    items = np.array([7, 7, 9, 9, 7, 8])
    weights = np.array([1, 2, 4, 8, 0, 1], dtype=np.float32)
    data = matrix.build_interactions(users, items, weights, negatives=(np.array([30]), np.array([8])))
    assert data.user_pks.tolist() == [10, 20, 30]
    assert data.item_pks.tolist() == [7, 8, 9]
    dense = data.matrix.toarray()
    assert dense.tolist() == [[3, 0, 4], [0, 0, 8], [0, 0, 0]]
    assert data.matrix.dtype == np.float32 and data.matrix.nnz == 3


def _random_matrix(n_users=500, n_items=80, seed=3):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 15, size=n_users)
    rows = np.repeat(np.arange(n_users), counts)
    cols = np.concatenate([rng.choice(n_items, size=c, replace=False) for c in counts])
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))


def test_holdout_split_per_shopper_seeded_and_complete():
    m = _random_matrix()
    a = matrix.holdout_split(m, fraction=0.2, max_eval_users=10_000, seed=1)
    b = matrix.holdout_split(m, fraction=0.2, max_eval_users=10_000, seed=1)
    assert (a.test != b.test).nnz == 0 and (a.train != b.train).nnz == 0
    assert ((a.train + a.test) != m).nnz == 0  # nothing lost
    assert a.train.multiply(a.test).nnz == 0  # nothing in both
    n = np.diff(m.indptr)
    held = np.diff(a.test.indptr)
    kept = np.diff(a.train.indptr)
    eligible = n >= 2
    assert a.eval_users.tolist() == np.flatnonzero(eligible).tolist()
    assert (held[eligible] == np.maximum(np.ceil(n[eligible] * 0.2), 1)).all()
    assert (held[~eligible] == 0).all() and (kept >= 1).all()
    c = matrix.holdout_split(m, fraction=0.2, max_eval_users=10_000, seed=2)
    assert (a.test != c.test).nnz > 0  # the seed matters


def test_holdout_split_caps_eval_shoppers():
    m = _random_matrix()
    split = matrix.holdout_split(m, max_eval_users=50, seed=0)
    assert len(split.eval_users) == 50
    assert set(np.flatnonzero(np.diff(split.test.indptr))) == set(split.eval_users.tolist())


def test_item_popularity_counts_shoppers():
    m = sp.csr_matrix(np.array([[5, 0, 1], [1, 0, 0]], dtype=np.float32))
    assert matrix.item_popularity(m).tolist() == [2, 0, 1]


def test_dense_ids_matches_numpy_unique():
    rng = np.random.default_rng(5)
    for pks in (rng.integers(1, 500, 2000), rng.integers(1, 10**12, 300), np.array([7, 7, 7])):
        distinct, inverse = matrix.dense_ids(pks)
        expected, expected_inverse = np.unique(pks, return_inverse=True)
        assert distinct.tolist() == expected.tolist()
        assert inverse.tolist() == expected_inverse.tolist() and inverse.dtype == np.int32


def test_unknown_event_type_code_weighs_nothing():
    w = matrix.event_weights(np.array([-1, 3], dtype=np.int8), np.ones(2), np.array([NOW, NOW]), now=NOW,
                         config=matrix.WeightConfig())
    assert w.tolist() == [0.0, 8.0]
