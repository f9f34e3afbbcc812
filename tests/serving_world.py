"""A tiny shop with a real implicit model, for the serving tests.

Three categories of 10 items; each shopper sticks to one category. `train_and_activate` fits a
real implicit model on the DB's events, saves it with `artifacts.save`, creates the active
ModelVersion row and writes the ACTIVE stamp, exactly as training does.
"""
from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import implicit
import numpy as np
import scipy.sparse as sp
from django.utils import timezone

from recsys.ml import artifacts
from recsys.ml.matrix import TYPE_CODES, WeightConfig, event_weights
from recsys.models import Event, Item, ModelVersion, Shopper

CATEGORIES = ("books", "games", "garden")
PER_CATEGORY = 10


def item_id(category: str, n: int) -> str:
    return f"{category}-{n}"


def build_shop(*, shoppers_per_category: int = 12, seed: int = 7) -> None:
    Item.objects.bulk_create([
        Item(item_id=item_id(c, n), title=f"{c.title()} {n}", category=c, url=f"https://shop.test/{c}/{n}",
             image_url=f"https://img.shop.test/{c}/{n}.jpg", price=Decimal("9.90") + n)
        for c in CATEGORIES for n in range(PER_CATEGORY)
    ])
    rng = random.Random(seed)
    items = {i.item_id: i for i in Item.objects.all()}
    now = timezone.now()
    events = []
    for c in CATEGORIES:
        for s in range(shoppers_per_category):
            shopper = Shopper.objects.create(user_id=f"{c}-fan-{s}")
            # Popularity inside a category falls off with n, so popular lists have a clear order.
            picks = rng.sample(range(PER_CATEGORY), 5)
            for k, n in enumerate(picks):
                events.append(Event(event_id=f"{shopper.user_id}-{n}", shopper=shopper, item=items[item_id(c, n)],
                                    type="purchase" if k == 0 else "view", timestamp=now - timedelta(hours=k + 1)))
    Event.objects.bulk_create(events)


def add_events(user_id: str, item_ids: list[str], type_: str = "purchase", *, consent: bool = True) -> None:
    shopper, _ = Shopper.objects.get_or_create(user_id=user_id, defaults={"personalization_consent": consent})
    now = timezone.now()
    Event.objects.bulk_create([
        Event(event_id=f"{user_id}-{i}-{type_}-{k}-{now.timestamp()}", shopper=shopper,
              item=Item.objects.get(item_id=i), type=type_, timestamp=now - timedelta(seconds=k))
        for k, i in enumerate(item_ids)
    ])


def interaction_matrix():
    rows = list(Event.objects.values_list("shopper__user_id", "item__item_id", "type", "value", "timestamp"))
    user_ids = sorted({r[0] for r in rows})
    item_ids = sorted(Item.objects.values_list("item_id", flat=True))
    u_index = {u: i for i, u in enumerate(user_ids)}
    i_index = {i: j for j, i in enumerate(item_ids)}
    w = event_weights(np.array([TYPE_CODES[r[2]] for r in rows]), np.array([r[3] for r in rows]),
                      np.array([r[4].timestamp() for r in rows]), now=timezone.now().timestamp(),
                      config=WeightConfig())
    m = sp.csr_matrix((w, ([u_index[r[0]] for r in rows], [i_index[r[1]] for r in rows])),
                      shape=(len(user_ids), len(item_ids)), dtype=np.float32)
    return m, np.array(user_ids), np.array(item_ids)


def factor_similarity(item_factors: np.ndarray, k: int = 10) -> sp.csr_matrix:
    norms = np.linalg.norm(item_factors, axis=1, keepdims=True)
    unit = item_factors / np.maximum(norms, 1e-9)
    sims = unit @ unit.T
    np.fill_diagonal(sims, 0.0)
    rows, cols, data = [], [], []
    for i in range(sims.shape[0]):
        top = np.argsort(-sims[i])[:k]
        top = top[sims[i, top] > 0]
        rows += [i] * len(top)
        cols += top.tolist()
        data += sims[i, top].tolist()
    return sp.csr_matrix((data, (rows, cols)), shape=sims.shape, dtype=np.float32)


def fit_als(m: sp.csr_matrix, *, factors: int = 8, regularization: float = 0.05, seed: int = 0):
    model = implicit.cpu.als.AlternatingLeastSquares(factors=factors, regularization=regularization,
                                                      iterations=25, random_state=seed, num_threads=1)
    model.fit(m, show_progress=False)
    return model


def train_and_activate(model_dir, *, kind: str = "als", seed: int = 0) -> ModelVersion:
    m, user_ids, item_ids = interaction_matrix()
    version = ModelVersion.objects.create(kind=kind, params={"factors": 8, "regularization": 0.05})
    if kind == "als":
        als = fit_als(m, seed=seed)
        art = artifacts.Artifact(kind="als", version=version.pk, user_ids=user_ids, item_ids=item_ids,
                                 similarity=factor_similarity(als.item_factors), user_factors=als.user_factors,
                                 item_factors=als.item_factors, params=version.params)
    else:
        knn = implicit.nearest_neighbours.CosineRecommender(K=10, num_threads=1)
        knn.fit(m, show_progress=False)
        art = artifacts.Artifact(kind="itemknn", version=version.pk, user_ids=user_ids, item_ids=item_ids,
                                 similarity=knn.similarity.tocsr().astype(np.float32), params={"K": 10})
    return store_and_activate(version, art, model_dir)


def store_and_activate(version: ModelVersion, art: artifacts.Artifact, model_dir) -> ModelVersion:
    """Write the artifact where training writes it, put it into the store (the settings' MODEL_DIR and
    CURIO_ARTIFACT_STORE) and activate it, as a training run does."""
    from django.test import override_settings

    from recsys.training import stored_versions
    from recsys.training.versions import model_version_activate

    with override_settings(MODEL_DIR=model_dir):
        path = artifacts.save(art, stored_versions.staging_dir())
        stored_versions.version_store(version, path)
        model_version_activate(version_id=version.pk)
    version.refresh_from_db()
    return version


def reset_serving_caches() -> None:
    """Forget every per-process serving cache (model, popular lists, item cards, rules) between tests."""
    from curation import live_rules
    from recsys.catalog import availability
    from recsys.serving import item_cards, model_store, popular

    model_store.reset()
    popular.clear_cache()
    item_cards.clear_cache()
    live_rules.invalidate()
    availability.invalidate()
