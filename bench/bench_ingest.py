#!/usr/bin/env python
"""Ingestion benchmark: `import_events` into PostgreSQL and SQLite, and POST /api/v1/events/ under gunicorn.

    .venv/bin/python bench/bench_ingest.py                      # everything, the sizes of the README
    .venv/bin/python bench/bench_ingest.py --events 200000 --api-events 50000 --skip-sqlite

What it does, printing data sizes and figures as it goes:
1. writes a deterministic catalog (2,000 items) and event files (CSV, derived event ids);
2. import: for each database, a fresh schema, `import_items`, then `import_events` timed as a whole
   command (process start, Django setup, parse, validate, write, commit) with its peak RSS, on the
   full file and on a file a fifth of the size (peak memory must not grow with the file);
   beside it the raw library on the same rows into a bare table with the same indexes, no foreign keys (psycopg COPY,
   sqlite3 executemany): the floor our validation and idempotency sit on;
3. API: gunicorn (4 sync workers) on PostgreSQL (and SQLite), 4 client processes posting 1,000-event
   batches over keep-alive connections; events/s accepted, and rows in the database == accepted.

The PostgreSQL database named by --pg-url is dropped and recreated.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import http.client
import json
import multiprocessing as mp
import os
import random
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
N_ITEMS = 2_000
TYPES = ("view",) * 14 + ("click",) * 4 + ("add_to_cart",) * 2 + ("purchase", "rating")


# --- data ------------------------------------------------------------------------------------------
def write_items(path: Path) -> None:
    rng = random.Random(7)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item_id", "title", "category", "price", "brand"])
        for i in range(N_ITEMS):
            w.writerow([f"sku-{i}", f"Item {i}", f"cat-{i % 20}", f"{rng.uniform(2, 200):.2f}", f"brand-{i % 37}"])


def event_rows(n: int, seed: int):
    """(user_id, item_id, type, value, timestamp): power-law items, ~n/20 shoppers, the last 90 days."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=90)
    n_users = max(n // 20, 10)
    for k in range(n):
        type_ = TYPES[rng.randrange(len(TYPES))]
        value = rng.randint(1, 5) if type_ == "rating" else 1
        item = min(int(rng.paretovariate(1.2)) - 1, N_ITEMS - 1)
        ts = start + timedelta(seconds=k * (90 * 86400 / n) + rng.random())
        yield (f"u{rng.randrange(n_users)}", f"sku-{item}", type_, value, ts.isoformat(timespec="microseconds"))


def write_events(path: Path, n: int, seed: int) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "item_id", "type", "value", "timestamp"])
        w.writerows(event_rows(n, seed))


def mib(path: Path) -> str:
    return f"{path.stat().st_size / 2**20:.1f} MiB"


