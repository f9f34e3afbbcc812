# One BLAS thread per process: web and Celery workers parallelise across processes,
# and a multi-threaded BLAS inside each would oversubscribe the cores.
import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from .celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
