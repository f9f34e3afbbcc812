"""The demo shop: the pure generator (no DB) and the `demo` command (bulk, idempotent)."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from io import StringIO

import numpy as np
import pytest
import scipy.sparse as sp
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from recsys.ml.events import EVENT_TYPES
from recsys.models import Event, Item, Shopper
from recsys.storefront import demo_shop

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def shop() -> demo_shop.DemoShop:
    return demo_shop.generate(seed=7, scale=0.5, now=NOW)


def test_same_seed_same_shop_other_seed_other_shop(shop):
    again = demo_shop.generate(seed=7, scale=0.5, now=NOW)
    assert again.items == shop.items and again.shoppers == shop.shoppers
    for column in ("ev_shopper", "ev_item", "ev_type", "ev_value", "ev_seconds_ago"):
        assert np.array_equal(getattr(again, column), getattr(shop, column)), column
    other = demo_shop.generate(seed=8, scale=0.5, now=NOW)
    assert [i.title for i in other.items] != [i.title for i in shop.items]
    assert not np.array_equal(other.ev_item[:1000], shop.ev_item[:1000])


def test_full_size_shop():
    full = demo_shop.generate(seed=42, scale=1.0, now=NOW)
    assert len(full.items) == 2000
    assert len({i.category for i in full.items}) == 20
    assert len(full.shoppers) == 3000
    assert 180_000 <= len(full) <= 220_000
    assert len({i.item_id for i in full.items}) == 2000 and len({s.user_id for s in full.shoppers}) == 3000


def test_items_are_readable_and_priced(shop):
    for item in shop.items:
        assert item.item_id.startswith(demo_shop.ITEM_PREFIX)
        assert len(item.title.split()) >= 3 and item.attributes["brand"] in item.title
        assert item.price > 0
    titles = Counter(i.title for i in shop.items)
    assert titles.most_common(1)[0][1] == 1, "titles are unique"
    prices = sorted(float(i.price) for i in shop.items)
    assert prices[-1] > 5 * prices[0], "prices vary across categories and brands"


def test_all_event_types_over_the_last_90_days(shop):
    counts = np.bincount(shop.ev_type, minlength=len(EVENT_TYPES))
    assert all(counts > 0)
    assert counts[0] > counts[1] > counts[2] > counts[3] > counts[4], "a funnel: views > clicks > carts > buys"
    assert shop.ev_seconds_ago.min() > 0 and shop.ev_seconds_ago.max() <= 90 * 86400
    ratings = shop.ev_value[shop.ev_type == 4]
    assert set(np.unique(ratings)) <= {1, 2, 3, 4, 5} and len(np.unique(ratings)) == 5
    assert np.all(shop.ev_value[shop.ev_type != 4] == 1.0)
    # Recent weeks are busier than the oldest ones.
    days = shop.ev_seconds_ago / 86400
    assert (days < 30).sum() > (days > 60).sum()


def test_item_popularity_follows_a_power_law(shop):
    freq = np.sort(np.bincount(shop.ev_item, minlength=len(shop.items)))[::-1].astype(float)
    top_decile = freq[: len(freq) // 10].sum() / freq.sum()
    assert top_decile > 0.35, f"top 10% of items get {top_decile:.0%} of events"
    ranks = np.arange(1, len(freq) + 1)
    head = freq > 0
    slope = np.polyfit(np.log(ranks[head][5:500]), np.log(freq[head][5:500]), 1)[0]
    assert -2.0 < slope < -0.5, f"log-log rank/frequency slope {slope:.2f}"


def test_shopper_tastes_cluster(shop):
    cat_of = np.array([list(demo_shop.CATEGORIES).index(i.category) for i in shop.items])
    shares = []
    for s in range(len(shop.shoppers)):
        cats = np.bincount(cat_of[shop.ev_item[shop.ev_shopper == s]], minlength=20)
        shares.append(np.sort(cats)[::-1][:4].sum() / cats.sum())
    # Uniform browsing would put ~20% of a shopper's events in their top 4 of 20 categories.
    assert np.mean(shares) > 0.8
    assert all(1 <= len(s.clusters) <= 3 for s in shop.shoppers)
    assert len({s.clusters[0] for s in shop.shoppers}) == len(demo_shop.CLUSTERS)


def _ndcg_at_10(train: sp.csr_matrix, test: dict[int, set[int]], score) -> float:
    total = 0.0
    for user, truth in test.items():
        scores = np.asarray(score(user), dtype=float).ravel()
        scores[train[user].indices] = -np.inf  # seen items are never recommended
        top = np.argsort(-scores, kind="stable")[:10]
        dcg = sum(1 / np.log2(r + 2) for r, item in enumerate(top) if item in truth)
        total += dcg / sum(1 / np.log2(r + 2) for r in range(min(10, len(truth))))
    return total / len(test)


def test_co_occurrence_beats_popularity_by_far(shop):
    """Hold out each shopper's latest items: item-item co-occurrence must beat popularity by >= 50% nDCG@10."""
    order = np.argsort(-shop.ev_seconds_ago, kind="stable")  # oldest first
    history: dict[int, list[int]] = {}
    for user, item in zip(shop.ev_shopper[order], shop.ev_item[order], strict=True):
        history.setdefault(int(user), []).append(int(item))
    rows, cols, test = [], [], {}
    for user, items in history.items():
        distinct = list(dict.fromkeys(items))
        cut = len(distinct) - max(1, len(distinct) // 5) if len(distinct) >= 5 else len(distinct)
        rows += [user] * cut
        cols += distinct[:cut]
        if cut < len(distinct):
            test[user] = set(distinct[cut:])
    train = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(shop.shoppers), len(shop.items)))
    popularity = np.asarray(train.sum(axis=0)).ravel()
    co = (train.T @ train).toarray()
    norm = np.sqrt(np.diag(co)) + 1e-9
    np.fill_diagonal(co, 0)
    cosine = co / norm[:, None] / norm[None, :]
    pop_ndcg = _ndcg_at_10(train, test, lambda u: popularity.copy())
    knn_ndcg = _ndcg_at_10(train, test, lambda u: train[u] @ cosine)
    assert len(test) > 0.8 * len(shop.shoppers)
    assert knn_ndcg >= 1.5 * pop_ndcg, (knn_ndcg, pop_ndcg)


