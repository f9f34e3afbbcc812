"""New items (issue #31): what content similarity and exploration bring, and what they cost.

    nice -n 10 .venv/bin/python bench/bench_new_items.py                 # 20 taste groups x 150 items, 2,000 shoppers
    nice -n 10 .venv/bin/python bench/bench_new_items.py --scale 0.5

The shop (tests/exploration/taste_shop.py): taste groups of (category, brand, title words), two groups per category;
shoppers keep to a main group (80%). 15% of the items are launched after the last training: training sees only the
old items' events; later, shoppers also pick new items of their group. Through the real list service (SQLite, in
process, no HTTP), on the shoppers with later picks:
  (a) recall@10 of the new items they picked later, in their personal lists (0 by construction without exploration)
  (b) nDCG@10 of the whole list against all their later picks, exploration on vs off (the cost of exploring)
  (c) similar lists of new items against their true behavioural neighbours (top 10 by cosine over all events, later
      ones included): the content list vs the popular fill new items had before (popular in the category, then overall)
Also: the content index's build time (training / each refresh) for this shop and for a 20,000-item catalog, and the
median time of a personal list with exploration on and off.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-new-items-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ["MODEL_DIR"] = str(tmp / "models")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-new-items-" + "x" * 40)
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    from recsys.ml.content_build import ItemText, build
    from recsys.serving.lists import PERSONAL, ListRequest, serve_lists
    from tests import serving_world
    from tests.exploration import taste_shop

    call_command("migrate", verbosity=0)
    groups = 20
    per_group = max(20, int(150 * args.scale))
    fans = max(10, int(100 * args.scale))
    started = time.perf_counter()
    shop = taste_shop.build(groups=groups, items_per_group=per_group, shoppers_per_group=fans, seed=11)
    print(f"shop: {len(shop.old) + len(shop.new):,} items ({len(shop.new):,} new), {groups * fans:,} shoppers, "
          f"{len(shop.train_pairs):,} training events, "
          f"{sum(len(v) for v in shop.later.values()):,} later picks ({time.perf_counter() - started:.1f}s)")
    started = time.perf_counter()
    taste_shop.train(shop, Path(settings.MODEL_DIR), factors=32)
    print(f"trained ALS (32 factors) and wrote the content index in {time.perf_counter() - started:.1f}s")
    serving_world.reset_serving_caches()

    on = taste_shop.personal_figures(shop)
    with override_settings(EXPLORATION_SLOTS=0):
        off = taste_shop.personal_figures(shop)
    sim = taste_shop.similar_figures(shop)
    print(f"(a) recall@10 of new items in personal lists: exploration on {on['recall_new@10']:.4f}, "
          f"off {off['recall_new@10']:.4f} ({on['shoppers_with_new']:,} shoppers with later new picks)")
    print(f"(b) nDCG@10 of the whole list: on {on['ndcg@10']:.4f}, off {off['ndcg@10']:.4f}, "
          f"ratio {on['ndcg@10'] / off['ndcg@10']:.3f}x ({on['shoppers']:,} shoppers)")
    print(f"(c) similar lists of {sim['new_items']:,} new items, recall@10 of their true behavioural neighbours: "
          f"content {sim['content_recall@10']:.4f}, popular fill {sim['popular_recall@10']:.4f}")

    users = [u for u, later in shop.later.items() if later][:300]
    for label, slots in (("on", 1), ("off", 0)):
        with override_settings(EXPLORATION_SLOTS=slots):
            for u in users[:20]:
                serve_lists([ListRequest(PERSONAL, limit=10, user_id=u)])
            times = []
            for u in users:
                t = time.perf_counter()
                serve_lists([ListRequest(PERSONAL, limit=10, user_id=u)])
                times.append(time.perf_counter() - t)
        median = statistics.median(times) * 1e3
        print(f"personal list (SQLite, in process), exploration {label}: median {median:.2f} ms")

    for n in (len(shop.old) + len(shop.new), 20_000):
        items = [ItemText(f"i{k}", f"{taste_shop.BRANDS[k % 20]} {taste_shop.WORDS[k % 30]} "
                          f"{taste_shop.WORDS[(k * 7) % 30]} item {k % 97}", taste_shop.CATEGORIES[k % 10],
                          {"brand": taste_shop.BRANDS[k % 20], "color": ("red", "blue", "green")[k % 3]})
                 for k in range(n)]
        t = time.perf_counter()
        index = build(items, neighbours=50)
        print(f"content index of {n:,} items: {time.perf_counter() - t:.2f}s, {len(index.vocab):,} terms, "
              f"{index.nn.nnz:,} neighbour entries")


if __name__ == "__main__":
    main()
