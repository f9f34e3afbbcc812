"""Every detector on a planted shop (it finds its case) and on a clean one (nothing), through the real reads."""
from __future__ import annotations

from django.utils import timezone

from recsys.suggestions.detectors import DETECTORS, detect
from recsys.suggestions.planted import planted_problems_seed
from recsys.suggestions.selectors import signals, thresholds


def _found():
    now = timezone.now()
    return detect(signals(now=now, t=thresholds()), thresholds())


def test_each_detector_finds_its_planted_case_and_nothing_else(shop):
    plant = planted_problems_seed(now=shop, seed=1)
    found = _found()
    by_detector = {name: [f for f in found if f.detector == name] for name in DETECTORS}
    expected = {**{d: f"rule:{r}" for d, r in plant.rules.items()}, **{d: f"item:{i}" for d, i in plant.items.items()},
                "concentration": "placement:cart", "model_regression": f"model:{plant.versions[1]}"}
    assert set(expected) == set(DETECTORS)
    for name, key in expected.items():
        assert [f.key for f in by_detector[name]] == [key], (name, [(f.detector, f.key, f.why) for f in found])
    for f in found:
        assert f.title and f.why and f.evidence and f.proposal["action"] and f.strength > 0


def test_a_clean_shop_raises_nothing(shop):
    planted_problems_seed(now=shop, seed=1, clean=True)
    assert [(f.detector, f.key, f.why) for f in _found()] == []


def test_an_empty_shop_raises_nothing(shop):
    assert _found() == []
