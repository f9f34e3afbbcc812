"""A shop whose titles and attributes carry the same taste structure as its shoppers' behaviour, with a share of
items "launched after the last training": the measurement of issue #31 (tests/exploration, bench/bench_new_items.py).

Taste groups: each is a (category, brand) pair with its own title words; two groups share each category (with
different brands), so content alone does not give the answer away. Shoppers have a main group (80% of their picks)
and wander (20%). Training sees the events of the old items only; later, shoppers also pick new items of their main
group (the ground truth of (a) and (b)), and the true behavioural neighbours of a new item are measured on all events,
later ones included (c).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.test import override_settings
from django.utils import timezone

from recsys.ml import artifacts
from recsys.models import Event, Item, ModelVersion, Shopper
from recsys.serving.lists import PERSONAL, SIMILAR, ListRequest, serve_lists
from recsys.serving.popular import popular_items
from recsys.training import stored_versions
from recsys.training.content import content_write
from recsys.training.versions import model_version_activate
from tests import serving_world

CATEGORIES = ("shoes", "jackets", "tents", "lamps", "mugs", "books", "games", "bags", "socks", "hats")
BRANDS = ("Alpen", "Borea", "Cirrus", "Dune", "Ember", "Fjord", "Glen", "Heath", "Isle", "Juniper", "Kestrel",
          "Lumen", "Moraine", "Nimbus", "Oriel", "Pike", "Quill", "Ridge", "Sable", "Tundra")
WORDS = ("trail", "merino", "canvas", "waxed", "alpine", "harbor", "desert", "linen", "cedar", "copper", "slate",
         "velvet", "granite", "willow", "amber", "indigo", "maple", "sierra", "coastal", "nordic", "urban", "retro",
         "studio", "field", "summit", "river", "meadow", "forest", "glacier", "canyon")


@dataclass
class Shop:
    groups: int
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    group_of: dict[str, int] = field(default_factory=dict)
    later: dict[str, list[str]] = field(default_factory=dict)  # shopper -> items picked after the training
    train_pairs: list[tuple[str, str]] = field(default_factory=list)
    model_version: ModelVersion | None = None

    def true_neighbours(self, k: int = 10) -> dict[str, list[str]]:
        """Each new item's top-k items by cosine over all events, later ones included (measured after the fact)."""
        pairs = self.train_pairs + [(u, i) for u, items in self.later.items() for i in items]
        users = {u: n for n, u in enumerate(sorted({u for u, _ in pairs}))}
        items = sorted({i for _, i in pairs})
        col = {i: n for n, i in enumerate(items)}
        m = sp.csr_matrix((np.ones(len(pairs), dtype=np.float32), ([users[u] for u, _ in pairs],
                                                                   [col[i] for _, i in pairs])),
                          shape=(len(users), len(items)))
        m.data[:] = 1.0
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=0)).ravel()) + 1e-9
        out = {}
        for item in self.new:
            if item not in col:
                continue
            co = np.asarray((m.T @ m[:, col[item]]).todense()).ravel() / (norms * norms[col[item]])
            co[col[item]] = 0
            top = np.argsort(-co, kind="stable")[:k]
            out[item] = [items[t] for t in top if co[t] > 0]
        return out


