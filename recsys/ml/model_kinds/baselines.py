"""Baselines that are kinds: "random" (uniform random unseen items). It is a candidate like any
other, so a run configured with it proves the promotion gate works: the gate always rejects it,
and it is never saved nor served."""
from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp

from recsys.ml import evaluation
from recsys.ml.model_kinds.base import Model, ProgressFn


class RandomModel(Model):
    kind_name = "random"
    artifact_kind = "random"  # only ever the kind of a rejected ModelVersion
    servable = False

    def fit(self, user_items: sp.csr_matrix, *, progress: ProgressFn | None = None, iterations: int | None = None,
            warm_start: Model | None = None) -> Self:
        self.n_items = user_items.shape[1]
        return self

    def recommend(self, user_items: sp.csr_matrix, users: np.ndarray, *, k: int = evaluation.K,
                  batch: int = 256, fold_in: bool = False) -> np.ndarray:
        return evaluation.random_recommendations(user_items, users, k=k, seed=self.options.random_state)
