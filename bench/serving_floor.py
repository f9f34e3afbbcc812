"""The serving benchmark's floor: the raw libraries alone answering a fresh personal list.

`application` is Curio's WSGI app plus one extra path, `/bench/raw/<user_id>`, served by the same
gunicorn workers: a psycopg prepared query for the shopper's recent events (server-side binding,
one round trip) and implicit's `recommend(..., recalculate_user=True)` over the active model,
answered as JSON ids. No Django, no auth, no curation, no explanations, no item cards: the
least any list that reflects events sent after training has to do. Its throughput against
/healthz in the same run is the ceiling for the "% of /healthz" target on this machine.
"""
from __future__ import annotations

import json
import os
import threading

import implicit
import numpy as np
import psycopg
import scipy.sparse as sp

from config.wsgi import application as curio

PREFIX = "/bench/raw/"
SQL = ("SELECT e.item_id FROM recsys_event e JOIN recsys_shopper s ON s.id = e.shopper_id "
       "WHERE s.user_id = %s ORDER BY e.timestamp DESC LIMIT 500")
_local = threading.local()
_state: dict = {}
_lock = threading.Lock()


def _model():
    with _lock:
        if not _state:
            from django.conf import settings

            from recsys.ml import artifacts

            version = artifacts.read_active_stamp(settings.MODEL_DIR)
            art = artifacts.load(artifacts.version_dir(settings.MODEL_DIR, version), mmap_mode="c")
            als = implicit.cpu.als.AlternatingLeastSquares(factors=art.item_factors.shape[1], regularization=0.05,
                                                            alpha=2.0, num_threads=1)
            als.item_factors, als.user_factors = art.item_factors, art.user_factors
            with _connection().cursor() as cur:
                cur.execute("SELECT id, item_id FROM recsys_item")
                col = {item_id: j for j, item_id in enumerate(art.item_ids.tolist())}
                pk_to_col = {pk: col[item_id] for pk, item_id in cur.fetchall() if item_id in col}
            _state.update(als=als, item_ids=art.item_ids, pk_to_col=pk_to_col, n=len(art.item_ids))
    return _state


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    return conn


def raw_list(user_id: str, n: int = 10) -> list[str]:
    state = _state or _model()
    rows = _connection().execute(SQL, [user_id], prepare=True).fetchall()
    cols = [state["pk_to_col"][r[0]] for r in rows if r[0] in state["pk_to_col"]]
    user_items = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), (np.zeros(len(cols), dtype=np.int32), cols)),
                               shape=(1, state["n"]))
    ids, _ = state["als"].recommend(0, user_items, N=n, recalculate_user=True)
    return state["item_ids"][ids].tolist()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if not path.startswith(PREFIX):
        return curio(environ, start_response)
    body = json.dumps({"items": raw_list(path[len(PREFIX):])}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
