"""The engine's diversity caps and per-rule holdouts (curation.rules, pure: no database)."""
from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from curation.rules import (
    BLOCK,
    DIVERSITY,
    HOLDOUT_KINDS,
    Candidate,
    Context,
    ItemInfo,
    Rule,
    RuleSet,
    apply,
    curate,
    in_holdout,
)

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
# i1..i40: categories cycle a, a, a, b, c (so "a" bunches at the top); brands cycle X, Y.
CATEGORY = {1: "a", 2: "a", 3: "a", 4: "b", 0: "c"}
CATALOG = {
    f"i{n}": ItemInfo(f"i{n}", category=CATEGORY[n % 5] if n % 5 else "c",
                      attributes={"brand": "X" if n % 2 else "Y"},
                      created_at=NOW - timedelta(days=1 if n in (30, 35) else 400))
    for n in range(1, 41)
}
_ids = iter(range(1, 1_000_000))


def rule(kind, **kw):
    kw.setdefault("id", next(_ids))
    return Rule(kind=kind, **kw)


def cands(n=40):
    return [Candidate(f"i{k}", score=1.0 - k / 100) for k in range(1, n + 1)]


def ctx(**kw):
    kw.setdefault("list_type", "personal")
    kw.setdefault("now", NOW)
    return Context(**kw)


def run(rules, limit=6, **ckw):
    return apply(cands(), ctx(**ckw), rules, limit=limit, item_info=CATALOG.get)


def cats(items):
    return Counter(CATALOG[i.item_id].category for i in items)


def test_category_cap_lets_the_next_candidates_fill_the_freed_places():
    plain = run([])
    assert cats(plain)["a"] == 3 + 1  # i1, i2, i3, i6: "a" bunches at the top
    out = run([rule(DIVERSITY, max_per_category=2)])
    assert len(out) == 6 and max(cats(out).values()) <= 2
    assert [i.item_id for i in out][:2] == ["i1", "i2"]  # the first two "a" items keep their places
    assert "i3" not in {i.item_id for i in out}


def test_attribute_cap_and_the_tightest_rule_wins():
    out = run([rule(DIVERSITY, max_per_attribute=(("brand", 3),)), rule(DIVERSITY, max_per_attribute=(("brand", 2),))])
    brands = Counter(CATALOG[i.item_id].attributes["brand"] for i in out)
    assert max(brands.values()) <= 2 and len(out) == 4  # two brands x 2: the list cannot be longer


def test_pins_count_toward_the_cap_and_are_never_removed():
    pins = [rule("pin", item_id="i11", position=1), rule("pin", item_id="i13", position=2)]  # both category "a"
    out = run(pins + [rule(DIVERSITY, max_per_category=2)])
    got = [i.item_id for i in out]
    assert got[:2] == ["i11", "i13"] and cats(out)["a"] == 2  # no other "a" item fits next to the pins
    out = run(pins + [rule(DIVERSITY, max_per_category=1)])
    assert [i.item_id for i in out][:2] == ["i11", "i13"]  # over the cap, but pins stay


def test_boosts_run_before_the_cap():
    boost = rule("boost", item_id="i8", strength=1.0)  # "a"... i8 is category "a" (8 % 5 == 3)
    out = run([boost, rule(DIVERSITY, max_per_category=2)])
    got = [i.item_id for i in out]
    assert got[0] == "i8" and cats(out)["a"] == 2 and "i2" not in got  # i8 took one of the two "a" places


def test_blocks_still_apply_and_refill_keeps_the_length():
    out = run([rule(BLOCK, item_category="b"), rule(DIVERSITY, max_per_category=2)], limit=4)
    assert len(out) == 4 and "b" not in cats(out) and max(cats(out).values()) <= 2


def test_preview_reports_what_the_cap_moved():
    result = curate(cands(), ctx(), [rule(DIVERSITY, max_per_category=2, id=77)], limit=6, item_info=CATALOG.get)
    capped = [r for r in result.removed if r.reason == "diversity"]
    assert [r.item_id for r in capped][:1] == ["i3"] and capped[0].rule["id"] == 77
    moved = [i for i in result.items if any(f["id"] == 77 for f in i.trace["rules"])]
    assert moved and all(i.rule_ids == () for i in moved)  # diversity is no exposure to measure


