"""A backend team's use of Curio through a client generated from the live /api/schema/ (openapi-python-client).

The same scenario as scenario.ts, through the generated typed models only: attribute access, never a dict.
tests/http/test_generated_clients.py generates the package `curio_client` beside this file's copy and runs it
against a served instance. Arguments (as scenario.ts): the base URL, a write token (the client sends `Bearer`), a
shopper with history, an item the model knows, a prefix for the ids this run creates.
"""
from __future__ import annotations

import sys
import time

from curio_client import AuthenticatedClient
from curio_client.api.api import (
    api_v1_events_create,
    api_v1_items_create,
    api_v1_items_retrieve,
    api_v1_items_similar_retrieve,
    api_v1_model_versions_list,
    api_v1_popular_retrieve,
    api_v1_recommendations_basket_create,
    api_v1_recommendations_batch_create,
    api_v1_training_runs_create,
    api_v1_training_runs_retrieve,
    api_v1_users_data_retrieve,
    api_v1_users_destroy,
    api_v1_users_feedback_create,
    api_v1_users_partial_update,
    api_v1_users_recommendations_retrieve,
)
from curio_client.api.curation import (
    api_v1_curation_pins_create,
    api_v1_curation_pins_destroy,
    api_v1_curation_pins_impact_retrieve,
    api_v1_curation_pins_list,
    api_v1_curation_pins_partial_update,
)
from curio_client.models import (
    BasketBodyRequest,
    BatchBodyRequest,
    BatchResponse,
    ConsentInRequest,
    Error,
    EventIngestResult,
    EventInRequest,
    EventTypeEnum,
    FeedbackInRequest,
    FeedbackOut,
    FeedbackStatusEnum,
    FeedbackTypeEnum,
    Item,
    ItemInRequest,
    ItemUpsertResult,
    ListItem,
    ListResponse,
    ModelVersion,
    PaginatedPinRuleList,
    PatchedPinRuleRequest,
    PinRule,
    PinRuleRequest,
    ReasonTypeEnum,
    RuleImpact,
    RuleKindEnum,
    RuleStatusEnum,
    RunStatusEnum,
    Shopper,
    ShopperExport,
    SourceEnum,
    StartedRun,
    TrainingRun,
    VerdictEnum,
)
from curio_client.models.api_v1_users_recommendations_retrieve_explain import (
    ApiV1UsersRecommendationsRetrieveExplain,
)
from curio_client.types import Unset

BASE, TOKEN, USER_ID, ITEM_ID, PREFIX = sys.argv[1:6]
client = AuthenticatedClient(base_url=BASE, token=TOKEN, raise_on_unexpected_status=True)


def check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(f"check failed: {what}")


def check_list(answer: ListResponse | Error | None, what: str, *, explained: bool = False) -> list[ListItem]:
    check(isinstance(answer, ListResponse), f"{what}: a list ({answer!r})")
    assert isinstance(answer, ListResponse)  # for the type checker
    check(bool(answer.recommendation_id), f"{what}: recommendation_id")
    for index, item in enumerate(answer.items):
        check(item.rank == index + 1, f"{what}: rank {item.rank} at {index}")
        check(0 <= item.score <= 1, f"{what}: score {item.score}")
        check(isinstance(item.source, SourceEnum), f"{what}: source {item.source}")
        check(bool(item.reasons), f"{what}: {item.item_id} has reasons")
        for reason in item.reasons:
            check(isinstance(reason.type_, ReasonTypeEnum) and bool(reason.text), f"{what}: reason {reason.type_}")
        for annotation in item.annotations:
            check(bool(annotation.label), f"{what}: annotation")
        check(item.price is None or item.price.count(".") == 1, f"{what}: price {item.price}")
        if explained:
            check(not isinstance(item.trace, Unset) and item.trace.final_rank == item.rank, f"{what}: trace")
        else:
            check(isinstance(item.trace, Unset), f"{what}: no trace without explain")
    return answer.items


