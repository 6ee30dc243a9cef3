#!/usr/bin/env bash
# benches/run.sh — builds strata, times the Strata versions of the peer benchmarks beside the peers of ../shared/bench, and prints the ratio table.
#
#   bash benches/run.sh                       # startup fib loop nbody trees, every peer, then gen_many.py
#   bash benches/run.sh fib nbody             # some benchmarks only
#   PEERS="rust rust-ovf luajit" bash benches/run.sh
#   PEERS=none bash benches/run.sh            # Strata only; the table reuses peer JSON already in $OUT
#   MANY=0 bash benches/run.sh                # skip the 10,000-function check + compile benchmark
#
# Peers are built, checked and timed by ../shared/bench/run.sh itself (same commands,
# same hyperfine settings as its README's table). Each Strata program is first run once
# and its stdout diffed against ../shared/bench/B/expected.txt (a wrong answer is
# reported and not timed), then timed with `hyperfine -N --warmup 1 --runs 5`.
# Every result is hyperfine JSON in $OUT (default /tmp/strata-bench/json), named like
# the peers' (<bench>.<peer>.pass<N>.json), so ../shared/bench/summarize.py reads them too.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
OUT=${OUT:-/tmp/strata-bench/json}
PASS=${PASS:-1}
BENCHES=${*:-startup fib loop nbody trees}
PEERS=${PEERS:-rust rust-ovf lua5.4 luajit sbcl erlang node python3}
MANY=${MANY:-1}
STRATA=$ROOT/target/release/strata
export OUT PASS

[[ -d $SHARED_BENCH ]] || { echo "error: peer benchmarks not found at $SHARED_BENCH (set SHARED_BENCH)" >&2; exit 1; }
mkdir -p "$OUT"

# --- tools: install what is missing when we may (root + apt), else say so and skip it
apt_updated=0
ensure() { # ensure COMMAND DEBIAN-PACKAGE: 0 when COMMAND is (now) available
  command -v "$1" >/dev/null 2>&1 && return 0
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    if (( ! apt_updated )); then apt-get update -qq >&2 || true; apt_updated=1; fi
    echo "installing $2 (for $1)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2 || true
  fi
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "missing: $1 (Debian package $2); not root or not installable here" >&2
  return 1
}

ensure hyperfine hyperfine || { echo "error: hyperfine is needed to time anything" >&2; exit 1; }
ensure python3 python3 || { echo "error: python3 is needed for the table" >&2; exit 1; }

peers_ok=()
for p in $PEERS; do
  case $p in
    none) continue ;;
    rust|rust-ovf) need=(rustc:rustc) ;;
    lua5.4) need=(lua5.4:lua5.4) ;;
    luajit) need=(luajit:luajit) ;;
    sbcl) need=(sbcl:sbcl) ;;
    erlang|erlang-onemodule) need=(erl:erlang-nox erlc:erlang-nox) ;;
    node) need=(node:nodejs) ;;
    python3|python3-deb) need=(python3:python3) ;;
    *) echo "unknown peer $p: skipped" >&2; continue ;;
  esac
  ok=1
  for n in "${need[@]}"; do ensure "${n%%:*}" "${n#*:}" || ok=0; done
  if (( ok )); then peers_ok+=("$p"); else echo "peer $p skipped" >&2; fi
done

# --- strata
echo "== building strata"
# --workspace, as .ci/run builds: the same feature set, so the two share one build
(cd "$ROOT" && cargo build --release --workspace)

# --- peers, by the shared script (it checks each output against expected.txt first)
if (( ${#peers_ok[@]} )); then
  echo "== peers: ${peers_ok[*]}"
  # The shared script compiles every .erl file with erlc whatever $PEERS says, and stops
  # (set -e) where erlc is missing: give it a no-op erlc when Erlang is not being timed.
  if ! command -v erlc >/dev/null 2>&1; then
    shim=$(mktemp -d); trap 'rm -rf "$shim"' EXIT
    printf '#!/bin/sh\nexit 0\n' > "$shim/erlc"; chmod +x "$shim/erlc"
    PATH=$shim:$PATH
  fi
  # shellcheck disable=SC2086  # BENCHES is a word list
  PEERS="${peers_ok[*]}" bash "$SHARED_BENCH/run.sh" $BENCHES || echo "warning: ../shared/bench/run.sh failed; peer results may be missing" >&2
fi

# --- Strata versions
for b in $BENCHES; do
  prog=$ROOT/benches/$b.strata
  expected=$SHARED_BENCH/$b/expected.txt
  json=$OUT/$b.strata.pass$PASS.json
  rm -f "$json"   # never let a stale result stand in for a failed run
  if [[ ! -f $prog ]]; then echo "no Strata version of $b ($prog)" >&2; continue; fi
  echo "== $b / strata"
  # Check the answer first (this run also warms the file cache), from /tmp like the peers.
  if ! (cd /tmp && "$STRATA" run "$prog" 2>"$OUT/$b.strata.stderr.txt") | diff - "$expected" > "$OUT/$b.strata.diff"; then
    echo "WRONG OUTPUT: $b/strata (diff in $OUT/$b.strata.diff, stderr in $OUT/$b.strata.stderr.txt)" >&2
    continue
  fi
  (cd /tmp && hyperfine --style basic -N --warmup 1 --runs 5 --export-json "$json" \
     -n strata "$STRATA run $prog") | grep -E "Time|Range" || true
done

echo
echo "== results (median wall seconds; ratios > 1 mean Strata is slower)"
# shellcheck disable=SC2086
python3 "$ROOT/benches/table.py" "$OUT" "$PASS" $BENCHES

if [[ $MANY != 0 ]]; then
  echo
  echo "== check + compile of 10,000 functions"
  python3 "$ROOT/benches/gen_many.py" --strata "$STRATA" --out "$(dirname "$OUT")/many.strata"
fi
