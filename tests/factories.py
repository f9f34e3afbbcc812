"""Small data builders shared by the trust tests (plain ORM, no other feature's services)."""
from __future__ import annotations

from datetime import timedelta
from itertools import count

import numpy as np
import scipy.sparse as sp
from django.utils import timezone

from recsys.ml import artifacts
from recsys.models import Event, Impression, Item, Shopper

_seq = count(1)


def items(*ids: str, category: str = "c") -> list[Item]:
    return [Item.objects.get_or_create(item_id=i, defaults={"title": f"Item {i}", "category": category})[0]
            for i in ids]


def event(user_id: str, item_id: str, type: str = "view", *, days_ago: float = 0, recommendation_id: str = "",
          value: float = 1.0) -> Event:
    shopper, _ = Shopper.objects.get_or_create(user_id=user_id)
    item = Item.objects.get_or_create(item_id=item_id, defaults={"title": item_id})[0]
    return Event.objects.create(event_id=f"e{next(_seq)}", shopper=shopper, item=item, type=type, value=value,
                                timestamp=timezone.now() - timedelta(days=days_ago),
                                recommendation_id=recommendation_id)


def impression(user_id: str, item_id: str, *, rec: str = "r1", position: int = 1, source: str = "model",
               rule_id: int | None = None, placement: str = "home", is_control: bool = False) -> Impression:
    item = Item.objects.get_or_create(item_id=item_id, defaults={"title": item_id})[0]
    return Impression.objects.create(recommendation_id=rec, position=position, item=item, source=source,
                                     rule_id=rule_id, placement=placement, list_type="personal",
                                     user_id=user_id, is_control=is_control, created_at=timezone.now())


def stored_version(model_dir, version: int, user_ids: list[str], item_ids: list[str], *, active: bool = False,
                   k: int = 4):
    """A ModelVersion row `version` whose artifact (random ALS factors) is in the store, as training leaves it;
    activated if `active`."""
    from django.test import override_settings

    from recsys.models import ModelVersion
    from recsys.training import stored_versions
    from recsys.training.versions import model_version_activate

    row = ModelVersion.objects.create(pk=version, kind="als")
    with override_settings(MODEL_DIR=model_dir):
        path = write_artifact(stored_versions.staging_dir(), version, user_ids, item_ids, k=k)
        stored_versions.version_store(row, path)
        if active:
            model_version_activate(version_id=version)
    row.refresh_from_db()
    return row


def write_artifact(model_dir, version: int, user_ids: list[str], item_ids: list[str], k: int = 4):
    rng = np.random.default_rng(version)
    n = len(item_ids)
    return artifacts.save(artifacts.Artifact(
        kind="als", version=version, user_ids=np.asarray(user_ids), item_ids=np.asarray(item_ids),
        similarity=sp.csr_matrix((n, n), dtype=np.float32),
        user_factors=rng.random((len(user_ids), k), dtype=np.float32) + 0.1,
        item_factors=rng.random((n, k), dtype=np.float32), params={},
    ), model_dir)


def served_version() -> int | None:
    """The version a fresh look at the model state makes this process serve (what every process serves within a
    model poll)."""
    from recsys.serving import model_store

    model_store.reset()
    model = model_store.active_model()
    return model.version if model is not None else None
