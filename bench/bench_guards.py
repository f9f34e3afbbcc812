"""JSON guard benchmark: the parser every API body goes through (recsys.http.guards.SafeJSONParser), on the
adversarial bodies of issue #25 and on an ordinary batch.

    .venv/bin/python bench/bench_guards.py
    .venv/bin/python bench/bench_guards.py --guards /path/to/older/guards.py   # the same, with another version

The reported body is `[`x40, `"`, then `\\"` repeated up to the size (an unterminated string of escaped
quotes): the guards before issue #25 spent 1.2 s on it at 20 KB and 31 s at 400 KB. Each figure is the
best of a few runs, in milliseconds, of one call of the parser (the answer is a 400 unless noted).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

KB = 1024
SIZES = (20 * KB, 40 * KB, 400 * KB, 1024 * KB)


def _repeat(head: bytes, unit: bytes, size: int) -> bytes:
    return head + unit * ((size - len(head)) // len(unit))


SHAPES = {
    "reported: [x40 \" then \\\" repeated": lambda n: _repeat(b"[" * 40 + b'"', b'\\"', n),
    "deep arrays: [ repeated": lambda n: b"[" * n,
    "deep objects: {\"a\": repeated": lambda n: _repeat(b"", b'{"a":', n),
    "escaped strings: [\"\\n\\\"\", ...] (valid)": lambda n: _repeat(b"[", b'"\\n\\"",', n) + b'"x"]',
}


def _load_parser(path: str | None):
    if path is None:
        from recsys.http.guards import SafeJSONParser

        return SafeJSONParser
    spec = importlib.util.spec_from_file_location("guards_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SafeJSONParser


def _best_ms(parser_class, raw: bytes, budget_s: float) -> tuple[float, str]:
    best, outcome, spent = float("inf"), "", 0.0
    for _ in range(5):
        start = time.perf_counter()
        try:
            parser_class().parse(BytesIO(raw), "application/json", {})
            outcome = "parsed"
        except Exception as exc:  # noqa: BLE001 - the figure is what matters; the kind is printed
            outcome = type(exc).__name__
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > budget_s:
            break
    return best * 1000, outcome


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--guards", help="a guards.py to measure instead of recsys/http/guards.py")
    args.add_argument("--sizes", default=",".join(str(s // KB) for s in SIZES), help="sizes in KB, comma-separated")
    args.add_argument("--budget", type=float, default=5.0, help="seconds per figure before it stops repeating")
    options = args.parse_args()

    import django

    django.setup()
    parser_class = _load_parser(options.guards)
    sizes = [int(s) * KB for s in options.sizes.split(",")]
    print(f"guards: {options.guards or 'recsys/http/guards.py'}; python {sys.version.split()[0]}")
    print(f"{'body':44} " + " ".join(f"{s // KB:>7} KB" for s in sizes))
    for name, make in SHAPES.items():
        cells = []
        for size in sizes:
            ms, outcome = _best_ms(parser_class, make(size), options.budget)
            cells.append(f"{ms:>8.1f}{'*' if outcome == 'parsed' else ' '}")
        print(f"{name:44} " + " ".join(f"{c:>10}" for c in cells))
    print("ms, best of up to 5 runs; * = parsed (valid JSON), else refused with a 400")
    batch = json.dumps([{"user_id": f"u{n}", "item_id": f"sku-{n}", "type": "view"} for n in range(10_000)]).encode()
    ms, outcome = _best_ms(parser_class, batch, options.budget)
    print(f"an ordinary 10,000-event batch ({len(batch) // KB} KB): {ms:.1f} ms ({outcome})")


if __name__ == "__main__":
    main()
