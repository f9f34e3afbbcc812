"""Kind name -> model class, and artifact kind -> the class that loads it.

Adding a kind: a module with a `Model` subclass (its kind_name, artifact_kind, properties and
methods), listed in KINDS below. Training, the model store and serving only ever go through here.
"""
from __future__ import annotations

from recsys.ml import artifacts
from recsys.ml.model_kinds.als import ALSModel
from recsys.ml.model_kinds.base import FitOptions, Model
from recsys.ml.model_kinds.baselines import RandomModel
from recsys.ml.model_kinds.item_item import BM25Model, CosineModel, ItemItemModel
from recsys.ml.model_kinds.neighbourhood import EASEHeadModel, EASEModel, RP3betaModel

# In this order: the tuning space is built kind by kind, then shuffled with a seed.
KINDS: dict[str, type[Model]] = {cls.kind_name: cls for cls in (ALSModel, BM25Model, CosineModel, EASEModel,
                                                                 RP3betaModel, RandomModel, EASEHeadModel)}
# What a saved artifact's meta.json "kind" is served as (the family, whatever its kind name was).
ARTIFACT_KINDS: dict[str, type[Model]] = {cls.artifact_kind: cls for cls in (ALSModel, ItemItemModel)}


def kind_names() -> list[str]:
    return list(KINDS)


def kind_class(kind: str) -> type[Model]:
    try:
        return KINDS[kind]
    except KeyError:
        names = kind_names()
        raise ValueError(f"unknown model kind {kind!r}: use {', '.join(names[:-1])} or {names[-1]}") from None


def create(kind: str, params: dict | None = None, options: FitOptions | None = None) -> Model:
    """An unfitted model of `kind`."""
    return kind_class(kind)(params, options)


def from_artifact(art: artifacts.Artifact) -> Model:
    """The model a loaded artifact holds. Raises artifacts.ArtifactError for an unknown kind or
    arrays that do not fit together."""
    cls = ARTIFACT_KINDS.get(art.kind)
    if cls is None:
        raise artifacts.ArtifactError(f"{art.path}: unknown model kind {art.kind!r}")
    return cls.from_artifact(art)
