"""Metrics checked against values computed by hand, the baselines and the gate (no DB)."""
import math

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.ml import evaluation

PAD = [-1] * 7


def tiny():
    # 2 shoppers, 8 items. Shopper 0 holds out {2, 5}; shopper 1 holds out {4}.
    test = sp.csr_matrix((np.ones(3), ([0, 0, 1], [2, 5, 4])), shape=(2, 8))
    recommended = np.array([[1, 2, 3, *PAD], [4, 0, 5, *PAD]])
    popularity = np.array([5, 4, 3, 2, 1, 0, 0, 0])
    return recommended, test, popularity


def test_metrics_match_hand_computation():
    recommended, test, popularity = tiny()
    m = evaluation.ranking_metrics(recommended, test, n_items=8, popularity=popularity)
    # shopper 0: one hit at rank 2 -> P 1/10, R 1/2, DCG 1/log2(3), IDCG 1 + 1/log2(3), AP (1/2)/2
    # shopper 1: one hit at rank 1 -> P 1/10, R 1, nDCG 1, AP 1
    ndcg0 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert m["precision@10"] == pytest.approx(0.1)
    assert m["recall@10"] == pytest.approx(0.75)
    assert m["ndcg@10"] == pytest.approx((ndcg0 + 1) / 2)
    assert m["ndcg@10"] == pytest.approx(0.693426, abs=1e-6)
    assert m["map@10"] == pytest.approx(0.625)
    assert m["coverage"] == pytest.approx(6 / 8)  # items 0..5 recommended
    assert m["gini"] == pytest.approx(0.25)  # counts [1,1,1,1,1,1,0,0]
    # percentiles of items 1,2,3,4,0,5 = 600/7, 500/7, 400/7, 300/7, 100, 0
    assert m["popularity_percentile"] == pytest.approx((600 / 7 + 500 / 7 + 400 / 7 + 300 / 7 + 100) / 6)


def test_gini_extremes():
    assert evaluation.gini(np.ones(10)) == pytest.approx(0.0)
    assert evaluation.gini(np.array([0, 0, 0, 10])) == pytest.approx(0.75)  # (n-1)/n for all-on-one


def test_popularity_baseline_skips_seen_items():
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]], dtype=np.float32))
    recs = evaluation.popular_recommendations(train, np.array([0, 1]), k=3)
    # popularity: item0 3, item1 2, item2 1, item3 0
    assert recs[0].tolist() == [2, 3, -1]
    assert recs[1].tolist() == [1, 2, 3]


def test_random_baseline_is_seeded_and_skips_seen():
    train = sp.csr_matrix(np.eye(20, dtype=np.float32))
    a = evaluation.random_recommendations(train, np.arange(20), k=5, seed=3)
    assert (a == evaluation.random_recommendations(train, np.arange(20), k=5, seed=3)).all()
    assert all(u not in a[u] for u in range(20))


def test_gate_rejects_no_better_than_random_and_worse_than_popularity():
    pop, rnd = {"ndcg@10": 0.20}, {"ndcg@10": 0.02}
    ok, reason = evaluation.promotion_decision({"ndcg@10": 0.02}, popularity=pop, random=rnd, margin=0.05)
    assert not ok and "random" in reason and "popularity" in reason
    ok, reason = evaluation.promotion_decision({"ndcg@10": 0.15}, popularity=pop, random=rnd, margin=0.05)
    assert not ok and "popularity" in reason and "random" not in reason
    ok, reason = evaluation.promotion_decision({"ndcg@10": 0.205}, popularity=pop, random=rnd, margin=0.05)
    assert not ok  # better, but not by the margin
    ok, reason = evaluation.promotion_decision({"ndcg@10": 0.30}, popularity=pop, random=rnd, margin=0.05)
    assert ok and "50%" in reason
    ok, reason = evaluation.promotion_decision({"ndcg@10": 0.30}, popularity=pop, random=rnd, active={"ndcg@10": 0.4})
    assert not ok and "active version" in reason
