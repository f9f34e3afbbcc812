"""Model kinds behind one interface (`Model`, see base.py); one module per family:

- als.py        "als": implicit ALS factors, linear / log / BM25 confidences (artifact kind "als")
- item_item.py  "bm25", "cosine": implicit item-item neighbours (artifact kind "itemknn")
- neighbourhood.py "ease", "rp3beta", "ease_head" (large catalogs): item-item matrices fitted here
                   (artifact kind "itemknn")
- baselines.py  "random": the sanity baseline the promotion gate always rejects (never saved)
- registry.py   kind name -> class, artifact kind -> class

Kind names are what settings, trials and version params carry; keep them stable.
"""
from recsys.ml.model_kinds.base import DataSize, FitOptions, Model, ProgressFn, ScoreRequest
from recsys.ml.model_kinds.registry import ARTIFACT_KINDS, KINDS, create, from_artifact, kind_class, kind_names

__all__ = ["ARTIFACT_KINDS", "KINDS", "DataSize", "FitOptions", "Model", "ProgressFn", "ScoreRequest", "create",
           "from_artifact", "kind_class", "kind_names"]