def test_room_for_new_items_where_candidates_allow():
    out = run([rule(DIVERSITY, max_per_category=3, min_new_items=2, new_item_days=7)])
    got = [i.item_id for i in out]
    assert {"i30", "i35"} <= set(got) and len(got) == 6
    out = run([rule(DIVERSITY, max_per_category=3, min_new_items=5, new_item_days=7)])
    assert {"i30", "i35"} <= {i.item_id for i in out}  # only two new items exist: no more than that


def test_a_new_item_window_past_the_calendar_is_a_century():
    """A rule stored before the API capped new_item_days (found by schemathesis: a 500 on every list)."""
    out = run([rule(DIVERSITY, max_per_category=3, min_new_items=2, new_item_days=6_824_314_660_089)])
    assert len(out) == 6  # every item is new: nothing to make room for, and no OverflowError


@pytest.mark.parametrize("list_type", ["personal", "similar", "basket", "popular", "batch"])
def test_every_list_type_obeys_the_cap(list_type):
    out = run([rule(DIVERSITY, max_per_category=1)], list_type=list_type)
    assert max(cats(out).values()) == 1


def test_scope_of_a_diversity_rule():
    capped = rule(DIVERSITY, max_per_category=1, placement="home")
    assert max(cats(run(RuleSet([capped]), placement="home")).values()) == 1
    assert max(cats(run(RuleSet([capped]), placement="cart")).values()) > 1


# --- holdouts ------------------------------------------------------------------------------
def test_holdout_assignment_is_stable_near_its_share_and_independent_across_rules():
    users = [f"u{n}" for n in range(10_000)]
    a = {u for u in users if in_holdout(1, u, 0.2)}
    b = {u for u in users if in_holdout(2, u, 0.2)}
    assert abs(len(a) / 10_000 - 0.2) < 0.015 and abs(len(b) / 10_000 - 0.2) < 0.015
    assert a == {u for u in users if in_holdout(1, u, 0.2)}  # stable
    assert abs(len(a & b) / 10_000 - 0.04) < 0.01  # independent: about 0.2 x 0.2 in both
    assert not any(in_holdout(1, u, 0.0) for u in users[:100]) and not in_holdout(1, "", 0.5)


@pytest.mark.parametrize("chunk", range(2))
def test_the_rules_drawn_on_demand_serve_what_the_rules_left_after_every_draw_serve(chunk):
    # The engine draws a rule's holdout only when the rule can touch the list; the plain definition
    # draws every rule, drops those the shopper is held out of and serves the rest to everyone.
    from dataclasses import replace

    checked = 0
    for seed in range(chunk * 1500, (chunk + 1) * 1500):
        cands, rules, seen, limit, catalog = _random_case(seed)
        for key in ("u1", "u2"):
            lazy = curate(cands, ctx(user_id=key, holdout_key=key, seen=seen), RuleSet(rules), limit=limit,
                          item_info=catalog.get, report=False)
            held = {r.id for r in rules if in_holdout(r.id, key, r.holdout_share) and r.kind in ("pin", "boost",
                                                                                                  "annotation")}
            rest = [replace(r, holdout_share=0.0) for r in rules if r.id not in held]
            plain = curate(cands, ctx(user_id=key, seen=seen), RuleSet(rest), limit=limit, item_info=catalog.get,
                           report=False)
            assert [(i.item_id, i.source, i.annotations) for i in lazy.items] == \
                [(i.item_id, i.source, i.annotations) for i in plain.items], (seed, key)
            assert set(lazy.held_out) <= held  # only rules that can touch the list are drawn
            checked += bool(held)
    assert checked > 500


def _held_user(rule_id, share, *, inside=True):
    return next(f"u{n}" for n in range(10_000) if in_holdout(rule_id, f"u{n}", share) == inside)


def test_a_held_out_shopper_is_served_without_the_rule_and_it_says_where():
    pin = rule("pin", item_id="i20", position=2, holdout_share=0.5, id=501)
    held, exposed = _held_user(501, 0.5), _held_user(501, 0.5, inside=False)
    on = curate(cands(), ctx(user_id=exposed, holdout_key=exposed), [pin], limit=5, item_info=CATALOG.get,
                report=False)
    off = curate(cands(), ctx(user_id=held, holdout_key=held), [pin], limit=5, item_info=CATALOG.get, report=False)
    assert on.items[1].item_id == "i20" and on.items[1].rule_ids == (501,) and on.held_out == ()
    assert "i20" not in {i.item_id for i in off.items} and off.held_out == (501,)
    assert [i.holdout_rule_ids for i in off.items] == [(), (501,), (), (), ()]  # what was shown there instead


