#!/usr/bin/env bash
# benches/redefine.sh — time per redefinition (check + compile + commit + call) with
# N = 100 and N = 10,000 other functions defined, and the memory each one retains.
#
#   bash benches/redefine.sh            # uses target/release/strata, 5 runs per variant
#
# benches/redefine.strata measures its phases with now_ms() and, with REPORT = true,
# prints `define N fns: T ms (U us/def); redefine+call: M us mean` as a third line.
# Each N is run RUNS times; the table gives the median of the per-run means.
# Retained memory: peak RSS with 1,000 redefinitions minus peak RSS with none.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=${STRATA:-$ROOT/target/release/strata}
RUNS=${RUNS:-5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

rss() { # peak RSS in KiB of one run
  /usr/bin/time -f %M "$STRATA" run "$1" 2>&1 >/dev/null | tail -1
}

declare -A per
for n in 100 10000; do
  means=()
  for r in 0 1000; do
    sed -e "s/^let N_FUNCS = 10000;/let N_FUNCS = $n;/" -e "s/^let N_REDEFS = 1000;/let N_REDEFS = $r;/" \
      -e "s/^let REPORT = false;/let REPORT = true;/" "$ROOT/benches/redefine.strata" > "$TMP/r_${n}_$r.strata"
  done
  for ((i = 0; i < RUNS; i++)); do
    line=$("$STRATA" run "$TMP/r_${n}_1000.strata" | tail -1)
    means+=("$(sed -E 's/.*redefine\+call: ([0-9]+) us mean/\1/' <<<"$line")")
    echo "N=$n run $((i + 1)): $line"
  done
  per[$n]=$(printf '%s\n' "${means[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
  rss_with=$(rss "$TMP/r_${n}_1000.strata"); rss_without=$(rss "$TMP/r_${n}_0.strata")
  printf 'N=%-6s redefine+call median: %s us; retained: %.2f KiB per redefinition\n' \
    "$n" "${per[$n]}" "$(python3 -c "print(($rss_with - $rss_without) / 1000)")"
done
python3 -c "print('ratio N=10000 / N=100: %.2f' % (${per[10000]} / ${per[100]}))"
