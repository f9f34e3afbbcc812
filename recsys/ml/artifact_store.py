"""Where model versions live: a local directory (the default) or object storage through the S3 API.

A version is a set of files (recsys.ml.artifacts) plus a **manifest** (`manifest.json`: each file's size,
SHA-256 and object key) written last: a version without its manifest does not exist. A version is never
edited in place in object storage: an erasure writes a new **revision** (new objects for the files it
changed, the others shared with the revision before) and then deletes the objects only the replaced
revision held. The database records which revision is current (recsys.training.stored_versions).

- `LocalStore(root)`: the store is MODEL_DIR itself (`root/<version>/<file>`); a new revision replaces the
  changed files in place, atomically, so there is nothing left to delete. One host, nothing new to run.
- `S3Store(...)`: `<prefix>/<version>/r<revision>/<file>`; each host keeps a local copy of the versions it
  serves in its MODEL_DIR (`fetch`), verified by checksum and written atomically, manifest last.

The S3 client is obstore (a single compiled wheel, ~14 MB RSS per process; boto3 measured as fast on
SeaweedFS but costs ~43 MB and 0.36 s of import per process): docs/benchmarks.md, "Artifact store".
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from recsys.ml.artifacts import write_atomic

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK = 8 << 20
FETCH_THREADS = 4
IGNORED = {MANIFEST, "COMPLETE", ".lock"}


class StoreUnavailable(Exception):
    """The artifact store could not be reached or answered an error; the message says which and where."""


class LockTimeout(Exception):
    """Another process held a version's lock for longer than the caller would wait."""


class StoreCorrupt(Exception):
    """A stored file does not match its manifest (size or checksum)."""


@dataclass(frozen=True)
class FileEntry:
    key: str  # object key under the store's root (or prefix)
    size: int
    sha256: str


@dataclass
class Manifest:
    version: int
    revision: int
    files: dict[str, FileEntry] = field(default_factory=dict)

    def to_json(self) -> bytes:
        files = {name: {"key": f.key, "size": f.size, "sha256": f.sha256} for name, f in sorted(self.files.items())}
        return json.dumps({"format": FORMAT, "version": self.version, "revision": self.revision, "files": files},
                          indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        return cls(version=int(data["version"]), revision=int(data["revision"]),
                   files={name: FileEntry(**f) for name, f in data["files"].items()})

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files.values())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def artifact_files(directory: Path) -> dict[str, Path]:
    """The files of a version directory written by recsys.ml.artifacts.save (temp files and markers excluded)."""
    return {p.name: p for p in sorted(Path(directory).iterdir())
            if p.is_file() and p.name not in IGNORED and not p.name.startswith(".") and not p.name.endswith(".tmp")}