def test_boost_and_annotation_holdouts_mark_the_positions_the_rule_would_have_filled():
    boost = rule("boost", item_id="i9", strength=1.0, holdout_share=0.5, id=601)
    label = rule("annotation", item_id="i2", label="Staff pick", holdout_share=0.5, id=602)
    user = next(f"u{n}" for n in range(10_000) if in_holdout(601, f"u{n}", 0.5) and in_holdout(602, f"u{n}", 0.5))
    out = curate(cands(), ctx(user_id=user, holdout_key=user), [boost, label], limit=5, item_info=CATALOG.get,
                 report=False)
    assert out.held_out == (601, 602)
    assert out.items[0].item_id == "i1" and out.items[0].holdout_rule_ids == (601,)  # i9 would be first
    assert out.items[0].annotations == [] and any(602 in i.holdout_rule_ids for i in out.items)


def test_blocks_and_diversity_never_have_a_holdout():
    block = rule(BLOCK, item_id="i1", holdout_share=0.5)
    cap = rule(DIVERSITY, max_per_category=1, holdout_share=0.5)
    for n in range(50):
        out = curate(cands(), ctx(user_id=f"u{n}", holdout_key=f"u{n}"), [block, cap], limit=5,
                     item_info=CATALOG.get, report=False)
        assert out.held_out == () and "i1" not in {i.item_id for i in out.items}
        assert max(cats(out.items).values()) == 1


def test_anonymous_requests_draw_per_request_key():
    pin = rule("pin", item_id="i20", position=1, holdout_share=0.5, id=701)
    shown = [curate(cands(), ctx(holdout_key=f"req-{n}"), [pin], limit=3, item_info=CATALOG.get,
                    report=False).items[0].item_id == "i20" for n in range(400)]
    assert 0.4 < sum(shown) / 400 < 0.6
    assert curate(cands(), ctx(), [pin], limit=3, item_info=CATALOG.get).items[0].item_id == "i20"  # no key


def test_held_pin_positions_from_the_pins_alone_agree_with_the_full_engine():
    """Where held pins would have landed against a full run with nobody held out."""
    import random
    from dataclasses import replace

    rng = random.Random(11)
    for trial in range(3000):
        pins = [rule("pin", item_id=f"i{rng.randint(1, 40)}", position=rng.randint(1, 6), holdout_share=0.5,
                     priority=rng.randint(0, 2)) for _ in range(rng.randint(1, 5))]
        extra = [rule(BLOCK, item_id=f"i{rng.randint(1, 40)}")] if rng.random() < 0.5 else []
        if rng.random() < 0.5:
            extra.append(rule(DIVERSITY, max_per_category=rng.randint(1, 3)))
        if rng.random() < 0.3:
            extra.append(rule(DIVERSITY, max_per_attribute=(("brand", rng.randint(1, 3)),)))
        key = f"u{trial}"
        held = curate(cands(), ctx(user_id=key, holdout_key=key), pins + extra, limit=6, item_info=CATALOG.get,
                      report=False)
        everyone = [replace(p, holdout_share=0.0) for p in pins]
        full = curate(cands(), ctx(user_id=key), everyone + extra, limit=6, item_info=CATALOG.get, report=False)
        want = {}
        for item in full.items:
            for ref in item.trace["rules"]:
                if ref["id"] in held.held_out:
                    want.setdefault(ref["id"], set()).add(item.rank)
        got = {}
        for item in held.items:
            for rule_id in item.holdout_rule_ids:
                got.setdefault(rule_id, set()).add(item.rank)
        assert got == {k: v for k, v in want.items() if min(v) <= len(held.items)}, trial


