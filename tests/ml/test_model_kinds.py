"""The model kinds behind one interface: registry, round trip through an artifact, serving scores
against the numeric kernels, and artifacts written in the on-disk layout of earlier versions."""
import json

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.ml import artifacts, fitting, model_kinds, neighbours, scoring
from recsys.ml.model_kinds import ScoreRequest
from tests.ml.test_training_fitting import OPTIONS, clustered

ALS = fitting.Candidate("als", {"factors": 8, "iterations": 6, "regularization": 0.1, "alpha": 2.0})


def test_registry_keeps_the_kind_names_and_their_artifact_kinds():
    assert model_kinds.kind_names() == ["als", "bm25", "cosine", "ease", "rp3beta", "random", "ease_head"]
    assert {k: fitting.Candidate(k).artifact_kind for k in model_kinds.kind_names()} == {
        "als": "als", "bm25": "itemknn", "cosine": "itemknn", "ease": "itemknn", "rp3beta": "itemknn",
        "random": "random", "ease_head": "itemknn"}
    assert set(model_kinds.ARTIFACT_KINDS) == {"als", "itemknn"}
    als, bm25, rnd = (model_kinds.kind_class(k) for k in ("als", "bm25", "random"))
    assert als.is_factor_model and als.warm_starts and not als.is_item_item
    assert bm25.is_item_item and not bm25.is_factor_model and not bm25.warm_starts
    assert not rnd.servable and als.servable and bm25.servable
    with pytest.raises(ValueError, match="use als, bm25, cosine, ease, rp3beta, random or ease_head"):
        fitting.Candidate.from_setting({"kind": "slim"})


def test_tuning_space_is_each_kinds_space_in_a_seeded_order_the_kinds_taking_turns():
    kinds = ("als", "bm25", "cosine", "ease", "rp3beta", "ease_head")
    for seed in (0, 42):
        space = fitting.tuning_space(seed)
        assert [c.kind for c in space[:6]] == list(kinds) and [c.kind for c in space[6:12]] == list(kinds)
        for name in kinds:
            own = [c.params for c in space if c.kind == name]
            grid = model_kinds.kind_class(name).search_space()
            assert sorted(map(repr, own)) == sorted(map(repr, grid))  # all of it, each once
        als = model_kinds.kind_class("als").search_space()  # the first kind takes the seed's first draw
        assert [c.params for c in space if c.kind == "als"] == [
            als[i] for i in np.random.default_rng(seed).permutation(len(als))]
        assert fitting.tuning_space(seed) == space
    assert {c.params.get("weighting", "linear") for c in space if c.kind == "als"} == {"linear", "log", "bm25"}


def _loaded(model, tmp_path, version=1, **params) -> model_kinds.Model:
    art = model.to_artifact(version=version, user_ids=np.array([f"u{i}" for i in range(400)]),
                            item_ids=np.array([f"i{j}" for j in range(100)]), similar_items=10,
                            params={"kind": model.kind, **model.params, **params})
    path = artifacts.save(art, tmp_path)
    return model_kinds.from_artifact(artifacts.load(path)).prepare_serving()


def _history(m: sp.csr_matrix, row: int) -> scoring.History:
    return scoring.History(m[row].indices.astype(np.int32), m[row].data.astype(np.float32))


