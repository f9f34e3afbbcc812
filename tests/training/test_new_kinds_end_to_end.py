"""EASE, EASE on the head (large catalogs), RP3beta and BM25-weighted ALS through a whole training run on
the test database (SQLite, or PostgreSQL with DATABASE_URL), then served: personal lists fold in an event
sent after training, name the history item that explains each pick, and similar-item lists come from the
saved neighbours."""
import pytest
from django.utils import timezone

from recsys.ml import artifacts
from recsys.models import Event, Item, Shopper, TrainingRun
from recsys.training import services
from tests import serving_world
from tests.training_data import fast_training_settings, make_shop

pytestmark = pytest.mark.django_db(transaction=True)

KINDS = [
    {"kind": "ease", "lambda": 20.0, "K": 30},
    {"kind": "ease_head", "lambda": 20.0, "K": 30, "items": 10},
    {"kind": "rp3beta", "alpha": 0.8, "beta": 0.3, "K": 30, "binary": True},
    {"kind": "als", "factors": 16, "regularization": 0.05, "alpha": 2.0, "iterations": 8, "weighting": "bm25",
     "bm25_K1": 1.2, "bm25_B": 0.75},
]


@pytest.fixture(autouse=True)
def _fresh_caches():
    serving_world.reset_serving_caches()
    yield
    serving_world.reset_serving_caches()


@pytest.mark.parametrize("candidate", KINDS, ids=lambda c: c["kind"])
def test_new_kind_trains_serves_explains_and_folds_in(settings, tmp_path, read_api, write_api, candidate):
    fast_training_settings(settings, tmp_path, TRAINING_CANDIDATES=[candidate], TRAINING_SEARCH_SECONDS=0)
    make_shop()
    run, _ = services.training_run_start(triggered_by="test", executor="inline")
    run = services.training_run_execute(run_id=run.pk)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    version = run.model_version
    assert version.params["kind"] == candidate["kind"] and version.is_active
    art = artifacts.load(version.artifact_path)
    assert art.params["kind"] == candidate["kind"]
    assert (art.item_weights is not None) == (candidate.get("weighting") == "bm25")

    shopper = Shopper.objects.get(user_id="u3")
    body = read_api.get("/api/v1/users/u3/recommendations/", {"limit": 5}).json()
    assert body["model_version"] == version.pk and body["items"][0]["source"] == "model"
    seen = set(shopper.events.values_list("item__item_id", flat=True))
    history = [i for i in body["items"] if i["reasons"][0]["type"] == "history"]
    assert history and all(i["reasons"][0]["item_id"] in seen for i in history)
    assert all(0.0 <= i["score"] <= 1.0 for i in body["items"]) and body["items"][0]["score"] == 1.0

    # An event after training counts at once (fold-in): a shopper with one purchase gets that item's
    # neighbours, explained by it.
    fresh = Shopper.objects.create(user_id="fresh-buyer")
    item = Item.objects.get(item_id="i7")
    Event.objects.create(event_id="after-training", shopper=fresh, item=item, type="purchase", value=1.0,
                         timestamp=timezone.now())
    fresh_body = read_api.get("/api/v1/users/fresh-buyer/recommendations/", {"limit": 5}).json()
    picks = [i for i in fresh_body["items"] if i["source"] == "model"]
    assert picks and all(i["reasons"][0]["item_id"] == "i7" and "bought" in i["reasons"][0]["text"] for i in picks)
    assert "i7" not in [i["item_id"] for i in fresh_body["items"]]

    similar = read_api.get("/api/v1/items/i7/similar/", {"limit": 5}).json()
    assert similar["items"] and similar["items"][0]["source"] == "model"
    full = write_api.get("/api/v1/users/u3/recommendations/", {"limit": 5, "explain": "full"}).json()
    assert full["items"][0]["trace"]["algorithm_score"] > 0
