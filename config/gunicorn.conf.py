"""gunicorn settings for Curio: `gunicorn -c config/gunicorn.conf.py config.wsgi:application` (docs/operations.md).

Metrics in multiprocess mode (prometheus-client): every worker writes its samples under
PROMETHEUS_MULTIPROC_DIR (default var/metrics, emptied when the master starts) and GET /metrics adds
the workers up; a worker that exits is marked dead so its live gauges drop out.
"""
import os
import shutil
from pathlib import Path

_metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                                          str(Path(__file__).resolve().parent.parent / "var" / "metrics")))

# Every worker serves: with keep-alive, a gthread worker accepts every connection it can, so 4 client
# connections over 3 single-thread workers often left one worker idle (request shares 50/50/0 in 2 of 3 runs
# of bench/bench_serving.py). At 2 connections a worker stops accepting, and closes a second kept-alive one
# after its response, so the client reconnects to whichever worker is free: shares 34/33/33 in every run,
# p99 of /healthz 10 ms instead of 24 ms (docs/benchmarks.md, issue #26). Behind nginx the same holds.
worker_connections = 2


def on_starting(server):
    shutil.rmtree(_metrics_dir, ignore_errors=True)  # samples of a previous run must not add up with ours
    _metrics_dir.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    """A worker stopping hands its buffered impressions over (to Redis or the database) before it goes."""
    from recsys.analytics.impression_buffer import buffer

    buffer().close()


def when_ready(server):
    """With --preload the app (Django, DRF, numpy, the URL and schema machinery) is loaded once, here:
    move those objects out of the garbage collector's sight. A full collection otherwise walks every one of
    them from inside some request (tens of ms: the tail of the latency distribution), and touching their
    headers un-shares the forked workers' copy-on-write pages."""
    import gc

    gc.freeze()


def post_worker_init(worker):
    import gc

    from recsys.training.stored_versions import cache_syncer

    cache_syncer.start()  # with object storage: this host's cache follows the store (a thread; no-op otherwise)
    gc.freeze()  # what the worker built at start (connections, caches) joins the frozen set
