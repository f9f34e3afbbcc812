"""Issue #26's open question, measured: would a compact per-shopper profile row (one primary-key read) pay for
itself against the events query a personal list makes today?

    .venv/bin/python bench/bench_shopper_read.py [--database-url postgres://postgres@127.0.0.1:5432/curio_bench_serving]

On the serving bench's shop (bench/bench_serving.py builds it: 50,000 shoppers, ~1,000,000 long-tailed events), in
one process and one connection, for the same random known shoppers:
- "events query": serving's own statement (recsys.serving.reads: recent events + "not interested" in one round
  trip, server-side prepared), rows decoded as psycopg returns them;
- "profile row": a table built here (temporary, dropped at the end) holding per shopper what that query returns
  (consent, the last 500 events as parallel arrays, the seen set, "not interested"), read by primary key, prepared.
Printed per read: wall ms (client + server, p50 / p90 / p99) and the PostgreSQL backend's CPU ms (from /proc), so
the saving can be set against a personal list's whole cost (bench_serving.py: worker + PostgreSQL ms/req).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import time

import psycopg


def backend_cpu_ms(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def events_sql(limit: int) -> str:
    return ("SELECT * FROM (SELECT 'e' AS kind, s.personalization_consent AS consent, i.item_id AS item_id, "
            "e.type AS type, e.value AS value, e.timestamp AS ts "
            "FROM recsys_event e JOIN recsys_shopper s ON s.id = e.shopper_id "
            "JOIN recsys_item i ON i.id = e.item_id "
            f"WHERE s.user_id = %s ORDER BY e.timestamp DESC LIMIT {limit}) h "
            "UNION ALL "
            "SELECT 'f', s.personalization_consent, i.item_id, NULL, NULL, NULL "
            "FROM recsys_feedback f JOIN recsys_shopper s ON s.id = f.shopper_id "
            "JOIN recsys_item i ON i.id = f.item_id "
            "WHERE s.user_id = %s AND f.type = 'not_interested'")


PROFILE_SQL = ("SELECT consent, item_ids, types, vals, ts, seen, not_interested FROM bench_shopper_profile "
               "WHERE user_id = %s")


def build_profiles(conn, limit: int) -> float:
    started = time.perf_counter()
    conn.execute("DROP TABLE IF EXISTS bench_shopper_profile")
    conn.execute(f"""
        CREATE TABLE bench_shopper_profile AS
        SELECT s.user_id, s.personalization_consent AS consent,
               array_agg(i.item_id ORDER BY e.timestamp DESC) FILTER (WHERE e.rn <= {limit}) AS item_ids,
               array_agg(e.type ORDER BY e.timestamp DESC) FILTER (WHERE e.rn <= {limit}) AS types,
               array_agg(e.value ORDER BY e.timestamp DESC) FILTER (WHERE e.rn <= {limit}) AS vals,
               array_agg(extract(epoch FROM e.timestamp) ORDER BY e.timestamp DESC)
                   FILTER (WHERE e.rn <= {limit}) AS ts,
               array_agg(DISTINCT i.item_id) AS seen,
               ARRAY[]::text[] AS not_interested
        FROM (SELECT *, row_number() OVER (PARTITION BY shopper_id ORDER BY timestamp DESC) AS rn
              FROM recsys_event) e
        JOIN recsys_shopper s ON s.id = e.shopper_id JOIN recsys_item i ON i.id = e.item_id
        GROUP BY s.user_id, s.personalization_consent""")
    conn.execute("ALTER TABLE bench_shopper_profile ADD PRIMARY KEY (user_id)")
    conn.execute("ANALYZE bench_shopper_profile")
    return time.perf_counter() - started


def timed(conn, pid: int, sql: str, users: list[str], params) -> dict:
    walls = []
    cpu0 = backend_cpu_ms(pid)
    with conn.cursor() as cur:
        for user in users:
            t = time.perf_counter()
            cur.execute(sql, params(user), prepare=True)
            cur.fetchall()
            walls.append((time.perf_counter() - t) * 1000)
    cpu = (backend_cpu_ms(pid) - cpu0) / len(users)
    walls.sort()
    q = statistics.quantiles(walls, n=100)
    return {"p50": statistics.median(walls), "p90": q[89], "p99": q[98], "pg_cpu": cpu}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/curio_bench_serving")
    p.add_argument("--reads", type=int, default=5000)
    p.add_argument("--limit", type=int, default=500, help="events per history (CURIO_SERVING_HISTORY_LIMIT)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        pid = conn.info.backend_pid
        users = [r[0] for r in conn.execute("SELECT user_id FROM recsys_shopper WHERE EXISTS "
                                            "(SELECT 1 FROM recsys_event e WHERE e.shopper_id = recsys_shopper.id)")]
        print(f"{len(users):,} known shoppers; building the profile rows ...")
        built = build_profiles(conn, args.limit)
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('bench_shopper_profile'))").fetchone()[0]
        print(f"profiles built in {built:.1f} s ({size})")
        rng = random.Random(26)
        sql = events_sql(args.limit)
        try:
            results: dict[str, list[dict]] = {"events query": [], "profile row": []}
            for _ in range(args.rounds):  # interleaved, warm: each round reads the same shoppers both ways
                sample = rng.sample(users, args.reads)
                results["events query"].append(timed(conn, pid, sql, sample, lambda u: (u, u)))
                results["profile row"].append(timed(conn, pid, PROFILE_SQL, sample, lambda u: (u,)))
            print(f"\n{args.reads:,} reads x {args.rounds} rounds, one connection, prepared (medians of the rounds):")
            print("| read | wall p50 ms | p90 ms | p99 ms | PostgreSQL CPU ms/read |")
            print("|---|---:|---:|---:|---:|")
            for name, rows in results.items():
                med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
                print(f"| {name} | {med['p50']:.3f} | {med['p90']:.3f} | {med['p99']:.3f} | {med['pg_cpu']:.3f} |")
        finally:
            conn.execute("DROP TABLE IF EXISTS bench_shopper_profile")


if __name__ == "__main__":
    main()
