"""Engine-only throughput with 1, 2 and 4 engine processes on one PostgreSQL database.

    .venv/bin/python bench/scale_workers.py [N] [process counts, e.g. 1,2,4]

(BENCH_DATABASE_URL names the database it recreates; default flowsync_bench, bench/common.py.)

Runs bench/hello_throughput.py once per process count (a fresh database each time: N start
commands drained, N job completions drained, the engine processes claiming instances with
SKIP LOCKED) and prints its engine-only figure as a table with the speed-up over one process.
Mind the machine: on 2 cores shared with PostgreSQL, more than two processes cannot scale.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(n: int, processes: int) -> tuple[float, float]:
    """(engine-only PI/s, engine Python CPU µs per instance summed over the processes)."""
    done = subprocess.run([sys.executable, str(HERE / "hello_throughput.py"), str(n), str(processes)],
                          capture_output=True, text=True, check=True)
    rate = re.search(r"engine-only throughput:\s+(\d+) PI/s", done.stdout)
    cpu = re.search(r"engine Python CPU per instance:\s+(\d+) µs", done.stdout)
    if not rate or not cpu:
        raise RuntimeError(done.stdout + done.stderr)
    return float(rate.group(1)), float(cpu.group(1))


def main(n: int, counts: list[int]) -> None:
    rows = [(c, *run(n, c)) for c in counts]
    base = rows[0][1]
    print(f"engine-only throughput, {n} instances (start → service task → end), one database;"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'processes':>9}  {'PI/s':>7}  {'speed-up':>8}  {'CPU µs/PI':>9}")
    for count, rate, cpu in rows:
        print(f"{count:>9}  {rate:>7.0f}  {rate / base:>7.2f}x  {cpu:>9.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000,
         [int(c) for c in (sys.argv[2] if len(sys.argv) > 2 else "1,2,4").split(",")])
