"""The model card of a version: training data, parameters, metrics beside the popularity
baseline and the previous version, and figures from a sample of the model's own lists."""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from recsys.catalog.models import Item
from recsys.ml import artifact_store, artifacts, card_figures, fitting, model_kinds
from recsys.training import stored_versions
from recsys.training.content import catalog_coverage
from recsys.training.models import ModelVersion

SAMPLE_LISTS = 500
LIST_LENGTH = 10


def coverage(version: ModelVersion) -> dict | None:
    """The version's catalog coverage, with and without the new items (None when its artifact is gone)."""
    if not version.artifact_path:
        return None
    try:
        art = artifacts.load(stored_versions.local_copy(version.pk, version.revision))
    except (artifacts.ArtifactError, artifact_store.StoreUnavailable, artifact_store.StoreCorrupt):
        return None
    return catalog_coverage(art.item_ids)


def sample_figures(version: ModelVersion, catalog: dict[str, str]) -> dict | None:
    """Figures from the version's artifact (cached per artifact); None when it is gone."""
    if not version.artifact_path:
        return None
    try:  # this host's copy (fetched from object storage if it lacks one)
        art = artifacts.load(stored_versions.local_copy(version.pk, version.revision))
    except (artifacts.ArtifactError, artifact_store.StoreUnavailable, artifact_store.StoreCorrupt):
        return None
    key = f"model-card:{version.pk}:{len(catalog)}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        lists, basis = model_kinds.from_artifact(art).card_lists(SAMPLE_LISTS, LIST_LENGTH)
    except artifacts.ArtifactError:
        return None
    figures = {**card_figures.figures(lists, art.item_ids, catalog), "basis": basis}
    cache.set(key, figures, timeout=3600)
    return figures


STOPPED = {"space": "every candidate was tried", "budget": "the search budget was spent",
           "safety": "the wall-clock safety limit fired", "none": "one candidate, nothing to compare"}


def selection_by_kind(run_metrics: dict | None) -> list[dict]:
    """Per model kind, its best trial of the run's selection (best parameters, nDCG@10 mean ± spread
    over the folds, how it fared against the incumbent), how many of its trials ran and their time;
    the winning kind first, marked."""
    trials = (run_metrics or {}).get("selection") or []
    winner = ((run_metrics or {}).get("winner") or {}).get("kind") or (trials[0]["kind"] if trials else None)
    rows: dict[str, dict] = {}
    for t in trials:  # the winner first, then by mean: a kind's first trial is its best
        row = rows.setdefault(t["kind"], {"kind": t["kind"], "params": t.get("params", {}), "folds": t.get("folds"),
                                          "ndcg": t.get("ndcg@10"), "std": fitting.recorded_spread(t), "trials": 0,
                                          "seconds": 0.0, "won": t["kind"] == winner, "outcome": t.get("outcome", ""),
                                          "gain": t.get("gain"), "gain_se": t.get("gain_se")})
        row["trials"] += 1
        row["seconds"] = round(row["seconds"] + float(t.get("seconds") or 0.0), 3)
    return list(rows.values())


def model_card_for(version: ModelVersion) -> dict:
    previous = (ModelVersion.objects.filter(created_at__lt=version.created_at).exclude(pk=version.pk)
                .order_by("-created_at").first())
    catalog = dict(Item.objects.filter(available=True).values_list("item_id", "category"))
    figures = sample_figures(version, catalog)
    prev_figures = sample_figures(previous, catalog) if previous else None
    current = {**(version.metrics or {}), **(figures or {})}
    before = {**(previous.metrics or {}), **(prev_figures or {})} if previous else None
    names = [n for n in card_figures.HIGHER_IS_BETTER + card_figures.LOWER_IS_BETTER
             if n in current or (before and n in before)]
    rows = [{"name": n, "value": current.get(n), "baseline": (version.baseline_metrics or {}).get(n),
             "previous": before.get(n) if before else None,
             "better": "higher" if n in card_figures.HIGHER_IS_BETTER else "lower"} for n in names]
    run = version.run
    search = (run.metrics or {}).get("search") if run else None
    return {
        "version": version, "run": run, "previous": previous,
        "data_counts": list((run.data_counts or {}).items()) if run else [],
        "window_days": (run.params or {}).get("window_days") if run else None,
        "trained_at": run.started_at if run else version.created_at,
        "params": list((version.params or {}).items()),
        "selection": selection_by_kind(run.metrics if run else None),
        "search": search,
        "sample": (search or {}).get("sample"),
        "final": [{"kind": t["kind"], "ndcg": t.get("ndcg@10"), "outcome": t.get("outcome", ""), "won": t.get("won")}
                  for t in (search or {}).get("final") or []],
        "stopped": STOPPED.get((search or {}).get("stopped", ""), ""),
        "rows": rows, "figures": figures, "coverage": coverage(version),
        "warnings": card_figures.warnings(current, before, settings.MODEL_CARD_WARN_THRESHOLD),
        "threshold": settings.MODEL_CARD_WARN_THRESHOLD,
    }
