"""The embedded default under load (issue #26): SQLite, no Redis, the demo shop, gunicorn as documented.

    .venv/bin/python bench/bench_embedded.py [--seconds 20] [--profile]

A fresh temp folder gets what `make run` makes (migrate, the demo shop with its trained model) and one API client;
gunicorn serves it with config/gunicorn.conf.py (3 gthread workers x 1 thread, DEBUG=0, no REDIS_URL: the
embedded default), and wrk (bench/wrk_lists.lua, 4 connections, 2 threads) loads /healthz, popular lists and
personal lists of random demo shoppers in the same run. Printed per phase: rps, p50, p99, max, the ratio to
/healthz and the gunicorn workers' CPU ms per request (/proc). `--profile`: py-spy records every worker during one
more popular phase and prints the top functions by own samples.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import bench_serving as serving_bench  # noqa: E402 - the wrk driver, /proc accounting and helpers

PHASES = ("healthz", "popular", "personal")


def manage(env: dict, *args: str) -> str:
    out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=900)
    if out.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def worker_pids(master: int) -> list[int]:
    return [p for p in serving_bench.process_tree(master) if p != master]


def cpu_ms(pids: list[int]) -> float:
    return sum((serving_bench.cpu_seconds(p) or 0.0) for p in pids) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()
    args.wrk_threads, args.connections = 2, 4
    work = Path(tempfile.mkdtemp(prefix="curio-embedded-"))
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DEBUG="0", SECRET_KEY="bench-embedded-" + "k" * 40,
               ALLOWED_HOSTS="127.0.0.1,localhost", DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
               MODEL_DIR=str(work / "models"), OPENBLAS_NUM_THREADS="1", LOG_LEVEL="WARNING")
    print(f"[setup] {work}: migrate, the demo shop and its model (as `make run` does) ...", flush=True)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    manage(env, "demo", "--train")
    token = manage(env, "create_api_client", "bench-embedded", "--write").strip().splitlines()[-1]
    users = re.findall(r"demo-u\d+", manage(env, "shell", "-c",
                       "from recsys.catalog.models import Shopper; "
                       "print(' '.join(Shopper.objects.filter(user_id__startswith='demo-u').values_list('user_id', "
                       "flat=True)))"))
    rng = random.Random(26)
    files = {
        "healthz": [("GET", "/healthz", "", "")],
        "popular": [("GET", "/api/v1/popular/?limit=10&placement=home", "", "")],
        "personal": [("GET", f"/api/v1/users/{u}/recommendations/?limit=10&placement=home", "", "")
                     for u in rng.sample(users, min(len(users), 500))],
    }
    paths = {}
    for name, lines in files.items():
        paths[name] = work / f"{name}.tsv"
        paths[name].write_text("".join("\t".join(x) + "\n" for x in lines))
    port = serving_bench.free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application",
         "-b", f"127.0.0.1:{port}", "--workers", "3", "--threads", "1", "--worker-class", "gthread",
         "--keep-alive", "30", "--preload"],
        cwd=ROOT, env=env, stdout=open(work / "gunicorn.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if serving_bench.http(port, "GET", "/healthz", "")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        pids = worker_pids(server.pid)
        for name in PHASES:  # warm-up: every worker serves each request kind
            serving_bench.run_wrk(port, paths[name], token, 3, args, 1, None, close=True)
        results = {}
        print(f"\nembedded default (SQLite, no Redis), demo shop, 3 gthread workers x 1 thread, wrk 4 connections, "
              f"{args.seconds} s a phase\n")
        print("| list | rps | p50 ms | p99 ms | max ms | x /healthz | worker CPU ms/req |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name in PHASES:
            before = cpu_ms(pids)
            r = serving_bench.run_wrk(port, paths[name], token, args.seconds, args, 26, None)
            r["cpu"] = (cpu_ms(pids) - before) / max(r["requests"], 1)
            results[name] = r
            ratio = r["rps"] / results["healthz"]["rps"]
            print(f"| {name} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.0f} | {ratio:.2f}x | "
                  f"{r['cpu']:.2f} |", flush=True)
        if args.profile:
            profile_popular(port, paths["popular"], token, args, pids, work)
    finally:
        server.terminate()
        server.wait(timeout=30)


def profile_popular(port: int, path: Path, token: str, args, pids: list[int], work: Path) -> None:
    spy = Path(sys.executable).parent / "py-spy"
    outs = [work / f"spy-{pid}.txt" for pid in pids]
    procs = [subprocess.Popen([str(spy), "record", "--pid", str(pid), "--duration", str(args.seconds), "--rate", "100",
                               "--format", "raw", "--output", str(out), "--nonblocking"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for pid, out in zip(pids, outs, strict=True)]
    time.sleep(1)
    serving_bench.run_wrk(port, path, token, args.seconds - 2, args, 27, None)
    for proc in procs:
        proc.wait(timeout=60)
    stacks: Counter = Counter()
    for out in outs:
        if out.exists():
            for line in out.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                stacks[stack] += int(count)
    total, own, _ = serving_bench.top_functions(stacks, 20)
    print(f"\npy-spy, every worker, one more popular phase: {total:,} samples; top functions by own samples:")
    for name, share, _total_share in own:
        print(f"  {share:5.1f}  {name}")


if __name__ == "__main__":
    main()