def local_manifest(directory: Path) -> Manifest | None:
    """The manifest a local copy was completed with (None: not a complete copy)."""
    try:
        return Manifest.from_json((Path(directory) / MANIFEST).read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class Transfer:
    """What one `fetch` moved: files downloaded (0: the copy was current), their bytes and seconds."""

    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    refetched: int = 0  # downloads that failed their checksum and were fetched again


class LocalStore:
    """The default: versions live in MODEL_DIR, which is also the only copy serving reads."""

    url = "local"
    shared_cache = True  # the store is the local copy: nothing to fetch or evict

    def __init__(self, root: Path):
        self.root = Path(root)

    def location(self, version: int) -> str:
        return str(self.root / str(version))

    def _path(self, key: str) -> Path:
        return self.root / key

    def put_version(self, version: int, directory: Path) -> Manifest:
        """Record the files of `directory` (already `root/<version>`) as revision 0: the manifest, last."""
        directory = Path(directory)
        if directory.resolve() != (self.root / str(version)).resolve():
            raise ValueError(f"{directory} is not {self.root / str(version)}")
        files = {name: FileEntry(f"{version}/{name}", p.stat().st_size, sha256_file(p))
                 for name, p in artifact_files(directory).items()}
        manifest = Manifest(version, 0, files)
        write_atomic(directory / MANIFEST, manifest.to_json())
        return manifest

    def put_revision(self, base: Manifest, changed: dict[str, bytes]) -> Manifest:
        """Replace the `changed` files (each atomically) and write the next revision's manifest."""
        files = dict(base.files)
        directory = self.root / str(base.version)
        for name, data in changed.items():
            write_atomic(directory / name, data)
            files[name] = FileEntry(f"{base.version}/{name}", len(data), hashlib.sha256(data).hexdigest())
        manifest = Manifest(base.version, base.revision + 1, files)
        write_atomic(directory / MANIFEST, manifest.to_json())
        return manifest

    def manifest_key(self, version: int, revision: int) -> str:
        return f"{version}/{MANIFEST}"

    def manifest(self, version: int, revision: int) -> Manifest | None:
        """The version's files as they are: revision `revision` or later. (A revision is written in place before
        the database records it; if that commit fails, the files hold more erased rows than the database says,
        never fewer, and the next revision builds on them.)"""
        directory = self.root / str(version)
        found = local_manifest(directory)
        if found is None and revision == 0 and (directory / "COMPLETE").exists():
            found = self.put_version(version, directory)  # written before manifests existed: adopted as it is
        return found if found is not None and found.revision >= revision else None

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def fetch(self, manifest: Manifest, directory: Path, *, verify: bool = False) -> Transfer:
        return Transfer()  # the store is the copy

    def objects(self) -> list[dict]:
        return []

    def delete(self, keys) -> None:
        """Nothing to do: a new revision replaced its files in place."""

    def delete_version(self, version: int) -> None:
        import shutil

        shutil.rmtree(self.root / str(version), ignore_errors=True)

    def versions(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(int(p.name) for p in self.root.iterdir() if p.is_dir() and p.name.isdigit())

    def ping(self) -> None:
        return None


class S3Store:
    """Object storage through the S3 API: AWS S3, GCS's interoperability endpoint, MinIO, Ceph, SeaweedFS."""

    shared_cache = False

    def __init__(self, url: str, *, endpoint: str | None = None, region: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None, timeout: float = 30.0):
        from obstore.store import S3Store as ObjectStore

        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"CURIO_ARTIFACT_STORE={url!r}: expected s3://bucket/prefix")
        self.url = url
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.endpoint = endpoint
        options = {"timeout": f"{timeout:g}s", "connect_timeout": "5s"}
        if endpoint and endpoint.startswith("http://"):
            options["allow_http"] = True
        config = {k: v for k, v in {"endpoint": endpoint, "region": region or "us-east-1",
                                    "access_key_id": access_key_id, "secret_access_key": secret_access_key}.items()
                  if v}
        # Path-style addressing: MinIO, Ceph and SeaweedFS serve the bucket as the first path segment.
        self._store = ObjectStore(self.bucket, prefix=self.prefix or None, client_options=options,
                                  virtual_hosted_style_request=False,
                                  retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=5),
                                                "backoff": {"init_backoff": timedelta(milliseconds=100),
                                                            "max_backoff": timedelta(seconds=1), "base": 2}},
                                  **config)

    def __repr__(self) -> str:
        return f"S3Store({self.url!r}, endpoint={self.endpoint!r})"

    def location(self, version: int) -> str:
        return f"{self.url.rstrip('/')}/{version}/"

    def _call(self, what: str, fn, *args, **kwargs):
        import obstore

        try:
            return fn(*args, **kwargs)
        except (FileNotFoundError, obstore.exceptions.NotFoundError) as exc:
            raise FileNotFoundError(f"{self.url}: {what}: not found") from exc
        except (obstore.exceptions.BaseError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"artifact store {self.url} ({self.endpoint or 'AWS'}): {what} failed: "
                                   f"{_one_line(exc)}") from exc

    def _put(self, key: str, data) -> None:
        import obstore

        self._call(f"writing {key}", obstore.put, self._store, key, data)

    def put_version(self, version: int, directory: Path) -> Manifest:
        """Upload every file of `directory`, then the manifest: until it is written, the version does not exist."""
        files = {}
        for name, path in artifact_files(directory).items():
            key = f"{version}/r0/{name}"
            self._put(key, path)
            files[name] = FileEntry(key, path.stat().st_size, sha256_file(path))
        manifest = Manifest(version, 0, files)
        self._put(self.manifest_key(version, 0), manifest.to_json())
        write_atomic(Path(directory) / MANIFEST, manifest.to_json())  # the writer's own copy is current
        return manifest

    def put_revision(self, base: Manifest, changed: dict[str, bytes]) -> Manifest:
        revision = base.revision + 1
        files = dict(base.files)
        for name, data in changed.items():
            key = f"{base.version}/r{revision}/{name}"
            self._put(key, data)
            files[name] = FileEntry(key, len(data), hashlib.sha256(data).hexdigest())
        manifest = Manifest(base.version, revision, files)
        self._put(self.manifest_key(base.version, revision), manifest.to_json())
        return manifest

    def manifest_key(self, version: int, revision: int) -> str:
        return f"{version}/r{revision}/{MANIFEST}"

    def manifest(self, version: int, revision: int) -> Manifest | None:
        try:
            return Manifest.from_json(self.read(self.manifest_key(version, revision)))
        except FileNotFoundError:
            return None

    def read(self, key: str) -> bytes:
        import obstore

        return bytes(self._call(f"reading {key}", lambda: obstore.get(self._store, key).bytes()))

    def fetch(self, manifest: Manifest, directory: Path, *, verify: bool = False) -> Transfer:
        """Make `directory` a verified copy of `manifest`: download each file the local copy lacks or holds
        at another checksum (to a temp file, checksum verified, renamed into place; a mismatch is fetched
        once more, then StoreCorrupt), remove files the manifest no longer lists, write the manifest last.
        `verify`: hash the local files too instead of trusting the local manifest (after a failed load)."""

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        have = local_manifest(directory)
        (directory / MANIFEST).unlink(missing_ok=True)  # incomplete until every file is in place
        out = Transfer()
        started = time.perf_counter()
        wanted = []
        for name, entry in manifest.files.items():
            target = directory / name
            known = have.files.get(name) if have is not None else None
            if verify and _size(target) == entry.size and sha256_file(target) == entry.sha256:
                continue
            if not verify and known is not None and known.sha256 == entry.sha256 and _size(target) == entry.size:
                continue
            wanted.append((entry, target))
        # A few files at a time: one stream leaves the link idle while it hashes and writes.
        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            for entry, refetched in zip([e for e, _ in wanted], pool.map(lambda w: self._download(*w), wanted),
                                        strict=True):
                out.files += 1
                out.bytes += entry.size
                out.refetched += refetched
        for name in artifact_files(directory):
            if name not in manifest.files:
                (directory / name).unlink(missing_ok=True)
        write_atomic(directory / MANIFEST, manifest.to_json())
        out.seconds = time.perf_counter() - started
        return out

    def _download(self, entry: FileEntry, target: Path) -> int:
        """One file to a temp file beside `target`, its size and checksum verified, renamed into place; a mismatch
        is fetched once more (the number of refetches is returned), then StoreCorrupt."""
        import obstore

        for attempt in (1, 2):
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            h = hashlib.sha256()
            size = 0
            try:
                with os.fdopen(fd, "wb") as fh:
                    stream = self._call(f"reading {entry.key}", obstore.get, self._store, entry.key)
                    self._call(f"reading {entry.key}", self._copy, stream, fh, h)
                    size = fh.tell()
                if size == entry.size and h.hexdigest() == entry.sha256:
                    os.replace(tmp, target)
                    return attempt - 1
                os.unlink(tmp)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        raise StoreCorrupt(f"{self.url}/{entry.key}: {size} bytes, sha256 {h.hexdigest()[:12]}; the manifest says "
                           f"{entry.size} bytes, {entry.sha256[:12]}")

    @staticmethod
    def _copy(stream, fh, h) -> None:
        for chunk in stream.stream(min_chunk_size=CHUNK):  # a connection lost midway raises here
            fh.write(chunk)
            h.update(chunk)

    def delete(self, keys) -> None:
        import obstore

        keys = sorted(set(keys))
        if keys:
            self._call(f"deleting {len(keys)} objects", obstore.delete, self._store, keys)

    def delete_version(self, version: int) -> None:
        import obstore

        listed = self._call(f"listing {version}/", lambda: obstore.list(self._store, prefix=f"{version}/").collect())
        # Manifests first: a half-deleted version is never mistaken for a whole one.
        keys = sorted((m["path"] for m in listed), key=lambda k: (not k.endswith(MANIFEST), k))
        if keys:
            self.delete(keys)

    def objects(self) -> list[dict]:
        """Every object under the prefix: `path` (the key), `size`, `last_modified`."""
        import obstore

        return self._call("listing objects", lambda: obstore.list(self._store).collect())

    def versions(self) -> list[int]:
        """Versions with at least one object (some stores keep an emptied folder as a prefix)."""

        listed = self.objects()
        return sorted({int(head) for m in listed if (head := m["path"].split("/", 1)[0]).isdigit()})

    def ping(self) -> None:
        """One small request: the store answers (a missing bucket is reported as such)."""
        import obstore

        try:
            self._call("listing the prefix", lambda: obstore.list(self._store, prefix="_", chunk_size=1).collect())
        except StoreUnavailable as exc:
            if "NoSuchBucket" in str(exc):
                raise StoreUnavailable(f"artifact store {self.url}: the bucket {self.bucket!r} does not exist at "
                                       f"{self.endpoint or 'AWS'}: create it (e.g. `aws s3 mb s3://{self.bucket}`)"
                                       ) from exc
            raise


@contextlib.contextmanager
def file_lock(path: Path, timeout: float, busy: str):
    """An exclusive flock on `path` (created if missing) held for the block; LockTimeout(`busy`) when another
    process keeps it longer than `timeout` seconds."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(busy) from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def sizes_match(directory: Path, manifest: Manifest) -> bool:
    """Every file of the local copy has its manifest's size (a stat per file: cheap enough for every poll)."""
    return all(_size(Path(directory) / name) == entry.size for name, entry in manifest.files.items())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def store_from_url(url: str, *, root: Path, endpoint: str | None = None, region: str | None = None,
                   access_key_id: str | None = None, secret_access_key: str | None = None):
    """`url` empty: LocalStore(root); `s3://bucket/prefix`: S3Store."""
    if not url:
        return LocalStore(root)
    return S3Store(url, endpoint=endpoint, region=region, access_key_id=access_key_id,
                   secret_access_key=secret_access_key)
