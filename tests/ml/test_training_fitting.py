"""Pure tests of fitting and model selection on small clustered data (no DB)."""
import numpy as np
import scipy.sparse as sp

from recsys.ml import evaluation, fitting, matrix, neighbours

OPTIONS = fitting.FitOptions(num_threads=1, use_gpu=False, random_state=0)


def clustered(n_users=400, n_items=100, clusters=5, per_user=12, seed=0):
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for u in range(n_users):
        own = np.arange(u % clusters, n_items, clusters)
        p = 1 / np.arange(1, len(own) + 1) ** 0.5
        rows += [u] * per_user
        cols += list(rng.choice(own, size=per_user, replace=False, p=p / p.sum()))
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))


def score(model, split):
    recs = model.recommend(split.train, split.eval_users)
    pop = matrix.item_popularity(split.train)
    return evaluation.ranking_metrics(recs, split.test[split.eval_users], n_items=split.train.shape[1], popularity=pop)


def test_als_and_bm25_beat_popularity_on_clustered_data():
    split = matrix.holdout_split(clustered(), seed=0)
    popular = evaluation.ranking_metrics(evaluation.popular_recommendations(split.train, split.eval_users),
                                 split.test[split.eval_users], n_items=100,
                                 popularity=matrix.item_popularity(split.train))
    for candidate in (fitting.Candidate("als", {"factors": 16, "iterations": 10, "regularization": 0.05}),
                      fitting.Candidate("bm25", {"K": 50})):
        metrics = score(fitting.fit(candidate, split.train, options=OPTIONS), split)
        assert metrics["ndcg@10"] > 1.5 * popular["ndcg@10"], candidate


def test_recommend_never_returns_seen_items():
    m = clustered()
    model = fitting.fit(fitting.Candidate("bm25", {"K": 30}), m, options=OPTIONS)
    users = np.arange(50)
    recs = model.recommend(m, users, k=10)
    assert (recs >= 0).sum() > 300
    for u, row in zip(users, recs, strict=True):
        assert not set(row.tolist()) & set(m[u].indices.tolist())


def test_similarity_from_als_factors_is_top_k_without_self():
    model = fitting.fit(fitting.Candidate("als", {"factors": 8, "iterations": 5}), clustered(), options=OPTIONS)
    sim = model.similarity(top_k=7)
    assert sim.shape == (100, 100) and sim.dtype == np.float32
    assert np.diff(sim.indptr).max() == 7
    assert sim.diagonal().sum() == 0
    # Neighbours of an item are mostly from its own taste cluster.
    same = [(sim[i].indices % 5 == i % 5).mean() for i in range(100)]
    assert np.mean(same) > 0.8
    # Exactly the cosine top-7.
    f = model.item_factors / np.linalg.norm(model.item_factors, axis=1, keepdims=True)
    cos = f @ f.T
    np.fill_diagonal(cos, -np.inf)
    assert set(sim[3].indices) == set(np.argsort(-cos[3])[:7])


def test_top_k_per_row_keeps_largest():
    m = sp.csr_matrix(np.array([[9, 1, 5, 3], [0, 0, 0, 0], [2, 8, 7, 0], [1, 2, 3, 4]], dtype=np.float32))
    out = neighbours.top_k_per_row(m, 2).toarray()
    # the diagonal never counts (self-similarity), then the 2 largest per row stay
    assert out.tolist() == [[0, 0, 5, 3], [0, 0, 0, 0], [2, 8, 0, 0], [0, 2, 3, 0]]


def test_search_ranks_trials_over_folds_and_random_is_last():
    split = matrix.holdout_split(clustered(), seed=0)
    users, _ = fitting.split_eval_users(split.eval_users, selection_users=200)
    folds = fitting.selection_folds(split.train, split.test, users, n_folds=3, sample_users=300)
    candidates = [fitting.Candidate("random"), fitting.Candidate("bm25", {"K": 50}),
                  fitting.Candidate("als", {"factors": 16, "iterations": 10})]
    trials = fitting.search(candidates, [], folds, options=OPTIONS, iterations=5)
    done = [t for t in trials[1:] if t.complete]  # after the winner, by mean
    assert trials[0].won and [t.ndcg for t in done] == sorted((t.ndcg for t in done), reverse=True)
    worst = min(trials, key=lambda t: t.ndcg)
    assert worst.candidate.kind == "random" and trials[0].candidate.kind != "random"
    assert trials[0].ndcg > 3 * worst.ndcg
    assert all(t["folds"] == 3 for t in (trials[0].as_dict(), trials[1].as_dict()))


def test_batched_knn_recommend_matches_implicit_scoring():
    m = clustered(seed=4)
    model = fitting.fit(fitting.Candidate("bm25", {"K": 40}), m, options=OPTIONS)
    users = np.arange(0, 400, 7)
    ours = neighbours.knn_recommend(model.model.similarity, m, users, k=5)
    assert (ours >= 0).all()
    for row, user in zip(ours, users, strict=True):
        ids, scores = model.model.recommend(int(user), m[int(user)], N=5, filter_already_liked_items=True)
        dense = (m[int(user)] @ model.model.similarity).toarray().ravel()
        assert np.allclose(dense[row], scores, rtol=1e-5)  # the same top-5 scores (ties may swap ids)
        assert not set(row.tolist()) & set(m[int(user)].indices.tolist())