def _random_case(seed):
    r = random.Random(seed)
    n = r.randint(3, 15)
    catalog = {f"i{k}": ItemInfo(f"i{k}", category=r.choice("abc"), attributes={"brand": r.choice("XYZ")},
                                 available=r.random() > 0.1, created_at=NOW - timedelta(days=r.choice([1, 400])))
               for k in range(1, n + 1)}
    rules = []
    for rid in range(1, r.randint(2, 7)):
        kind = r.choice(["pin", "boost", "annotation", "block", "diversity", "pin", "boost"])
        kw = {"id": rid, "kind": kind, "priority": r.randint(0, 2)}
        if kind in ("pin", "annotation"):
            kw["item_id"] = f"i{r.randint(1, n + 2)}"
        if kind == "pin":
            kw["position"] = r.randint(1, 6)
        if kind == "annotation":
            kw["label"] = r.choice(["L1", "L2"])
        if kind in ("boost", "block"):
            t = r.random()
            if t < 0.4:
                kw["item_id"] = f"i{r.randint(1, n)}"
            elif t < 0.7:
                kw["item_category"] = r.choice("abc")
            else:
                kw["item_attribute"] = (("brand", r.choice("XYZ")),)
        if kind == "boost":
            kw["strength"] = r.choice([0.5, -0.5, 1.0, 0.3])
        if kind == "diversity":
            kw["max_per_category"] = r.choice([1, 2])
            if r.random() < 0.5:
                kw["max_per_attribute"] = (("brand", r.choice([1, 2])),)
        if kind in ("pin", "boost", "annotation") and r.random() < 0.7:
            kw["holdout_share"] = r.choice([0.5, 1.0])
        rules.append(Rule(**kw))
    order = list(catalog)
    r.shuffle(order)
    cands = [Candidate(i, score=1.0 - j / 100) for j, i in enumerate(order[:r.randint(1, len(order))])]
    seen = frozenset(r.sample(order, r.randint(0, 2)))
    return cands, rules, seen, r.randint(1, 7), catalog


@pytest.mark.parametrize("chunk", range(4))
def test_holdout_positions_are_where_the_full_engine_puts_the_held_rules(chunk):
    # The engine's shortcuts (labels where their items are, one filter pass for both arrangements) against the
    # plain definition: a held rule's holdout positions are the ranks it touches when nobody is held out.
    checked = 0
    for seed in range(chunk * 1500, (chunk + 1) * 1500):
        cands, rules, seen, limit, catalog = _random_case(seed)
        for key in ("u1", "u2", "u3"):
            agree, any_held = _holdout_positions_agree(cands, rules, seen, limit, catalog, key)
            assert agree, (seed, key)
            checked += any_held
    assert checked > 300


def _pinned_case(seed):
    """A list the pins may fill: `limit` pins or more (some on unavailable, blocked or seen items, some
    losing a conflict), many candidates, and boosts, labels and caps with holdouts on them."""
    r = random.Random(seed)
    n = r.randint(8, 30)
    catalog = {f"i{k}": ItemInfo(f"i{k}", category=r.choice("abc"), attributes={"brand": r.choice("XYZ")},
                                 available=r.random() > 0.1, created_at=NOW - timedelta(days=r.choice([1, 400])))
               for k in range(1, n + 1)}
    limit = r.randint(1, 6)
    rules, rid = [], iter(range(1, 1000))
    for _ in range(limit + r.randint(0, 3)):
        rules.append(Rule(id=next(rid), kind="pin", item_id=f"i{r.randint(1, min(n, 3 * limit) + 2)}",
                          priority=r.randint(0, 3),
                          position=r.randint(1, limit + 1), holdout_share=r.choice([0.0, 0.5, 1.0])))
    for _ in range(r.randint(0, 6)):
        kind = r.choice(["boost", "annotation", "block", "diversity"])
        kw = {"id": next(rid), "kind": kind, "priority": r.randint(0, 2)}
        t = r.random()
        if kind == "annotation" and t < 0.5:  # on a pinned item (a label that lands with its pin)
            kw["item_id"] = r.choice([p for p in rules if p.kind == "pin"]).item_id
        elif kind == "annotation" or t < 0.5:
            kw["item_id"] = f"i{r.randint(1, n)}"
        elif t < 0.8:
            kw["item_category"] = r.choice("abc")
        else:
            kw["item_attribute"] = (("brand", r.choice("XYZ")),)
        if kind == "boost":
            kw["strength"] = r.choice([0.5, -0.5, 1.0])
        if kind == "annotation":
            kw["label"] = r.choice(["L1", "L2"])
        if kind == "diversity":
            kw = {"id": kw["id"], "kind": kind, "max_per_category": r.choice([1, 2]),
                  "min_new_items": r.choice([0, 1]), "new_item_days": 7}
        if kind in ("boost", "annotation") and r.random() < 0.6:
            kw["holdout_share"] = r.choice([0.5, 1.0])
        rules.append(Rule(**kw))
    order = list(catalog)
    r.shuffle(order)
    cands = [Candidate(i, score=1.0 - j / 100) for j, i in enumerate(order[:r.randint(limit, len(order))])]
    return cands, rules, frozenset(r.sample(order, r.randint(0, 3))), limit, catalog


