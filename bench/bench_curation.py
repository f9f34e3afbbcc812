"""Curation benchmark: what 1,000 active rules of mixed types add to a list.

    .venv/bin/python bench/bench_curation.py            # temp SQLite DB
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/curio_bench_curation .venv/bin/python bench/bench_curation.py
    .venv/bin/python bench/bench_curation.py --engine-only   # part 1 alone

Part 1, the pure engine (`curation.rules.apply`): a 100-candidate list, limit 10, placement
"home", against a 10,000-item catalog; 0 rules vs 1,000 rules (300 blocks, 300 boosts/buries,
200 pins, 200 annotations; targets: items, categories, attributes; placements spread over all
lists/home/cart/product_page/email; some windows and segments). The floor is the bare cut
(`candidates[:limit]`), i.e. what a list costs without any engine.

Part 2, whole list requests in process (`recsys.serving.lists.serve_lists`, the function every
list endpoint calls: history query, model scoring, availability, cards, curation): personal lists
for random known shoppers of a small shop with a real ALS model, with 0 and with 1,000 rules in
the DB, alternating blocks of requests in the same run; p50 of both and the difference.
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_CATALOG = 10_000
N_CANDIDATES = 100
LIMIT = 10
N_RULES = 1_000
PLACEMENTS = ["", "", "home", "cart", "product_page", "email"]
CATEGORIES = [f"cat-{c}" for c in range(40)]
BRANDS = [f"brand-{b}" for b in range(60)]


def make_rules(rng: random.Random, item_ids: list[str], now: datetime, rules) -> list:
    rule_list = []
    # 1,000 rules: diversity caps among them, and a 10% holdout on a fifth of the pins, boosts and labels.
    kinds = ["block"] * 290 + ["boost"] * 290 + ["pin"] * 190 + ["annotation"] * 190 + ["diversity"] * 40
    for rid, kind in enumerate(kinds, start=1):
        target: dict = {"item_id": rng.choice(item_ids)}
        if kind in ("block", "boost"):
            roll = rng.random()
            if roll < 0.1:
                target = {"item_category": rng.choice(CATEGORIES)}
            elif roll < 0.2:
                target = {"item_attribute": (("brand", rng.choice(BRANDS)),)}
        extra: dict = {}
        if kind == "boost":
            extra["strength"] = rng.uniform(-1, 1)
        elif kind == "pin":
            extra["position"] = rng.randint(1, 12)
        elif kind == "annotation":
            extra["label"] = "Staff pick"
        elif kind == "diversity":
            target = {}
            if rng.random() < 0.5:
                extra["max_per_category"] = rng.randint(2, 4)
            else:
                extra["max_per_attribute"] = (("brand", rng.randint(2, 4)),)
        if kind in ("pin", "boost", "annotation") and rng.random() < 0.2:
            extra["holdout_share"] = 0.1
        if rng.random() < 0.1:
            extra["starts_at"] = now - timedelta(days=1)
            extra["ends_at"] = now + timedelta(days=rng.choice([-0.5, 1, 2]))
        if rng.random() < 0.1:
            extra["segment"] = rng.choice(["new", "returning"])
        rule_list.append(rules.Rule(id=rid, kind=kind, placement=rng.choice(PLACEMENTS), priority=rng.randint(0, 3),
                                 created_at=now - timedelta(minutes=rid), **target, **extra))
    return rule_list


def timeit(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def fmt(samples: list[float]) -> str:
    s = sorted(samples)
    return (f"p50 {statistics.median(s) * 1e6:8.1f} us   mean {statistics.fmean(s) * 1e6:8.1f} us   "
            f"p99 {s[int(len(s) * 0.99) - 1] * 1e6:8.1f} us")


def part_engine() -> None:
    from curation import rules

    rng = random.Random(1)
    now = datetime.now(UTC)
    catalog = {f"sku-{i}": rules.ItemInfo(f"sku-{i}", rng.choice(CATEGORIES), {"brand": rng.choice(BRANDS)})
               for i in range(N_CATALOG)}
    item_ids = list(catalog)
    rule_list = make_rules(rng, item_ids, now, rules)
    start = time.perf_counter()
    ruleset = rules.RuleSet(rule_list)
    ruleset.bucket("home")  # the per-placement index, built on first use
    build = time.perf_counter() - start
    lists = [[rules.Candidate(i, 1.0 - k / N_CANDIDATES) for k, i in enumerate(rng.sample(item_ids, N_CANDIDATES))]
             for _ in range(200)]
    ctx = rules.Context("personal", now, placement="home", user_id="u1", is_new_shopper=False,
                         seen=frozenset(rng.sample(item_ids, 50)))
    info = catalog.get
    empty = rules.RuleSet()
    it = iter(range(10**9))

    def bare():
        cands = lists[next(it) % 200]
        return cands[:LIMIT]

    def with_rules(rs):
        def call():
            return rules.apply(lists[next(it) % 200], ctx, rs, limit=LIMIT, item_info=info)
        return call

    n = 3000
    for fn in (bare, with_rules(empty), with_rules(ruleset)):  # warm up
        timeit(fn, 200)
    t_bare = timeit(bare, n)
    t0 = timeit(with_rules(empty), n)
    t1 = timeit(with_rules(ruleset), n)
    fired = sum(bool(i.trace["rules"]) for c in lists for i in
                rules.apply(c, ctx, ruleset, limit=LIMIT, item_info=info))
    print(f"[engine] catalog {N_CATALOG:,} items, {N_CANDIDATES} candidates/list, limit {LIMIT}, "
          f"placement home, {n:,} calls each")
    print(f"[engine] rules: {len(rule_list):,} ({sum(r.kind == 'block' for r in rule_list)} blocks, "
          f"{sum(r.kind == 'boost' for r in rule_list)} boosts, {sum(r.kind == 'pin' for r in rule_list)} pins, "
          f"{sum(r.kind == 'annotation' for r in rule_list)} annotations); RuleSet built in {build * 1e3:.2f} ms "
          f"(once per rules-stamp change); {fired} of {200 * LIMIT} listed items touched by a rule")
    print(f"[engine] bare cut (floor)    {fmt(t_bare)}")
    print(f"[engine] apply, 0 rules      {fmt(t0)}")
    print(f"[engine] apply, 1,000 rules  {fmt(t1)}")
    print(f"[engine] 1,000 rules add {(statistics.median(t1) - statistics.median(t0)) * 1e3:.3f} ms to the p50 "
          f"(ratio {statistics.median(t1) / statistics.median(t0):.2f}x of the 0-rule engine)")


def part_requests() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-curation-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp / 'bench.sqlite3'}")
    os.environ["MODEL_DIR"] = str(tmp / "models")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-curation-" + "x" * 40)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from curation import live_rules
    from curation.models import Rule
    from curation.services import rules_stamp_bump
    from recsys.models import Event, Item, Shopper
    from recsys.serving.lists import PERSONAL, ListRequest, serve_lists
    from tests.serving_world import train_and_activate

    call_command("migrate", verbosity=0)
    Rule.objects.all().delete()
    Event.objects.all().delete()
    Shopper.objects.all().delete()
    Item.objects.all().delete()
    rng = random.Random(2)
    n_items, n_shoppers = 3_000, 2_000
    Item.objects.bulk_create([Item(item_id=f"sku-{i}", title=f"Item {i}", category=rng.choice(CATEGORIES),
                                   attributes={"brand": rng.choice(BRANDS)}) for i in range(n_items)],
                             batch_size=2000)
    Shopper.objects.bulk_create([Shopper(user_id=f"u{u}") for u in range(n_shoppers)], batch_size=2000)
    items = {i.item_id: i for i in Item.objects.all()}
    shoppers = list(Shopper.objects.all())
    weights = [1 / (k + 1) ** 0.8 for k in range(n_items)]
    item_list = list(items.values())
    now = timezone.now()
    events = []
    for s in shoppers:
        for k, item in enumerate(rng.choices(item_list, weights=weights, k=10)):
            events.append(Event(event_id=f"{s.user_id}-{k}", shopper=s, item=item, type="view",
                                timestamp=now - timedelta(hours=k)))
    Event.objects.bulk_create(events, batch_size=5000)
    start = time.perf_counter()
    train_and_activate(Path(os.environ["MODEL_DIR"]))
    print(f"[requests] {connection.vendor}: {n_items:,} items, {n_shoppers:,} shoppers, {len(events):,} events; "
          f"ALS trained in {time.perf_counter() - start:.1f} s")

    from curation import rules

    engine_rules = make_rules(random.Random(3), list(items), now, rules)
    db_rules = []
    for r in engine_rules:
        db_rules.append(Rule(kind=r.kind, item_id=r.item_id or None, item_category=r.item_category,
                             item_attribute=dict(r.item_attribute) or None, position=r.position or None,
                             strength=r.strength if r.kind == "boost" else None, label=r.label,
                             max_per_category=r.max_per_category or None,
                             max_per_attribute=dict(r.max_per_attribute) or None, holdout_share=r.holdout_share,
                             placement=r.placement, segment=r.segment, starts_at=r.starts_at, ends_at=r.ends_at,
                             priority=r.priority))
    users = [s.user_id for s in shoppers]

    def request():
        serve_lists([ListRequest(PERSONAL, LIMIT, "home", "", rng.choice(users))])

    def phase(n: int) -> list[float]:
        return timeit(request, n)

    # Time the engine call inside each request too (same calls, wrapped).
    engine_times: list[float] = []
    real_apply = rules.apply

    def timed_apply(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real_apply(*args, **kwargs)
        finally:
            engine_times.append(time.perf_counter() - start)

    rules.apply = timed_apply
    for _ in range(50):
        request()  # warm caches (model mmap, cards)
    with_none, with_rules = [], []
    engine_none: list[float] = []
    engine_rules_t: list[float] = []
    for _ in range(5):
        Rule.objects.all().delete()
        rules_stamp_bump()
        live_rules.invalidate()
        assert len(live_rules.current_rules()) == 0
        engine_times.clear()
        with_none += phase(100)
        engine_none += engine_times
        engine_times.clear()
        Rule.objects.bulk_create(db_rules)
        rules_stamp_bump()
        live_rules.invalidate()
        expired = sum(1 for r in engine_rules if r.ends_at and r.ends_at < now)
        assert len(live_rules.current_rules()) == N_RULES - expired
        with_rules += phase(100)
        engine_rules_t += engine_times
    if "--profile" in sys.argv:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(phase, 200)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    p0, p1 = statistics.median(with_none), statistics.median(with_rules)
    print(f"[requests] personal list, limit {LIMIT}, placement home, {len(with_none)} requests each, "
          "interleaved blocks of 100, in process (serve_lists)")
    print(f"[requests] 0 rules       {fmt(with_none)}")
    print(f"[requests] 1,000 rules   {fmt(with_rules)}")
    print(f"[requests] engine inside those requests: 0 rules {fmt(engine_none)}")
    print(f"[requests] engine inside those requests: 1,000 rules {fmt(engine_rules_t)}")
    print(f"[requests] curation with 1,000 rules adds {(p1 - p0) * 1e3:.3f} ms to the p50 "
          f"({p0 * 1e3:.2f} ms -> {p1 * 1e3:.2f} ms)")


if __name__ == "__main__":
    print(f"load average: {os.getloadavg()}")
    part_engine()
    if "--engine-only" not in sys.argv:  # part 1 alone: the pure engine, no database
        part_requests()
