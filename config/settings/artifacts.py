"""Model artifacts: where versions are stored (MODEL_DIR alone, or object storage with MODEL_DIR as this host's
cache) and how often a process looks for a newly active version or revision."""
import os

from .env import env_float

# Unset: versions live in MODEL_DIR (one host, or a shared volume). `s3://bucket/prefix`: in object storage through
# the S3 API, each host keeping its own copy of the versions it serves in MODEL_DIR (docs/operations.md, "Many hosts").
ARTIFACT_STORE = os.environ.get("CURIO_ARTIFACT_STORE", "").strip()
# The S3 client's standard variables (AWS S3, GCS's S3 interoperability, MinIO, Ceph, SeaweedFS).
AWS_ENDPOINT_URL = os.environ.get("AWS_ENDPOINT_URL", "").strip() or None
AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID", "").strip() or None
AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "").strip() or None
AWS_REGION = os.environ.get("AWS_REGION", "").strip() or None
# How often each process looks at the model stamp (the active version and revisions, in the database; one Redis GET
# with Redis): a newly activated version or an erasure's revision is served within this, with no per-request cost.
MODEL_POLL_SECONDS = env_float("CURIO_MODEL_POLL_SECONDS", 1.0)
# Versions kept in a host's cache besides the active one (the previously active ones, for an instant rollback).
MODEL_CACHE_PREVIOUS = 1