def test_als_round_trip_scores_like_the_kernels_single_batched_and_within_candidates(tmp_path):
    m = clustered()
    fitted = fitting.fit(ALS, m, options=OPTIONS)
    loaded = _loaded(fitted, tmp_path)
    assert type(loaded) is type(fitted) and loaded.kind == "als" and loaded.model is None
    np.testing.assert_array_equal(loaded.item_factors, fitted.item_factors)
    assert loaded.confidence_scale == 2.0 and loaded.norm_order.factors is not None
    factors, yty = loaded.item_factors, scoring.gram(loaded.item_factors)
    histories = [_history(m, u) for u in (0, 7, 13)]
    want = []
    for h in histories:
        vector, _ = scoring.als_fold_in(factors, yty, 0.1, h)
        ids, _ = scoring.als_top(factors, vector[None, :], 12, h.cols)
        want.append(ids[0].tolist())
    single = loaded.score([ScoreRequest(histories[0], 12, exclude=histories[0].cols)])
    assert single[0].cols.tolist() == want[0]  # the pruned top-k
    batch = loaded.score([ScoreRequest(h, 12, exclude=h.cols) for h in histories])
    assert [s.cols.tolist() for s in batch] == want  # the batched top-k
    for h, scored in zip(histories, batch, strict=True):
        assert not set(scored.cols.tolist()) & set(h.cols.tolist())
        assert scored.top_contributor.tolist() == loaded.explain(h, scored.cols).tolist()
        assert set(scored.top_contributor.tolist()) <= set(h.cols.tolist())
    allowed = np.array(sorted(want[1][:3] + [c for c in range(100) if c not in want[1]][:2]), dtype=np.int32)
    within = loaded.score([ScoreRequest(histories[1], 12, exclude=histories[1].cols, candidates=allowed)])[0]
    assert set(within.cols.tolist()) <= set(allowed.tolist()) and within.cols.tolist()[:3] == want[1][:3]
    context = scoring.History(np.array([3], np.int32), np.ones(1, np.float32))
    similar = loaded.similar_items(context, 5, exclude=context.cols)
    want_similar = scoring.knn_scores(neighbours.similar_from_factors(factors, 10), context, 5, exclude_cols=[3])
    assert similar.cols.tolist() == want_similar.cols.tolist() and len(similar.cols) == 5


def test_item_item_round_trip_scores_with_the_summed_neighbour_rows(tmp_path):
    m = clustered(seed=2)
    fitted = fitting.fit(fitting.Candidate("bm25", {"K": 30}), m, options=OPTIONS)
    loaded = _loaded(fitted, tmp_path)
    assert loaded.kind == "bm25" and loaded.is_item_item and loaded.confidence_scale == 1.0
    h = _history(m, 5)
    scored = loaded.score([ScoreRequest(h, 8, exclude=h.cols)])[0]
    want = scoring.knn_scores(loaded.item_similarity, h, 8, exclude_cols=h.cols)
    assert scored.cols.tolist() == want.cols.tolist() and len(scored.cols) > 3
    assert scored.top_contributor.tolist() == loaded.explain(h, scored.cols).tolist()
    with_seen = loaded.score([ScoreRequest(h, 200)])[0]
    assert set(h.cols.tolist()) & set(with_seen.cols.tolist())
    assert loaded.recommend(m, np.arange(5), k=3).shape == (5, 3)  # from the artifact's neighbours


def test_random_is_never_saved_and_unknown_artifact_kinds_do_not_load(tmp_path):
    rnd = fitting.fit(fitting.Candidate("random"), clustered(), options=OPTIONS)
    assert rnd.recommend(clustered(), np.arange(3)).shape == (3, 10)
    with pytest.raises(ValueError, match="never"):
        rnd.similarity(5)
    with pytest.raises(ValueError, match="never saved"):
        rnd.to_artifact(version=1, user_ids=np.array([]), item_ids=np.array([]), similar_items=5, params={})
    art = artifacts.Artifact(kind="ease", version=1, user_ids=np.array(["u"]), item_ids=np.array(["a", "b"]),
                             similarity=sp.csr_matrix((2, 2), dtype=np.float32))
    with pytest.raises(artifacts.ArtifactError, match="unknown model kind 'ease'"):
        model_kinds.from_artifact(artifacts.load(artifacts.save(art, tmp_path)))


