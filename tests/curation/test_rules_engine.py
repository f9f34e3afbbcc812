"""The pure rule engine (curation.rules): no database, every rule type, scope and conflict."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from curation.rules import (
    ACTIONS,
    Candidate,
    Context,
    ItemInfo,
    Rule,
    RuleSet,
    apply,
    curate,
)

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
CATALOG = {
    f"i{n}": ItemInfo(f"i{n}", category="shoes" if n % 2 else "hats",
                      attributes={"brand": "Acme" if n % 3 == 0 else "Zed"})
    for n in range(1, 41)
}


def info(item_id):
    return CATALOG.get(item_id)


def cands(n=10, start=1):
    return [Candidate(f"i{k}", score=1.0 - k / 100) for k in range(start, start + n)]


def ctx(**kw):
    kw.setdefault("list_type", "personal")
    kw.setdefault("now", NOW)
    return Context(**kw)


def ids(items):
    return [i.item_id for i in items]


_next_id = iter(range(1, 10_000_000))


def rule(kind, **kw):
    kw.setdefault("id", next(_next_id))
    return Rule(kind=kind, **kw)


def run(rules=(), n=10, limit=5, **ckw):
    return apply(cands(n), ctx(**ckw), rules, limit=limit, item_info=info)


# --- filters ---------------------------------------------------------------------------
def test_no_rules_keeps_algorithm_order_and_cuts_to_limit():
    out = run()
    assert ids(out) == ["i1", "i2", "i3", "i4", "i5"]
    assert [i.rank for i in out] == [1, 2, 3, 4, 5]
    assert all(i.source == "model" and i.trace["rules"] == [] for i in out)
    assert out[2].trace == {"algorithm_rank": 3, "algorithm_score": pytest.approx(0.97), "rules": [], "final_rank": 3}


def test_filters_unavailable_unknown_seen_excluded_category_and_refills():
    CATALOG["i2"] = ItemInfo("i2", category="hats", available=False)
    try:
        candidates = cands(10) + [Candidate("ghost", 0.1)]
        res = curate(candidates, ctx(seen=frozenset({"i3"}), excluded=frozenset({"i5"})), (), limit=4,
                     item_info=info)
        assert ids(res.items) == ["i1", "i4", "i6", "i7"]
        reasons = {r.item_id: r.reason for r in res.removed}
        assert reasons["i2"] == "unavailable" and reasons["i3"] == "seen" and reasons["i5"] == "excluded"
        out = apply(cands(10), ctx(category="hats"), (), limit=3, item_info=info)
        assert ids(out) == ["i2", "i4", "i6"][1:] + ["i8"]  # i2 is unavailable: refilled from further down
        out = apply(cands(10), ctx(seen=frozenset({"i1"}), include_seen=True), (), limit=2, item_info=info)
        assert ids(out) == ["i1", "i3"]
    finally:
        CATALOG["i2"] = ItemInfo("i2", category="hats", attributes={"brand": "Zed"})


# --- blocks ----------------------------------------------------------------------------
def test_block_by_item_category_and_attribute():
    assert ids(run([rule("block", item_id="i1")])) == ["i2", "i3", "i4", "i5", "i6"]
    assert ids(run([rule("block", item_category="shoes")])) == ["i2", "i4", "i6", "i8", "i10"]
    assert ids(run([rule("block", item_attribute=(("brand", "Acme"),))])) == ["i1", "i2", "i4", "i5", "i7"]
    res = curate(cands(10), ctx(), [rule("block", id=77, name="No i1", item_id="i1")], limit=5, item_info=info)
    blocked = [r for r in res.removed if r.reason == "blocked"]
    assert blocked[0].item_id == "i1" and blocked[0].rule == {"id": 77, "type": "block", "name": "No i1",
                                                              "effect": "blocked", "action": "blocked"}


def test_block_beats_pin_and_unavailable_pin_is_skipped_with_warning():
    out = run([rule("pin", item_id="i9", position=1), rule("block", item_id="i9")])
    assert "i9" not in ids(out) and ids(out)[0] == "i1"
    out = run([rule("pin", item_id="i9", position=1), rule("block", item_category="shoes")])
    assert "i9" not in ids(out)
    CATALOG["i30"] = ItemInfo("i30", available=False)
    try:
        res = curate(cands(10), ctx(), [rule("pin", item_id="i30", position=2)], limit=5, item_info=info)
        assert "i30" not in ids(res.items)
        assert any("unavailable" in w for w in res.warnings)
        assert any(r.reason == "pin_unavailable" for r in res.removed)
    finally:
        CATALOG["i30"] = ItemInfo("i30", category="hats")


# --- pins ------------------------------------------------------------------------------
def test_pin_moves_candidate_to_its_position():
    out = run([rule("pin", id=5, item_id="i8", position=2)])
    assert ids(out) == ["i1", "i8", "i2", "i3", "i4"]
    pinned = out[1]
    assert pinned.source == "pinned"
    assert pinned.reasons[0]["type"] == "curated"
    assert pinned.trace["algorithm_rank"] == 8 and pinned.trace["final_rank"] == 2
    assert pinned.trace["rules"] == [{"id": 5, "type": "pin", "name": "Pin i8 at #2", "effect": "pinned at #2",
                                    "action": "pinned"}]


def test_pin_of_item_outside_the_candidates_is_inserted():
    out = run([rule("pin", item_id="i33", position=1)])
    assert ids(out) == ["i33", "i1", "i2", "i3", "i4"]
    assert out[0].trace["algorithm_rank"] is None and out[0].source == "pinned"


def test_pin_survives_seen_but_not_excluded():
    out = run([rule("pin", item_id="i3", position=1)], seen=frozenset({"i3", "i33"}))
    assert ids(out)[0] == "i3"
    out = run([rule("pin", item_id="i33", position=1)], seen=frozenset({"i33"}))
    assert ids(out)[0] == "i33"
    out = run([rule("pin", item_id="i3", position=1)], excluded=frozenset({"i3"}))
    assert "i3" not in ids(out)


def test_pin_conflict_priority_then_newer_loser_takes_next_free_position():
    older = NOW - timedelta(days=2)
    newer = NOW - timedelta(days=1)
    rules = [
        rule("pin", item_id="i20", position=2, priority=0, created_at=newer),
        rule("pin", item_id="i21", position=2, priority=5, created_at=older),
        rule("pin", item_id="i22", position=3, priority=0, created_at=older),
    ]
    res = curate(cands(10), ctx(), rules, limit=6, item_info=info)
    assert ids(res.items) == ["i1", "i21", "i22", "i20", "i2", "i3"]
    assert any("conflicts" in w for w in res.warnings)
    # Same priority: the newer rule wins.
    rules = [rule("pin", item_id="i20", position=1, created_at=older),
             rule("pin", item_id="i21", position=1, created_at=newer)]
    assert ids(run(rules, limit=3)) == ["i21", "i20", "i1"]
    assert "lost the conflict" in run(rules, limit=3)[1].trace["rules"][0]["effect"]


def test_pin_beyond_the_list_and_short_lists_close_the_gap():
    assert "i20" not in ids(run([rule("pin", item_id="i20", position=9)], limit=5))
    out = apply(cands(2), ctx(), [rule("pin", item_id="i20", position=8)], limit=10, item_info=info)
    assert ids(out) == ["i1", "i2", "i20"] and out[2].rank == 3


# --- boosts ----------------------------------------------------------------------------
@pytest.mark.parametrize("target", [{"item_id": "i10"}, {"item_attribute": (("brand", "Zed"), )}])
def test_boost_full_strength_goes_ahead_of_every_unboosted_candidate(target):
    out = run([rule("boost", strength=1.0, **target)], n=10, limit=10)
    boosted = [i for i in out if i.source == "boosted"]
    assert boosted and ids(out)[: len(boosted)] == ids(boosted)


def test_boost_ends_and_monotonic_between():
    n = 20
    top = apply(cands(n), ctx(), [rule("boost", item_id="i20", strength=1.0)], limit=n, item_info=info)
    assert ids(top)[0] == "i20"
    bottom = apply(cands(n), ctx(), [rule("boost", item_id="i1", strength=-1.0)], limit=n, item_info=info)
    assert ids(bottom)[-1] == "i1"
    # -1 behind every unboosted even when the item was first; +1 ahead even when last.
    positions = []
    for s in [-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0]:
        out = apply(cands(n), ctx(), [rule("boost", item_id="i10", strength=s)], limit=n, item_info=info)
        positions.append(ids(out).index("i10"))
    assert positions == sorted(positions, reverse=True)
    assert positions[0] == n - 1 and positions[-1] == 0
    assert len(set(positions)) > 5  # strength actually grades the effect in between
    out = apply(cands(n), ctx(), [rule("boost", item_id="i10", strength=0.25)], limit=n, item_info=info)
    assert out[ids(out).index("i10")].source == "boosted"


def test_boosts_add_up_and_bury_is_not_a_curated_source():
    out = run([rule("boost", item_id="i5", strength=0.5), rule("boost", item_attribute=(("brand", "Zed"),),
                                                                  strength=0.4)], limit=10)
    assert ids(out)[0] == "i5"  # 0.9 in all: ahead of i1, which has only the brand's 0.4
    assert len(out[0].trace["rules"]) == 2
    out = run([rule("boost", item_id="i1", strength=-0.5)], limit=10)
    buried = out[ids(out).index("i1")]
    assert buried.source == "model" and buried.trace["rules"][0]["effect"] == "buried -0.50"
    assert not any(r["type"] == "curated" for r in buried.reasons)


def test_every_trace_entry_says_what_its_rule_did_as_an_action_beside_the_words():
    rules = [rule("boost", id=1, item_id="i2", strength=0.5), rule("boost", id=2, item_id="i3", strength=-0.5),
             rule("pin", id=3, item_id="i9", position=1), rule("pin", id=4, item_id="i8", position=1),
             rule("annotation", id=5, item_id="i9", label="Staff pick"), rule("block", id=6, item_id="i1"),
             rule("diversity", id=7, max_per_category=2)]
    res = curate(cands(10), ctx(), rules, limit=6, item_info=info)
    actions = {(ref["id"], ref["action"]) for item in res.items for ref in item.trace["rules"]}
    assert {(1, "boosted"), (3, "pinned"), (4, "pinned"), (5, "labelled")} <= actions
    assert all(ref["action"] in ACTIONS for item in res.items for ref in item.trace["rules"])
    # A bury without a cap in the way: the buried item is listed, its trace says "buried" (analytics reads it).
    plain = curate(cands(10), ctx(), [rule("boost", id=2, item_id="i3", strength=-0.5)], limit=10, item_info=info)
    buried = next(item for item in plain.items if item.item_id == "i3")
    assert [(ref["id"], ref["action"]) for ref in buried.trace["rules"]] == [(2, "buried")]
    removed = {(r.rule["id"], r.rule["action"]) for r in res.removed if r.rule}
    assert (6, "blocked") in removed and (7, "capped") in removed
    assert all(r.rule["action"] in ACTIONS for r in res.removed if r.rule)


def test_boost_before_pin_pin_keeps_its_position():
    out = run([rule("boost", item_id="i6", strength=1.0), rule("pin", item_id="i9", position=1)])
    assert ids(out)[:2] == ["i9", "i6"]


# --- annotations -----------------------------------------------------------------------
def test_annotation_label_and_reason():
    out = run([rule("annotation", item_id="i2", label="Staff pick", note="internal")])
    item = out[1]
    assert item.annotations == [{"label": "Staff pick"}]
    assert item.reasons[0] == {"type": "curated", "text": "Staff pick"}
    assert item.source == "model"  # a label alone does not move or add the item
    assert "internal" not in str(item.reasons)
    out = run([rule("annotation", item_id="i20", label="Staff pick"), rule("pin", item_id="i20", position=1)])
    assert out[0].annotations == [{"label": "Staff pick"}] and out[0].reasons[0]["text"] == "Staff pick"


# --- scopes and windows ----------------------------------------------------------------
def test_placement_scope():
    r = rule("pin", item_id="i20", position=1, placement="home")
    assert ids(run([r], placement="home"))[0] == "i20"
    assert "i20" not in ids(run([r], placement="cart"))
    assert "i20" not in ids(run([r]))
    everywhere = rule("block", item_id="i1")
    assert "i1" not in ids(run([everywhere], placement="cart"))


def test_category_scope_only_on_lists_filtered_to_it():
    r = rule("boost", item_id="i9", strength=1.0, category="shoes")
    assert ids(run([r], category="shoes"))[0] == "i9"
    assert ids(run([r]))[0] == "i1"


def test_context_item_scope_for_similar_and_basket_lists():
    r = rule("pin", item_id="i20", position=1, context_item_id="i7")
    assert ids(run([r], list_type="similar", context_item_id="i7"))[0] == "i20"
    assert "i20" not in ids(run([r], list_type="similar", context_item_id="i8"))
    assert ids(run([r], list_type="basket", context_item_ids=frozenset({"i3", "i7"})))[0] == "i20"


def test_segments_new_returning_and_listed_shoppers():
    new = rule("block", item_id="i1", segment="new")
    ret = rule("block", item_id="i2", segment="returning")
    listed = rule("block", item_id="i3", segment="users", segment_user_ids=frozenset({"u9"}))
    both = [new, ret, listed]
    assert ids(run(both, user_id="u1", is_new_shopper=True))[:2] == ["i2", "i3"]
    assert ids(run(both, user_id="u1", is_new_shopper=False))[:2] == ["i1", "i3"]
    assert ids(run(both, user_id="u9", is_new_shopper=False))[:2] == ["i1", "i4"]


def test_window_and_enabled():
    future = rule("pin", item_id="i20", position=1, starts_at=NOW + timedelta(hours=1))
    past = rule("pin", item_id="i21", position=1, ends_at=NOW)
    live = rule("pin", item_id="i22", position=1, starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=1))
    off = rule("pin", item_id="i23", position=2, enabled=False)
    out = run([future, past, live, off])
    assert ids(out)[:2] == ["i22", "i1"]
    # The same rules an hour later: expiry needs no write.
    later = apply(cands(10), ctx(now=NOW + timedelta(hours=1)), [future, past, live, off], limit=5, item_info=info)
    assert ids(later)[:2] == ["i20", "i1"]
    # Preview may include disabled rules.
    preview = apply(cands(10), ctx(), [off], limit=5, item_info=info, ignore_enabled=True)
    assert ids(preview)[1] == "i23"


def test_duplicate_candidates_are_shown_once():
    out = apply([Candidate("i1", 1), Candidate("i1", 0.9), Candidate("i2", 0.8)], ctx(), (), limit=5, item_info=info)
    assert ids(out) == ["i1", "i2"]


# --- many rules at once ----------------------------------------------------------------
def _naive(candidates, context, rules, limit):
    """An index-free re-statement of the order of application, to cross-check the indexed engine."""
    def matches(r, it):
        if r.item_id:
            return r.item_id == it.item_id
        if r.item_category:
            return r.item_category == it.category
        return all(str(it.attributes.get(k)) == v for k, v in r.item_attribute)

    def applies(r):
        return r.is_live(context.now) and r.in_scope(context) and r.placement in ("", context.placement)

    live = [r for r in rules if applies(r)]
    kept = [c for c in candidates if info(c.item_id) and info(c.item_id).available
            and c.item_id not in context.seen and not any(r.kind == "block" and matches(r, info(c.item_id))
                                                          for r in live)]
    n = len(kept)
    keyed = []
    for rank, c in enumerate(kept, 1):
        s = sum(r.strength for r in live if r.kind == "boost" and matches(r, info(c.item_id)))
        keyed.append(((n - rank + 1) / n + max(-1, min(1, s)), c.item_id))
    order = [i for _, i in sorted(keyed, key=lambda t: -t[0])]
    return order


def test_many_rules_match_an_index_free_statement_of_the_rules():
    rng = random.Random(7)
    rules = []
    for k in range(600):
        kind = rng.choice(["block", "boost", "annotation"])
        target = rng.choice([{"item_id": f"i{rng.randint(1, 60)}"}, {"item_category": rng.choice(["shoes", "hats"])},
                             {"item_attribute": (("brand", rng.choice(["Acme", "Zed", "Nope"])),)}])
        if kind == "annotation":
            target = {"item_id": f"i{rng.randint(1, 60)}"}
        extra = {"strength": rng.uniform(-0.2, 0.2)} if kind == "boost" else {}
        if kind == "annotation":
            extra = {"label": f"L{k}"}
        if kind == "block" and rng.random() < 0.9:
            extra["placement"] = f"p{rng.randint(1, 50)}"  # most blocks elsewhere, so the list isn't empty
        rules.append(rule(kind, placement=extra.pop("placement", rng.choice(["", "home", "cart"])),
                          enabled=rng.random() > 0.1, **target, **extra))
    ruleset = RuleSet(rules)
    for placement in ["", "home", "cart"]:
        context = ctx(placement=placement, seen=frozenset({"i4"}))
        out = apply(cands(40), context, ruleset, limit=40, item_info=info)
        assert ids(out) == _naive(cands(40), context, rules, 40)
        assert ids(apply(cands(40), context, rules, limit=40, item_info=info)) == ids(out)
        assert ids(curate(cands(40), context, ruleset, limit=12, item_info=info).items) == ids(out)[:12]


def test_early_stop_without_boosts_or_pins_gives_the_same_list():
    rng = random.Random(3)
    rules = [rule("block", item_id=f"i{rng.randint(1, 40)}") for _ in range(15)]
    rules += [rule("annotation", item_id=f"i{k}", label="L") for k in range(1, 40, 3)]
    for limit in (1, 5, 12):
        fast = apply(cands(40), ctx(), RuleSet(rules), limit=limit, item_info=info)
        full = curate(cands(40), ctx(), RuleSet(rules), limit=limit, item_info=info).items
        def shape(items):
            return [(i.item_id, i.annotations, i.trace) for i in items]

        assert shape(fast) == shape(full)
        assert len(fast) == limit


def test_rules_of_an_item_follow_its_card_when_it_changes():
    # The engine remembers each item's rules per active rule view; a changed card (new category or
    # attributes, as the card cache hands out after a catalog update) must be matched afresh.
    rules = RuleSet([Rule(id=1, kind="block", item_category="shoes"),
                     Rule(id=2, kind="block", item_attribute=(("brand", "Acme"),))])
    cards = {"x": ItemInfo("x", category="shoes")}
    listed = lambda: [i.item_id for i in apply([Candidate("x", 1.0)], ctx(), rules, limit=5, item_info=cards.get)]  # noqa: E731
    assert listed() == []
    cards["x"] = ItemInfo("x", category="hats", attributes={"brand": "Zed"})
    assert listed() == ["x"]
    cards["x"] = ItemInfo("x", category="hats", attributes={"brand": "Acme"})
    assert listed() == []
