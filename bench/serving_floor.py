"""The serving benchmark's floor and request counter, served by the same gunicorn workers as Curio.

`application` is Curio's WSGI app plus one extra path, `/bench/raw/<user_id>`: a psycopg prepared
query for the shopper's recent events (server-side binding, one round trip) and implicit's
`recommend` over the active model (ALS: `recalculate_user=True`, the fold-in; an item-item model:
its top-K neighbours summed over the history, implicit's NearestNeighboursScorer), answered as JSON
ids. No Django, no auth, no curation, no explanations, no item cards: the least any list that
reflects events sent after training has to do. Its throughput against /healthz in the same run is
the ceiling for the "x /healthz" goals on this machine.

With CURIO_BENCH_COUNT_DIR set, every request (Curio's and the floor's) also counts into an 8-byte
memory-mapped file `<dir>/<pid>` of its worker process: the bench reads each worker's exact share of
the requests without touching the application (about a microsecond per request).
"""
from __future__ import annotations

import json
import mmap
import os
import threading

import implicit
import numpy as np
import psycopg
import scipy.sparse as sp
from implicit import nearest_neighbours

from config.wsgi import application as curio

PREFIX = "/bench/raw/"
SQL = ("SELECT e.item_id FROM recsys_event e JOIN recsys_shopper s ON s.id = e.shopper_id "
       "WHERE s.user_id = %s ORDER BY e.timestamp DESC LIMIT 500")
_local = threading.local()
_state: dict = {}
_lock = threading.Lock()


class _Counter:
    """Requests served by this process, mirrored into `<CURIO_BENCH_COUNT_DIR>/<pid>` (opened after fork)."""

    def __init__(self, directory: str) -> None:
        self.directory, self.pid, self.n, self.view = directory, 0, 0, None
        self.lock = threading.Lock()

    def _open(self) -> None:
        self.pid, self.n = os.getpid(), 0
        with open(os.path.join(self.directory, str(self.pid)), "w+b") as f:
            f.write(b"\0" * 8)
            f.flush()
            self._map = mmap.mmap(f.fileno(), 8)
        self.view = memoryview(self._map).cast("Q")

    def count(self) -> None:
        with self.lock:
            if self.view is None:
                self._open()
            self.n += 1
            self.view[0] = self.n

    def forked(self) -> None:
        self.view = None  # the child opens its own file on its first request
        self.lock = threading.Lock()


_counter = _Counter(os.environ["CURIO_BENCH_COUNT_DIR"]) if os.environ.get("CURIO_BENCH_COUNT_DIR") else None
if _counter is not None:
    os.register_at_fork(after_in_child=_counter.forked)


def _model():
    with _lock:
        if not _state:
            from django.conf import settings

            from recsys.ml import artifacts
            from recsys.training.models import ModelVersion

            version = ModelVersion.objects.get(is_active=True).pk
            art = artifacts.load(artifacts.version_dir(settings.MODEL_DIR, version), mmap_mode="c")
            if art.item_factors is not None:  # ALS: fold the history in, as Curio does
                rec = implicit.cpu.als.AlternatingLeastSquares(factors=art.item_factors.shape[1],
                                                                regularization=float(art.params.get("regularization",
                                                                                                    0.05)),
                                                                alpha=float(art.params.get("alpha", 2.0)),
                                                                num_threads=1)
                rec.item_factors, rec.user_factors = art.item_factors, art.user_factors
                recalculate = True
            else:  # item-item: the artifact's top-K neighbours are the model
                rec = nearest_neighbours.ItemItemRecommender(K=art.similarity.shape[0], num_threads=1)
                rec.similarity = art.similarity
                rec.scorer = nearest_neighbours.NearestNeighboursScorer(art.similarity)
                recalculate = False
            with _connection().cursor() as cur:
                cur.execute("SELECT id, item_id FROM recsys_item")
                col = {item_id: j for j, item_id in enumerate(art.item_ids.tolist())}
                pk_to_col = {pk: col[item_id] for pk, item_id in cur.fetchall() if item_id in col}
            _state.update(rec=rec, recalculate=recalculate, item_ids=art.item_ids, pk_to_col=pk_to_col,
                          n=len(art.item_ids))
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
    ids, _ = state["rec"].recommend(0, user_items, N=n, recalculate_user=state["recalculate"])
    return state["item_ids"][ids].tolist()


def application(environ, start_response):
    if _counter is not None:
        _counter.count()
    path = environ.get("PATH_INFO", "")
    if not path.startswith(PREFIX):
        return curio(environ, start_response)
    body = json.dumps({"items": raw_list(path[len(PREFIX):])}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
