"""`make bench`: run every benchmark in its own process, then print the whole table.

`python -m bench` runs them all; `python -m bench NAME…` only those; `python -m bench --markdown`
prints the table of bench/results.json for the README. Exits 1 when a figure misses its target
or a benchmark fails.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.results import load, markdown, table

MODULES = [
    "triage",
    "startup",
    "scheduler",
    "digest",
    "report",
    "intake",
    "slack_ack",
    "matrix_roundtrip",
    "matrix_element",
]


def main(arguments: list[str]) -> int:
    if arguments == ["--markdown"]:
        print(markdown(load()))
        return 0
    chosen = arguments or MODULES
    unknown = [name for name in chosen if name not in MODULES]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(MODULES)}")
        return 2
    failed = []
    for name in chosen:
        print(f"\n== bench.{name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"])
        print(f"   ({time.monotonic() - started:.0f} s, exit {code})", flush=True)
        if code != 0:
            failed.append(name)
    figures = load()
    print("\n" + table(figures))
    if failed:
        print(f"\nmissed a target or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