# --- environment -----------------------------------------------------------------------------------
def service_env(database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURIO_") and k != "REDIS_URL"}
    env.update(DATABASE_URL=database_url, DEBUG="0", SECRET_KEY=secrets.token_urlsafe(40),
               ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="WARNING", API_THROTTLE_RATE="")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def manage(env: dict, *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def reset_postgres(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def fresh_database(kind: str, pg_url: str, workdir: Path) -> str:
    if kind == "postgresql":
        reset_postgres(pg_url)
        return pg_url
    path = workdir / "bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def timed_command(env: dict, *args: str) -> tuple[float, float, str]:
    """Run manage.py as a child; return (seconds, peak RSS MiB, last output line + its CPU seconds)."""
    started = time.perf_counter()
    proc = subprocess.Popen([PY, "manage.py", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read(), proc.stderr.read()
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{err[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, usage.ru_maxrss / 1024, (out.strip().splitlines() or [""])[-1] + f" (process CPU {cpu:.1f} s)"


# --- raw baselines: the same rows through the bare driver, same indexes -------------------------------
RAW_DDL = """CREATE TABLE raw_event (id {pk}, event_id varchar(128) NOT NULL UNIQUE, shopper_id bigint NOT NULL,
  item_id bigint NOT NULL, type varchar(16) NOT NULL, value double precision NOT NULL, timestamp {ts} NOT NULL,
  recommendation_id varchar(64) NOT NULL, created_at {ts} NOT NULL)"""
RAW_INDEXES = ["CREATE INDEX raw_st ON raw_event (shopper_id, timestamp)",
               "CREATE INDEX raw_t ON raw_event (timestamp)", "CREATE INDEX raw_i ON raw_event (item_id)",
               "CREATE INDEX raw_r ON raw_event (recommendation_id) WHERE recommendation_id <> ''"]


def raw_rows(path: Path):
    """Rows shaped for the table with the least work a loader must do: ids as ints, a random 32-hex id
    per event (as the derived ids are: random keys cost a unique index more than sequential ones)."""
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for n, (user, item, type_, value, ts) in enumerate(reader):
            yield (hashlib.md5(b"%d" % n).hexdigest(), int(user[1:]), int(item[4:]), type_, float(value), ts, "", ts)


def raw_postgres(url: str, path: Path) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_event")
        conn.execute(RAW_DDL.format(pk="bigserial PRIMARY KEY", ts="timestamptz"))
        for ddl in RAW_INDEXES:
            conn.execute(ddl)
        conn.commit()
        started = time.perf_counter()
        with conn.cursor().copy("COPY raw_event (event_id, shopper_id, item_id, type, value, timestamp, "
                                "recommendation_id, created_at) FROM STDIN") as copy:
            for row in raw_rows(path):
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE raw_event")
        conn.commit()
    return seconds


def raw_sqlite(workdir: Path, path: Path) -> float:
    db = workdir / "raw.sqlite3"
    db.unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(RAW_DDL.format(pk="integer PRIMARY KEY AUTOINCREMENT", ts="datetime"))
    for ddl in RAW_INDEXES:
        conn.execute(ddl)
    started = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO raw_event (event_id, shopper_id, item_id, type, value, timestamp, "
                         "recommendation_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", raw_rows(path))
    seconds = time.perf_counter() - started
    conn.close()
    db.unlink()
    return seconds


# --- 1. import_events --------------------------------------------------------------------------------
def bench_import(kind: str, args, workdir: Path, items: Path, files: list[tuple[int, Path]]) -> None:
    print(f"\n== import_events into {kind}")
    for n, path in files:
        env = service_env(fresh_database(kind, args.pg_url, workdir))
        manage(env, "migrate", "--noinput")
        manage(env, "import_items", str(items), "--no-progress")
        seconds, rss, summary = timed_command(env, "import_events", str(path), "--no-progress")
        print(f"{n:>10,} events ({mib(path)}): {seconds:6.1f} s  {n / seconds:9,.0f} events/s  "
              f"peak RSS {rss:6.0f} MiB   [{summary.split(': ', 1)[-1]}]")
        again, _, summary = timed_command(env, "import_events", str(path), "--no-progress")
        print(f"{'':>10}  re-import (all duplicates): {again:6.1f} s  {n / again:9,.0f} events/s   "
              f"[{summary.split(': ', 1)[-1]}]")
        if n == files[0][0]:
            raw = raw_postgres(args.pg_url, path) if kind == "postgresql" else raw_sqlite(workdir, path)
            print(f"{'':>10}  raw {'psycopg COPY' if kind == 'postgresql' else 'sqlite3 executemany'} of the "
                  f"same rows, same indexes: {raw:6.1f} s  {n / raw:9,.0f} rows/s;  import_events takes "
                  f"{seconds / raw:.1f}x that")


# --- 2. POST /api/v1/events/ -------------------------------------------------------------------------
def _client(port: int, token: str, bodies: list[bytes], out: mp.Queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    accepted = duplicates = failures = 0
    errors: list[str] = []
    for body in bodies:
        conn.request("POST", "/api/v1/events/", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        if response.status == 200:
            answer = json.loads(payload)
            accepted += answer["accepted"]
            duplicates += answer["duplicates"]
        else:
            failures += 1
            errors.append(f"{response.status}: {payload[:300]!r}")
    out.put((accepted, duplicates, failures, errors[:3]))


def bench_api(kind: str, args, workdir: Path, items: Path) -> None:
    print(f"\n== POST /api/v1/events/ on {kind}: gunicorn -w {args.workers}, {args.clients} clients, "
          f"{args.batch:,}-event batches")
    env = service_env(fresh_database(kind, args.pg_url, workdir))
    manage(env, "migrate", "--noinput")
    manage(env, "import_items", str(items), "--no-progress")
    token = subprocess.run([PY, "manage.py", "create_api_client", "bench", "--write"], cwd=ROOT, env=env,
                           check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    rows = [{"user_id": u, "item_id": i, "type": t, "value": v, "timestamp": ts}
            for u, i, t, v, ts in event_rows(args.api_events, seed=99)]
    batches = [json.dumps(rows[k:k + args.batch]).encode() for k in range(0, len(rows), args.batch)]
    # Every 10th batch is sent twice (by another client): a retry storm must not store anything twice.
    batches += batches[::10]
    random.Random(3).shuffle(batches)
    shares = [batches[c::args.clients] for c in range(args.clients)]
    size = sum(map(len, batches)) / 2**20
    print(f"{len(rows):,} distinct events in {len(batches)} requests ({size:.1f} MiB of JSON)")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([PY, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}",
                               "-w", str(args.workers), "--keep-alive", "30", "--timeout", "120", "--preload"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        out: mp.Queue = mp.Queue()
        procs = [mp.Process(target=_client, args=(port, token, share, out)) for share in shares]
        started = time.perf_counter()
        for p in procs:
            p.start()
        results = [out.get(timeout=1800) for _ in procs]
        seconds = time.perf_counter() - started
        for p in procs:
            p.join()
    finally:
        server.terminate()
        _, log = server.communicate(timeout=30)
    accepted = sum(r[0] for r in results)
    duplicates = sum(r[1] for r in results)
    failures = sum(r[2] for r in results)
    sent = sum(len(json.loads(b)) for b in batches)
    stored = _count_events(env)
    print(f"{sent:,} events sent in {seconds:.1f} s: {sent / seconds:,.0f} events/s received, "
          f"{accepted / seconds:,.0f} events/s accepted (stored); {accepted:,} accepted + {duplicates:,} duplicates")
    print(f"failed requests: {failures}  {[e for r in results for e in r[3]][:3]}")
    print(f"rows in the database: {stored:,} == accepted {accepted:,}: {stored == accepted}; "
          f"== distinct events sent {len(rows):,}: {stored == len(rows)}")
    locked = log.decode(errors="replace").count("database is locked")
    print(f'"database is locked" in the server log: {locked}')


def _count_events(env: dict) -> int:
    code = "from recsys.models import Event; print(Event.objects.count())"
    out = subprocess.run([PY, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True).stdout
    return int(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the import file")
    parser.add_argument("--api-events", type=int, default=200_000, help="distinct events posted to the API")
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                           "postgres://postgres@127.0.0.1:5432/curio_bench"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args()

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    kinds = [k for k, skip in (("postgresql", args.skip_postgres), ("sqlite", args.skip_sqlite)) if not skip]
    with tempfile.TemporaryDirectory(prefix="curio-bench-") as tmp:
        workdir = Path(tmp)
        items = workdir / "items.csv"
        write_items(items)
        print(f"catalog: {N_ITEMS:,} items in 20 categories ({mib(items)})")
        if not args.skip_import:
            files = []
            for n in (args.events, args.events // 5):
                path = workdir / f"events-{n}.csv"
                write_events(path, n, seed=n)
                files.append((n, path))
                print(f"event file: {n:,} events, ~{max(n // 20, 10):,} shoppers, CSV {mib(path)}")
            for kind in kinds:
                bench_import(kind, args, workdir, items, files)
        if not args.skip_api:
            for kind in kinds:
                bench_api(kind, args, workdir, items)


if __name__ == "__main__":
    main()