def _holdout_positions_agree(cands, rules, seen, limit, catalog, key):
    """A held rule's holdout positions are the ranks it touches when nobody is held out (on the ranks the
    held list reaches)."""
    held_run = curate(cands, ctx(user_id=key, holdout_key=key, seen=seen), RuleSet(rules), limit=limit,
                      item_info=catalog.get, report=False)
    # Every rule the shopper is held out of (the engine draws only those that can touch the list).
    held = {r.id for r in rules if r.kind in HOLDOUT_KINDS and in_holdout(r.id, key, r.holdout_share)}
    assert set(held_run.held_out) <= held
    full = curate(cands, ctx(user_id=key, holdout_key="", seen=seen), RuleSet(rules), limit=limit,
                  item_info=catalog.get, report=False)
    shown = set(range(1, len(held_run.items) + 1))  # a position the held list does not reach has no impression
    expected = {}
    for item in full.items:
        for rule_id in held & set(item.rule_ids):
            if item.rank in shown:
                expected.setdefault(rule_id, set()).add(item.rank)
    got = {}
    for item in held_run.items:
        for rule_id in item.holdout_rule_ids:
            got.setdefault(rule_id, set()).add(item.rank)
    return got == expected, bool(held)


def test_a_held_label_on_a_pinned_item_that_lands_only_with_the_held_pins_back():
    # Held pin H on `a` at #1 outranks A (also `a`, at #2): without H, A and C fill the list and Q never lands;
    # with H back, A is a duplicate and Q lands at #2, so Q's item's held label would have been there.
    catalog = {i: ItemInfo(i, category="a") for i in ("a", "q", "c", "x", "y1", "y2")}
    rules = [Rule(id=1, kind="pin", item_id="a", position=1, priority=3, holdout_share=1.0),
             Rule(id=2, kind="pin", item_id="a", position=2, priority=2),
             Rule(id=3, kind="pin", item_id="q", position=2, priority=1),
             Rule(id=4, kind="pin", item_id="c", position=1, priority=0),
             Rule(id=5, kind="annotation", item_id="q", label="L", holdout_share=1.0),
             Rule(id=6, kind="annotation", item_id="x", label="X", holdout_share=1.0)]
    cands = [Candidate(i, score=1.0 - k / 10) for k, i in enumerate(("y1", "y2", "x"))]
    out = curate(cands, ctx(user_id="u", holdout_key="u"), RuleSet(rules), limit=2, item_info=catalog.get,
                 report=False)
    assert [i.item_id for i in out.items] == ["c", "a"]
    assert [i.holdout_rule_ids for i in out.items] == [(1,), (5,)]
    assert _holdout_positions_agree(cands, rules, frozenset(), 2, catalog, "u")[0]


def _duplicate_pins_case(seed):
    """Pins on a few items, so a held pin that comes back turns another pin of its item into a duplicate
    and lets a third land; held labels on pinned items that are no candidates."""
    r = random.Random(seed)
    limit = r.randint(1, 4)
    items = [f"p{k}" for k in range(limit + 2)]
    catalog = {i: ItemInfo(i, category="a") for i in items + [f"c{k}" for k in range(8)]}
    rid = iter(range(1, 1000))
    rules = [Rule(id=next(rid), kind="pin", item_id=r.choice(items), position=r.randint(1, limit),
                  priority=r.randint(0, 3), holdout_share=r.choice([0.0, 0.0, 1.0])) for _ in range(limit + 3)]
    rules += [Rule(id=next(rid), kind="annotation", item_id=r.choice(items), label=r.choice(["L1", "L2"]),
                   holdout_share=r.choice([0.0, 1.0])) for _ in range(r.randint(1, 3))]
    cands = [Candidate(f"c{k}", score=1.0 - k / 10) for k in range(8)]
    return cands, rules, frozenset(), limit, catalog


def _pin_heavy_case(seed):
    return (_pinned_case if seed % 2 else _duplicate_pins_case)(seed)


@pytest.mark.parametrize("chunk", range(2))
def test_holdout_positions_of_pin_heavy_lists_are_where_the_full_engine_puts_the_held_rules(chunk):
    checked = 0
    for seed in range(chunk * 2000, (chunk + 1) * 2000):
        cands, rules, seen, limit, catalog = _pin_heavy_case(seed)
        for key in ("u1", "u2"):
            agree, any_held = _holdout_positions_agree(cands, rules, seen, limit, catalog, key)
            assert agree, (seed, key)
            checked += any_held
    assert checked > 1000