def main() -> None:
    # The catalog: two new items, then one of them read back.
    new_items = [f"{PREFIX}-1", f"{PREFIX}-2"]
    counts = api_v1_items_create.sync(client=client, body=[
        ItemInRequest(item_id=item_id, title=f"Client item {n}", category="books", price="12.50")
        for n, item_id in enumerate(new_items)])
    check(isinstance(counts, ItemUpsertResult) and counts.created + counts.updated == 2, f"items: {counts!r}")
    item = api_v1_items_retrieve.sync(new_items[0], client=client)
    check(isinstance(item, Item) and item.title == "Client item 0" and item.price == "12.50", f"item: {item!r}")
    missing = api_v1_items_retrieve.sync_detailed(f"{PREFIX}-none", client=client)
    check(missing.status_code == 404 and isinstance(missing.parsed, Error) and bool(missing.parsed.detail), "404")

    # Events of a new shopper (later exported and erased).
    shopper = f"{PREFIX}-shopper"
    ingested = api_v1_events_create.sync(client=client, body=[
        EventInRequest(user_id=shopper, item_id=ITEM_ID, type_=EventTypeEnum.VIEW),
        EventInRequest(user_id=shopper, item_id=new_items[0], type_=EventTypeEnum.PURCHASE, value=2.0,
                       event_id=f"{PREFIX}-order-1")])
    check(isinstance(ingested, EventIngestResult) and ingested.accepted == 2, f"events: {ingested!r}")

    # Every list type.
    personal = api_v1_users_recommendations_retrieve.sync(
        USER_ID, client=client, limit=5, explain=ApiV1UsersRecommendationsRetrieveExplain.FULL)
    items = check_list(personal, "personal", explained=True)
    assert isinstance(personal, ListResponse)
    check(personal.user_id == USER_ID and len(items) == 5, "personal list for the shopper")
    check(personal.model_version is not None and any(i.source == SourceEnum.MODEL for i in items), "from the model")

    similar = api_v1_items_similar_retrieve.sync(ITEM_ID, client=client, limit=4, placement="product_page")
    check(all(i.item_id != ITEM_ID for i in check_list(similar, "similar")), "similar leaves the item out")

    basket = api_v1_recommendations_basket_create.sync(client=client, body=BasketBodyRequest(item_ids=[ITEM_ID],
                                                                                            limit=3))
    check(bool(check_list(basket, "basket")), "basket list")

    batch = api_v1_recommendations_batch_create.sync(client=client, body=BatchBodyRequest(user_ids=[USER_ID, shopper],
                                                                                          limit=3))
    check(isinstance(batch, BatchResponse) and len(batch.results) == 2, f"batch: {batch!r}")
    assert isinstance(batch, BatchResponse)
    for n, answer in enumerate(batch.results):
        check_list(answer, f"batch {n}")
    check([r.user_id for r in batch.results] == [USER_ID, shopper], "batch order")

    popular = api_v1_popular_retrieve.sync(client=client, limit=3, raw=True)
    check(len(check_list(popular, "popular")) == 3, "popular list")
    assert isinstance(popular, ListResponse)
    check(popular.raw is True and popular.user_id is None, "a raw list says so")

    # Feedback and consent.
    feedback = api_v1_users_feedback_create.sync(shopper, client=client, body=FeedbackInRequest(
        item_id=ITEM_ID, type_=FeedbackTypeEnum.NOT_INTERESTED))
    check(isinstance(feedback, FeedbackOut) and feedback.status == FeedbackStatusEnum.NONE, f"feedback: {feedback!r}")
    consent = api_v1_users_partial_update.sync(shopper, client=client,
                                               body=ConsentInRequest(personalization_consent=False))
    check(isinstance(consent, Shopper) and consent.personalization_consent is False, f"consent: {consent!r}")

    # A pin: created, seen in a list, measured, then removed.
    placement = f"{PREFIX}-home".lower()
    pin = api_v1_curation_pins_create.sync(client=client, body=PinRuleRequest(item_id=new_items[1], position=1,
                                                                             placement=placement))
    check(isinstance(pin, PinRule) and pin.kind == RuleKindEnum.PIN and pin.status == RuleStatusEnum.ACTIVE,
          f"pin: {pin!r}")
    assert isinstance(pin, PinRule)
    pinned = check_list(api_v1_popular_retrieve.sync(client=client, limit=3, placement=placement), "pinned list")
    check(pinned[0].item_id == new_items[1] and pinned[0].source == SourceEnum.PINNED, "the pin holds #1")
    check(pinned[0].reasons[0].type_ == ReasonTypeEnum.CURATED, "a pinned item's first reason is curated")
    impact = api_v1_curation_pins_impact_retrieve.sync(pin.id, client=client)
    check(isinstance(impact, RuleImpact), f"impact: {impact!r}")
    assert isinstance(impact, RuleImpact)
    check(impact.exposed.impressions >= 0 and impact.holdout.impressions >= 0, "impact arms")
    check(isinstance(impact.verdict, VerdictEnum) and impact.needed_impressions > 0, "impact verdict")
    check(impact.difference.ctr.value is None or isinstance(impact.difference.ctr.value, float), "ctr difference")
    disabled = api_v1_curation_pins_partial_update.sync(pin.id, client=client,
                                                        body=PatchedPinRuleRequest(enabled=False))
    check(isinstance(disabled, PinRule) and disabled.status == RuleStatusEnum.DISABLED, "pin disabled")
    page = api_v1_curation_pins_list.sync(client=client, limit=10)
    check(isinstance(page, PaginatedPinRuleList) and any(p.id == pin.id for p in page.results), "pin listed")
    check(api_v1_curation_pins_destroy.sync_detailed(pin.id, client=client).status_code == 204, "pin deleted")

    # Export, then erasure.
    exported = api_v1_users_data_retrieve.sync(shopper, client=client)
    check(isinstance(exported, ShopperExport), f"export: {exported!r}")
    assert isinstance(exported, ShopperExport)
    check(exported.user_id == shopper and len(exported.events) == 2, "export: the events")
    check(any(e.type_ == EventTypeEnum.PURCHASE and e.value == 2 for e in exported.events), "export: the purchase")
    check(exported.feedback[0].type_ == FeedbackTypeEnum.NOT_INTERESTED and exported.merged_ids == [], "feedback")
    check(exported.personalization_consent is False and exported.exported_at is not None, "export: consent")
    check(api_v1_users_destroy.sync_detailed(shopper, client=client).status_code == 204, "erased")
    check(api_v1_users_data_retrieve.sync_detailed(shopper, client=client).status_code == 404, "nothing left")

    # A training run, to its end.
    started = api_v1_training_runs_create.sync_detailed(client=client)
    check(started.status_code == 202 and isinstance(started.parsed, StartedRun), f"training: {started.parsed!r}")
    assert isinstance(started.parsed, StartedRun)
    run_id, deadline = started.parsed.id, time.monotonic() + 120
    while True:
        run = api_v1_training_runs_retrieve.sync(run_id, client=client)
        check(isinstance(run, TrainingRun), f"run: {run!r}")
        assert isinstance(run, TrainingRun)
        if run.status in (RunStatusEnum.SUCCEEDED, RunStatusEnum.REJECTED, RunStatusEnum.FAILED):
            check(run.status != RunStatusEnum.FAILED, f"training failed: {run.error}")
            version = run.model_version
            check(isinstance(version, ModelVersion) and version.run == run.id and bool(version.kind), "its version")
            break
        check(time.monotonic() < deadline, "training finished in time")
        time.sleep(0.5)
    versions = api_v1_model_versions_list.sync(client=client)
    check(isinstance(versions, list) and any(v.is_active for v in versions), "an active model version")
    print("python scenario: ok")


if __name__ == "__main__":
    main()