def build(*, groups: int = 8, items_per_group: int = 30, shoppers_per_group: int = 25, new_share: float = 0.15,
          train_picks: int = 10, later_picks: int = 5, seed: int = 3) -> Shop:
    rng = random.Random(seed)
    now = timezone.now()
    shop = Shop(groups)
    rows = []
    for g in range(groups):
        category, brand = CATEGORIES[(g // 2) % len(CATEGORIES)], BRANDS[g % len(BRANDS)]
        words = rng.sample(WORDS, 3)
        for n in range(items_per_group):
            item_id = f"g{g}-{n}"
            is_new = n >= items_per_group * (1 - new_share)
            title = f"{brand} {rng.choice(words)} {rng.choice(words)} {category[:-1]} {rng.choice(WORDS)}"
            rows.append(Item(item_id=item_id, title=title, category=category,
                             attributes={"brand": brand, "color": rng.choice(("red", "blue", "green", "black"))}))
            (shop.new if is_new else shop.old).append(item_id)
            shop.group_of[item_id] = g
    Item.objects.bulk_create(rows, batch_size=1000)
    # Old items joined the catalog long ago, new ones two days ago (auto_now_add set them to now).
    Item.objects.filter(item_id__in=shop.old).update(created_at=now - timedelta(days=400))
    Item.objects.filter(item_id__in=shop.new).update(created_at=now - timedelta(days=2))
    by_group_old = [[i for i in shop.old if shop.group_of[i] == g] for g in range(groups)]
    by_group_new = [[i for i in shop.new if shop.group_of[i] == g] for g in range(groups)]
    pks = dict(Item.objects.values_list("item_id", "pk"))

    def pick(pool: list[str]) -> str:  # power-law popularity inside a group
        return pool[min(int(rng.paretovariate(1.2)) - 1, len(pool) - 1)]

    shoppers, events = [], []
    for g in range(groups):
        for s in range(shoppers_per_group):
            user_id = f"g{g}-fan-{s}"
            shoppers.append(Shopper(user_id=user_id))
            picks = {pick(by_group_old[g] if rng.random() < 0.8 else by_group_old[rng.randrange(groups)])
                     for _ in range(train_picks)}
            for k, item in enumerate(sorted(picks)):
                events.append((user_id, item, now - timedelta(days=3, hours=k)))
                shop.train_pairs.append((user_id, item))
            later = set()
            for _ in range(later_picks):
                pool = by_group_new[g] if rng.random() < 0.4 else by_group_old[g]
                later.add(pick(pool) if rng.random() < 0.8 else rng.choice(pool))
            shop.later[user_id] = sorted(later - picks)
    Shopper.objects.bulk_create(shoppers, batch_size=1000)
    spk = dict(Shopper.objects.values_list("user_id", "pk"))
    Event.objects.bulk_create([Event(event_id=f"{u}-{i}", shopper_id=spk[u], item_id=pks[i], type="view", timestamp=t)
                               for u, i, t in events], batch_size=2000)
    return shop


def train(shop: Shop, model_dir: Path, *, factors: int = 16) -> ModelVersion:
    """ALS on the events training saw (the old items'), with the catalog's content index, stored and activated."""
    rows = list(Event.objects.values_list("shopper__user_id", "item__item_id"))
    user_ids = sorted({u for u, _ in rows})
    item_ids = sorted({i for _, i in rows})
    u_index, i_index = {u: n for n, u in enumerate(user_ids)}, {i: n for n, i in enumerate(item_ids)}
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), ([u_index[u] for u, _ in rows],
                                                              [i_index[i] for _, i in rows])),
                      shape=(len(user_ids), len(item_ids)))
    als = serving_world.fit_als(m, factors=factors)
    version = ModelVersion.objects.create(kind="als", params={"factors": factors})
    art = artifacts.Artifact(kind="als", version=version.pk, user_ids=np.array(user_ids),
                             item_ids=np.array(item_ids), similarity=serving_world.factor_similarity(als.item_factors),
                             user_factors=als.user_factors, item_factors=als.item_factors, params=version.params)
    with override_settings(MODEL_DIR=model_dir):
        path = artifacts.save(art, stored_versions.staging_dir())
        content_write(path, matrix=m, item_ids=np.array(item_ids))
        stored_versions.version_store(version, path)
        model_version_activate(version_id=version.pk)
    shop.model_version = version
    return version


def _ndcg(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / np.log2(r + 2) for r, i in enumerate(ranked[:k]) if i in relevant)
    ideal = sum(1 / np.log2(r + 2) for r in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def personal_figures(shop: Shop, *, users: list[str] | None = None) -> dict:
    """(a) recall@10 of the new items shoppers picked later, (b) nDCG@10 against all their later picks."""
    users = users or [u for u, later in shop.later.items() if later]
    new = set(shop.new)
    recall, ndcg, with_new = [], [], 0
    for user_id in users:
        body = serve_lists([ListRequest(PERSONAL, limit=10, user_id=user_id)])[0]
        ranked = [i["item_id"] for i in body["items"]]
        later = set(shop.later[user_id])
        ndcg.append(_ndcg(ranked, later))
        later_new = later & new
        if later_new:
            with_new += 1
            recall.append(len(set(ranked[:10]) & later_new) / min(10, len(later_new)))
    return {"recall_new@10": float(np.mean(recall)) if recall else 0.0, "ndcg@10": float(np.mean(ndcg)),
            "shoppers": len(users), "shoppers_with_new": with_new}


def similar_figures(shop: Shop) -> dict:
    """(c) similar lists of new items against their true behavioural neighbours: the content list vs popular fill
    (what the list was before content: popular in the item's category, then overall)."""
    truth = shop.true_neighbours()
    content_hits, popular_hits, n = [], [], 0
    categories = dict(Item.objects.filter(item_id__in=list(truth)).values_list("item_id", "category"))
    for item, neighbours in truth.items():
        if not neighbours:
            continue
        n += 1
        body = serve_lists([ListRequest(SIMILAR, limit=10, item_ids=(item,))])[0]
        listed = [i["item_id"] for i in body["items"]]
        fill = [i for i, _ in popular_items(category=categories[item], n=11) if i != item][:10]
        top = set(neighbours)
        content_hits.append(len(set(listed) & top) / len(top))
        popular_hits.append(len(set(fill) & top) / len(top))
    return {"content_recall@10": float(np.mean(content_hits)) if n else 0.0,
            "popular_recall@10": float(np.mean(popular_hits)) if n else 0.0, "new_items": n}
