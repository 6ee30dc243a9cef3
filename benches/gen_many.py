#!/usr/bin/env python3
# benches/gen_many.py — the "check + compile of 10,000 functions" benchmark: generates a large Strata program and times `strata check` and `strata run` on it.
"""Generate a Strata program of N functions (default 10,000) that call each other, then time
`strata check FILE` and `strata run FILE` (median of --runs runs after one warm-up).

The functions have the bodies real code has, in four rotating shapes: integer loops,
vector pipelines with closures, records and enum matches, strings and maps. They form a
binary tree of calls, f(k) -> f(2k+1), f(2k+2), so `main` (a single trivial call of f0)
reaches every function exactly once: however lazily the JIT compiles, `run` checks and
compiles all N, and the execution itself is tiny. Each function also names one random
other function behind a guard that is never true at run time (`d > 1000`; d is the tree
depth, at most ~14), so the checker sees a dense call graph with cycles, as in a real
code base, while the run stays linear.

The expected output is computed here by a Python model of the same program, and the run
is checked against it before it is timed.

    python3 benches/gen_many.py                      # uses target/release/strata
    python3 benches/gen_many.py --strata PATH --count 10000 --runs 5 --out /tmp/many.strata
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

MOD = 10007
GUARD = 1000  # `d > GUARD` never holds at run time: d <= log2(N) + 1


def words(rng, n):
    return ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 7)))
            for _ in range(n)]


class Fn:
    """One generated function: its source text and a Python model of its value."""

    def __init__(self, k, n, rng):
        self.k = k
        self.shape = k % 4
        self.children = [c for c in (2 * k + 1, 2 * k + 2) if c < n]
        self.cross = rng.randrange(n)
        self.a = rng.randint(2, 97)
        self.m = rng.randint(50, 500)
        self.loops = rng.randint(2, 6)
        self.length = rng.randint(3, 9)
        self.price = rng.randint(1, 40)
        self.scale = rng.randint(2, 5)
        self.words = words(rng, 3)

    # The tail adds the children's values: the first gets this function's `acc`, the
    # second the caller's `x`, so both data paths are exercised.
    def tail_src(self):
        parts = ["acc"]
        for i, c in enumerate(self.children):
            parts.append(f"f{c}({'acc' if i == 0 else 'x'}, d + 1)")
        return "    " + " + ".join(parts) + "\n"

    def tail_value(self, model, acc, x, d):
        total = acc
        for i, c in enumerate(self.children):
            total += model(c, acc if i == 0 else x, d + 1)
        return total

    def source(self):
        k, r = self.k, self.cross
        head = f"fn f{k}(x: int, d: int) -> int {{\n"
        if self.shape == 0:  # integer loop
            body = (f"    var acc = x % {self.m} + {k % 1000};\n"
                    f"    var i = 0;\n"
                    f"    while i < {self.loops} {{\n"
                    f"        acc = (acc * {self.a} + i) % {MOD};\n"
                    f"        i += 1;\n"
                    f"    }}\n"
                    f"    if d > {GUARD} {{\n"
                    f"        acc += f{r}(acc, d + 1);\n"
                    f"    }}\n")
        elif self.shape == 1:  # vector pipeline with closures
            body = (f"    let xs = range(0, {self.length});\n"
                    f"    let ys = map(xs, |v| v * {self.a} + x % 13);\n"
                    f"    let evens = filter(ys, |v| v % 2 == 0);\n"
                    f"    let acc = fold(evens, {k % 100}, |s, v| (s + v) % {MOD});\n"
                    f"    if d > {GUARD} {{\n"
                    f"        return f{r}(acc, d + 1);\n"
                    f"    }}\n")
        elif self.shape == 2:  # records and enums
            body = (f"    let it = Item {{ id: {k}, qty: x % 7 + 1, price: {self.price} }};\n"
                    f"    let step = if x % 3 == 0 {{ Step::Add(it.qty) }} else if x % 3 == 1 {{ Step::Scale({self.scale}) }} else {{ Step::Skip }};\n"
                    f"    let next = match step {{\n"
                    f"        Step::Add(n) => Item {{ qty: it.qty + n, ..it }},\n"
                    f"        Step::Scale(n) => Item {{ price: it.price * n, ..it }},\n"
                    f"        Step::Skip => it,\n"
                    f"    }};\n"
                    f"    var acc = (next.qty * next.price + next.id) % {MOD};\n"
                    f"    if d > {GUARD} {{\n"
                    f"        acc = f{r}(acc, d + 1);\n"
                    f"    }}\n")
        else:  # strings and maps
            body = (f"    let words = split(\"{','.join(self.words)}\", \",\");\n"
                    f"    var text = \"\";\n"
                    f"    for w in words {{\n"
                    f"        text = text + upper(w) + \"-\";\n"
                    f"    }}\n"
                    f"    let counts = {{\"len\": len(text), \"x\": x % 17}};\n"
                    f"    var acc = counts[\"len\"] * {self.a} + get(counts, \"x\", 0) + {k % 50};\n"
                    f"    if contains(text, \"E-\") {{\n"
                    f"        acc += 1;\n"
                    f"    }}\n"
                    f"    if d > {GUARD} {{\n"
                    f"        acc += f{r}(x, d + 1);\n"
                    f"    }}\n")
        return head + body + self.tail_src() + "}\n"

    def value(self, model, x, d):
        assert d <= GUARD
        k = self.k
        if self.shape == 0:
            acc = x % self.m + k % 1000
            for i in range(self.loops):
                acc = (acc * self.a + i) % MOD
        elif self.shape == 1:
            ys = [v * self.a + x % 13 for v in range(self.length)]
            acc = k % 100
            for v in ys:
                if v % 2 == 0:
                    acc = (acc + v) % MOD
        elif self.shape == 2:
            qty, price = x % 7 + 1, self.price
            if x % 3 == 0:
                qty += qty
            elif x % 3 == 1:
                price *= self.scale
            acc = (qty * price + k) % MOD
        else:
            text = "".join(w.upper() + "-" for w in self.words)
            acc = len(text) * self.a + x % 17 + k % 50
            if "E-" in text:
                acc += 1
        return self.tail_value(model, acc, x, d)


def generate(n, seed):
    rng = random.Random(seed)
    fns = [Fn(k, n, rng) for k in range(n)]
    src = [f"// Generated by benches/gen_many.py: {n} functions, seed {seed}.\n",
           "type Item { id: int, qty: int, price: int = 1 }\n",
           "enum Step { Add(int), Scale(int), Skip }\n\n"]
    src += [f.source() + "\n" for f in fns]
    src.append("fn main() {\n    print(f0(1, 0));\n}\n")

    def model(k, x, d):
        return fns[k].value(model, x, d)

    sys.setrecursionlimit(10000)
    return "".join(src), str(model(0, 1, 0))


def time_runs(cmd, runs):
    """Median wall time of `runs` runs after one warm-up; fails on a non-zero exit."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
        if i > 0:
            times.append(elapsed)
    return statistics.median(times), proc.stdout


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--strata", default=os.environ.get("STRATA", os.path.join(here, "..", "target", "release", "strata")))
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="/tmp/strata-bench/many.strata")
    p.add_argument("--generate-only", action="store_true", help="write the program and its expected output, time nothing")
    args = p.parse_args()

    src, expected = generate(args.count, args.seed)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(src)
    print(f"wrote {args.out}: {args.count} functions, {src.count(chr(10))} lines, "
          f"{len(src) // 1024} KiB; expected output {expected}")
    if args.generate_only:
        return

    check, _ = time_runs([args.strata, "check", args.out], args.runs)
    run, out = time_runs([args.strata, "run", args.out], args.runs)
    if out.strip() != expected:
        sys.exit(f"WRONG OUTPUT: strata run {args.out} printed {out.strip()!r}, expected {expected}")
    per = 1e6 / args.count
    print(f"check {args.count} fns: {check:.3f} s ({check * per:.1f} us/fn)")
    print(f"run (check + compile + a trivial main) {args.count} fns: {run:.3f} s ({run * per:.1f} us/fn)")


if __name__ == "__main__":
    main()
