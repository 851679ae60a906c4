"""FEEL evaluation speed on the 20 most common kinds of expression in real Camunda 8 files.

    .venv/bin/python bench/feel_eval.py [--repo PATH] [--seconds S] [--numbers]

The expressions follow ../shared/in-the-wild.md (names and paths, literals, string
concatenation, comparisons and logic, arithmetic, if, string(), is defined(), not(), string
join, quantifiers, for, now()). Each is compiled once (as at deploy), then evaluated against
the same variables for about S/20 seconds (default 1 s each); printed: CPU microseconds per
evaluation and evaluations per CPU second, per expression and over all 20 (the mean time).
--repo measures another checkout (e.g. /work/main for "before"): its engine is imported
instead of this one. CPU time (process_time) is used because the machine is shared. --numbers measures ten calls of
the numeric built-ins instead (rounding, modulo, sqrt, number(), statistics), which compute on
34-digit decimals.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

EXPRESSIONS = [
    "=orderId",
    "=applicant.email",
    "= source",
    '="approved"',
    "=amount > 100",
    '=status = "APPROVED"',
    "=amount >= 1000 and customer.vip",
    "=not(approved)",
    '="Order " + orderId + " for " + applicant.name',
    "=amount * 1.2 - discount",
    '=if amount > 1000 then "manual" else "auto"',
    "=string(amount)",
    "=is defined(applicant.email)",
    '=string join(tags, ", ")',
    "=count(items) > 0",
    "=sum(for i in items return i.price)",
    "=some i in items satisfies i.price > 50",
    "=items[price > 20]",
    "={id: orderId, total: amount * 2}",
    "=now()",
]

NUMERIC = [
    "=round half up(amount * 1.19, 2)",
    "=decimal(amount / 3, 2)",
    "=floor(amount / 7)",
    "=abs(discount - amount)",
    "=modulo(amount, 7)",
    "=sqrt(amount)",
    '=number("12.50")',
    "=string(amount / 3)",
    "=mean(for i in items return i.price)",
    "=max(for i in items return i.price)",
]

VARIABLES = {
    "orderId": "A-1001",
    "source": "web",
    "amount": 1250,
    "discount": 10,
    "status": "APPROVED",
    "approved": True,
    "applicant": {"email": "ada@example.org", "name": "Ada"},
    "customer": {"vip": True},
    "tags": ["a", "b", "c"],
    "items": [{"price": 10}, {"price": 30}, {"price": 60}],
}


def main(argv: list[str]) -> int:
    repo = Path(__file__).resolve().parent.parent
    seconds = 20.0
    if "--repo" in argv:
        repo = Path(argv[argv.index("--repo") + 1]).resolve()
    if "--seconds" in argv:
        seconds = float(argv[argv.index("--seconds") + 1])
    sys.path.insert(0, str(repo))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsync.settings")
    from engine.expressions import compile_value  # the checkout chosen above

    expressions = NUMERIC if "--numbers" in argv else EXPRESSIONS
    now = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
    print(f"repo {repo}, load average {os.getloadavg()[0]:.2f}")
    print(f"{'expression':<50} {'us/eval':>9} {'evals/s':>10}")
    per_eval = []
    for text in expressions:
        expression = compile_value(text)
        expression.evaluate(VARIABLES, now=now)  # warm up (and fail early)
        count, spent, budget = 0, 0.0, seconds / len(expressions)
        while spent < budget:
            start = time.process_time()
            for _ in range(200):
                expression.evaluate(VARIABLES, now=now)
            spent += time.process_time() - start
            count += 200
        micro = spent / count * 1e6
        per_eval.append(micro)
        print(f"{text:<50} {micro:9.1f} {1e6 / micro:10.0f}")
    mean = sum(per_eval) / len(per_eval)
    print(f"{f'all {len(expressions)} (mean)':<50} {mean:9.1f} {1e6 / mean:10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
