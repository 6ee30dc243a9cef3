#!/usr/bin/env python3
# benches/table.py — the Strata-vs-peers table of benches/run.sh, from the hyperfine JSON it and ../shared/bench/run.sh wrote.
"""Print one Markdown row per benchmark: Strata's median, Rust's, Rust with overflow
checks, the fastest other peer, and Strata's ratio to each.

    python3 benches/table.py JSON_DIR PASS BENCH...

"Fastest peer" is the fastest of the non-Rust peers (the live languages a Strata user
would otherwise pick: Lua, LuaJIT, SBCL, Erlang, Node, Python); the Rust columns stand
for ahead-of-time compiled code. A missing result prints as n/a.
"""
import json
import statistics
import sys
from pathlib import Path

RUST = ("rust", "rust-ovf")


def median(path):
    try:
        return statistics.median(json.loads(path.read_text())["results"][0]["times"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def fmt(s):
    if s is None:
        return "n/a"
    return f"{s:.4f}" if s < 0.1 else f"{s:.3f}" if s < 10 else f"{s:.1f}"


def ratio(a, b):
    return "n/a" if a is None or b is None else f"{a / b:.2f}x"


def main():
    out, npass, benches = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    print("| bench | strata | rust | rust-ovf | fastest peer | strata/rust | strata/rust-ovf | strata/peer |")
    print("|---|---|---|---|---|---|---|---|")
    for b in benches:
        res = {}
        for f in out.glob(f"{b}.*.pass{npass}.json"):
            peer = f.name[len(b) + 1:-len(f".pass{npass}.json")]
            res[peer] = median(f)
        strata, rust, ovf = res.get("strata"), res.get("rust"), res.get("rust-ovf")
        others = {p: t for p, t in res.items() if p not in RUST and p != "strata" and t is not None}
        best = min(others, key=others.get) if others else None
        peer_cell = f"{fmt(others[best])} ({best})" if best else "n/a"
        peer_time = others[best] if best else None
        print(f"| {b} | {fmt(strata)} | {fmt(rust)} | {fmt(ovf)} | {peer_cell} | "
              f"{ratio(strata, rust)} | {ratio(strata, ovf)} | {ratio(strata, peer_time)} |")


if __name__ == "__main__":
    main()