def test_bad_scale_is_refused():
    with pytest.raises(ValueError):
        demo_shop.sizes(0)


@pytest.mark.django_db
def test_demo_command_loads_once_and_creates_logins():
    group = Group.objects.get_or_create(name=demo_shop.MERCHANDISER_GROUP)[0]
    out = StringIO()
    call_command("demo", "--scale", "0.05", "--seed", "3", stdout=out)
    shop = demo_shop.generate(seed=3, scale=0.05, now=NOW)
    assert Item.objects.filter(item_id__startswith=demo_shop.ITEM_PREFIX).count() == len(shop.items)
    assert Shopper.objects.filter(user_id__startswith=demo_shop.USER_PREFIX).count() == len(shop.shoppers)
    assert Event.objects.count() == len(shop)
    assert set(Event.objects.values_list("type", flat=True).distinct()) == set(EVENT_TYPES)
    text = out.getvalue()
    assert "admin / curio-admin" in text and "merchandiser / curio-merch" in text
    User = get_user_model()
    admin = User.objects.get(username=demo_shop.ADMIN_USERNAME)
    assert admin.is_superuser and admin.check_password(demo_shop.ADMIN_PASSWORD)
    merch = User.objects.get(username=demo_shop.MERCHANDISER_USERNAME)
    assert merch.is_staff and not merch.is_superuser and merch.check_password(demo_shop.MERCHANDISER_PASSWORD)
    assert group in merch.groups.all()
    # Same titles as the pure generator: the command writes exactly what it generates.
    item = Item.objects.get(item_id=shop.items[0].item_id)
    assert (item.title, item.category, item.price) == (shop.items[0].title, shop.items[0].category,
                                                       shop.items[0].price)

    out = StringIO()
    call_command("demo", "--scale", "0.05", "--seed", "3", stdout=out)
    assert "already loaded" in out.getvalue()
    assert Event.objects.count() == len(shop) and User.objects.count() == 2


@pytest.mark.django_db
def test_demo_command_refuses_another_seed_without_reset_and_resets_only_demo_data():
    call_command("demo", "--scale", "0.05", "--seed", "3", stdout=StringIO())
    Item.objects.create(item_id="own-1", title="The shop's own item")
    with pytest.raises(CommandError, match="--reset"):
        call_command("demo", "--scale", "0.05", "--seed", "4", stdout=StringIO())
    call_command("demo", "--scale", "0.05", "--seed", "4", "--reset", stdout=StringIO())
    shop = demo_shop.generate(seed=4, scale=0.05, now=NOW)
    assert Event.objects.count() == len(shop)
    assert not Event.objects.filter(event_id__startswith=demo_shop.event_prefix(3, 0.05)).exists()
    assert Item.objects.filter(item_id="own-1").exists()
    assert Item.objects.get(item_id=shop.items[0].item_id).title == shop.items[0].title


@pytest.mark.django_db
def test_demo_command_restores_a_missing_group_and_the_merchandiser_can_curate():
    Group.objects.filter(name=demo_shop.MERCHANDISER_GROUP).delete()
    call_command("demo", "--scale", "0.05", stdout=StringIO())
    merch = get_user_model().objects.get(username=demo_shop.MERCHANDISER_USERNAME)
    assert merch.is_staff and list(merch.groups.values_list("name", flat=True)) == [demo_shop.MERCHANDISER_GROUP]
    assert merch.has_perm("curation.add_rule") and not merch.has_perm("auth.add_user")
