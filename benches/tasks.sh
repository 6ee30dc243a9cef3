#!/usr/bin/env bash
# benches/tasks.sh — the task benchmarks of issue 5:
#   1. commit throughput of small transactions with 1, 2 and 8 service tasks
#      (steps per second; all tasks writing one counter, so steps conflict and
#      are retried, and each task writing its own global);
#   2. the latency from a redefinition's commit to the first step that runs it;
#   3. the cost of the interrupt polls on loop back-edges: benches/loop.strata
#      with the normal build vs one built with `--features jit/bench-no-polls`
#      (into target/no-polls; the first time this takes a few minutes).
#
#   bash benches/tasks.sh          # RUNS=5 by default; medians are reported
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$ROOT"
cargo build --release --workspace --quiet
cargo build --release -p strata --features jit/bench-no-polls --target-dir target/no-polls --quiet
STRATA=$ROOT/target/release/strata
NOPOLLS=$ROOT/target/no-polls/release/strata
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "## commit throughput (steps/s, median of $RUNS runs)"
for shared in true false; do
  for tasks in 1 2 8; do
    sed -e "s/^let TASKS = 1;/let TASKS = $tasks;/" -e "s/^let SHARED = true;/let SHARED = $shared;/" \
      benches/tasks.strata > "$TMP/t.strata"
    for ((i = 0; i < RUNS; i++)); do
      "$STRATA" run "$TMP/t.strata" > "$TMP/out.$i"
      sed -nE 's/.* = ([0-9]+) steps\/s/\1/p' "$TMP/out.$i"
    done > "$TMP/rates"
    echo "tasks=$tasks shared_counter=$shared: $(median < "$TMP/rates") steps/s"
    if [ "$tasks" = 1 ] && [ "$shared" = true ]; then
      cat "$TMP"/out.* | grep '^redefinition' > "$TMP/lat"
    fi
  done
done
echo
echo "## redefinition commit -> first step running the new code (ms, 20 per run)"
cat "$TMP/lat"
echo
echo "## interrupt polls on benches/loop.strata"
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$TMP/polls.json" \
  -n polls "$STRATA run benches/loop.strata" -n no-polls "$NOPOLLS run benches/loop.strata" > /dev/null
python3 - "$TMP/polls.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
print(f"with polls {r['polls']:.3f} s, without {r['no-polls']:.3f} s: overhead {100 * (r['polls'] / r['no-polls'] - 1):+.1f}%")
PY