def test_refit_warm_starts_only_kinds_that_do():
    m = clustered()
    first = fitting.fit(ALS, m, options=OPTIONS)
    again = fitting.refit(ALS, m, options=OPTIONS, iterations=1, warm_start=first)
    assert again.params["iterations"] == 1 and again.model.iterations == 1
    cold = fitting.refit(ALS, m, options=OPTIONS, iterations=1)
    # One more iteration from the split's factors lands nearer them than one from scratch.
    assert np.linalg.norm(again.item_factors - first.item_factors) < np.linalg.norm(cold.item_factors
                                                                                    - first.item_factors)
    knn = fitting.fit(fitting.Candidate("cosine", {"K": 20}), m, options=OPTIONS)
    refit = fitting.refit(fitting.Candidate("cosine", {"K": 20}), m, options=OPTIONS, iterations=1, warm_start=knn)
    assert refit.params == {"K": 20} and (refit.similarity(5) != knn.similarity(5)).nnz == 0


# --- artifacts in the layout versions were saved in before (rollback must still load them) ---------

def _write_old_layout(path, kind, meta_params, arrays, sim):
    """A version directory written file by file, as earlier code wrote it (no artifacts.save)."""
    path.mkdir(parents=True)
    for name, array in arrays.items():
        np.save(path / f"{name}.npy", array)
    np.save(path / "sim_indptr.npy", sim.indptr.astype(np.int32))
    np.save(path / "sim_indices.npy", sim.indices.astype(np.int32))
    np.save(path / "sim_data.npy", sim.data.astype(np.float32))
    factors = arrays.get("item_factors")
    (path / "meta.json").write_text(json.dumps({"kind": kind, "version": 7, "params": meta_params,
                                                "factors": 0 if factors is None else int(factors.shape[1])}))
    (path / artifacts.COMPLETE_MARKER).write_text("ok\n")


def test_old_layout_als_without_the_norm_sorted_copy_loads_and_serves(tmp_path, caplog):
    from recsys.serving.model_store import load_model

    m = clustered()
    fitted = fitting.fit(ALS, m, options=OPTIONS)
    ids = {"user_ids": np.array([f"u{i}" for i in range(400)]), "item_ids": np.array([f"i{j}" for j in range(100)])}
    _write_old_layout(tmp_path / "7", "als", {"kind": "als", "factors": 8, "regularization": 0.1, "alpha": 2.0},
                      {**ids, "user_factors": fitted.user_factors, "item_factors": fitted.item_factors},
                      fitted.similarity(10))
    with caplog.at_level("WARNING"):
        served = load_model(tmp_path / "7")
    assert "do not fit" not in caplog.text  # nothing wrong: the order is simply computed
    assert served.kind == "als" and served.kind_model.is_factor_model and served.norm_order.factors is None
    h = _history(m, 4)
    got = served.kind_model.score([ScoreRequest(h, 10, exclude=h.cols)])[0]
    vector, _ = scoring.als_fold_in(fitted.item_factors, scoring.gram(fitted.item_factors), 0.1, h)
    want, _ = scoring.als_top(fitted.item_factors, vector[None, :], 10, h.cols)
    assert got.cols.tolist() == want[0].tolist()


def test_old_layout_itemknn_without_a_kind_in_its_params_loads_and_serves(tmp_path):
    from recsys.serving.model_store import load_model

    m = clustered(seed=3)
    knn = fitting.fit(fitting.Candidate("cosine", {"K": 10}), m, options=OPTIONS)
    _write_old_layout(tmp_path / "7", "itemknn", {"K": 10},
                      {"user_ids": np.array([f"u{i}" for i in range(400)]),
                       "item_ids": np.array([f"i{j}" for j in range(100)])}, knn.model.similarity.tocsr())
    served = load_model(tmp_path / "7")
    assert served.kind == "itemknn" and served.kind_model.kind == "itemknn" and served.kind_model.is_item_item
    h = _history(m, 9)
    got = served.kind_model.score([ScoreRequest(h, 6, exclude=h.cols)])[0]
    want = scoring.knn_scores(knn.model.similarity.tocsr(), h, 6, exclude_cols=h.cols)
    assert got.cols.tolist() == want.cols.tolist() and len(got.cols) == 6
