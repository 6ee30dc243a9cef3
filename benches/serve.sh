#!/usr/bin/env bash
# benches/serve.sh — the serving benchmarks of issue 8 (`strata serve`, SPEC section 14),
# on 127.0.0.1 with wrk as the load generator:
#
#   1. requests/s and p50/p99 latency (under load, CONNS connections; and unloaded, one
#      connection) of two handlers, beside a minimal hyper 1.x server in plain Rust
#      (benches/serve/src/main.rs: the upper limit) and Node's `http` module
#      (benches/serve/node.js), each doing the same work:
#        trivial  `fn handle(req: Request) -> Response { Response { body: "ok" } }`
#        json     POST {"name":"ann"}: json_parse the body, json_get "name", increment a
#                 global (`var hits: int = 0`), answer "hello NAME HITS" (hyper: serde_json
#                 and a Mutex<i64>; Node: JSON.parse and a global)
#      targets: Strata at least 50 % of hyper's throughput, and ahead of Node;
#   2. request-scope overrides (SPEC 14.4), on a server started with --allow-overrides
#      (and --request-timeout SPIN_TIMEOUT, so that a dead loop outlasts the load run);
#      its handle calls `overridable fn greet`:
#      (c) a repeated request carrying the same override (cached after the first) against
#          a plain request, one connection (latency, no queueing): target p50 within 1.5x;
#      (d) every request a new override text (a different constant), one connection:
#          the first-request cost (check + compile): target p50 under 5 ms;
#      (e) normal requests while one request's dead-loop override spins (it holds a
#          worker thread and a core until its timeout) against the same load when quiet,
#          at 1 and at CONNS connections: target p99 within 2x of the quiet p99.
#
#   bash benches/serve.sh                 # RUNS=3 runs of SECS=3 s each; ~4 minutes
#   BUILD=0 bash benches/serve.sh         # use target/release/strata as it is
#   RUNS=5 SECS=5 CONNS=128 bash benches/serve.sh
#   PARTS=1 bash benches/serve.sh         # only part 1 (PARTS=2: only the overrides)
#
# Every figure is the median of RUNS runs' figures (requests/s, p50, p99 each on its
# own); runs of the compared servers take turns, so a noisy spell hits them alike.
# Every server gets WARM seconds of load before its first run (Node's JIT, Strata's
# first compile). A run with non-2xx answers or socket errors is reported, since its
# numbers would not be of the intended work. Strata runs with its defaults (2 x cores
# worker threads for evaluations, at least 4, and a tokio reactor of one thread per 4
# cores, at least 1); hyper runs on tokio's default runtime (one thread per core); Node
# is one process. On a 2-core machine wrk competes with the server for the CPU: compare
# ratios from the same run.
#
# Needs wrk (installed with apt-get when missing and run as root; its Lua scripts give
# the POST bodies, a new override text per request, and the percentiles), node, cargo
# (builds benches/serve, a project of its own, not a workspace member: offline when the
# crates are cached), curl and python3.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=${STRATA:-$ROOT/target/release/strata}
PEER_DIR=$ROOT/benches/serve
PEER=${PEER:-$PEER_DIR/target/release/serve-peer}
RUNS=${RUNS:-3}                   # runs per figure (median)
SECS=${SECS:-3}                   # seconds per wrk run
WARM=${WARM:-1}                   # seconds of warm-up load per server
THREADS=${THREADS:-2}             # wrk threads
CONNS=${CONNS:-64}                # wrk connections under load
SPIN_TIMEOUT=${SPIN_TIMEOUT:-5000} # --request-timeout (ms) of the override server
PARTS=${PARTS:-1 2}               # which parts to run
BUILD=${BUILD:-1}
TMP=$(mktemp -d)
declare -A pid url
cleanup() {
  local n
  for n in "${!pid[@]}"; do kill -9 "${pid[$n]}" 2>/dev/null || true; done
  for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$ROOT"

have() { command -v "$1" >/dev/null 2>&1; }
med() { tr ' ' '\n' <<<"${1% }" | sort -g | awk 'NF {a[++n]=$1} END {print (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2}'; }
calc() { python3 -c "print($1)"; }
die() { echo "error: $*" >&2; exit 1; }

if ! have wrk && [ "$(id -u)" = 0 ] && have apt-get; then
  echo "installing wrk" >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk || { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }; } >&2 || true
fi
have wrk || die "wrk is needed (apt-get install wrk)"
have node || die "node is needed"
if [ "$BUILD" = 1 ]; then
  cargo build --release --quiet
  cargo build --release --quiet --manifest-path "$PEER_DIR/Cargo.toml" --offline 2>/dev/null ||
    cargo build --release --quiet --manifest-path "$PEER_DIR/Cargo.toml"
fi
[ -x "$STRATA" ] || die "no strata binary at $STRATA"
[ -x "$PEER" ] || die "no hyper peer at $PEER (cargo build --release --manifest-path benches/serve/Cargo.toml)"

# start NAME CMD...: runs CMD in the background (stdout/stderr in $TMP/NAME.out/.err) and
# waits for its first line `listening on http://H:P`; url[NAME] is that address.
start() {
  local n=$1; shift
  "$@" > "$TMP/$n.out" 2> "$TMP/$n.err" &
  pid[$n]=$!
  for _ in $(seq 300); do grep -q '^listening on ' "$TMP/$n.out" 2>/dev/null && break
    kill -0 "${pid[$n]}" 2>/dev/null || break; sleep 0.05; done
  url[$n]=$(sed -n 's/^listening on //p' "$TMP/$n.out" | head -n 1)
  [ -n "${url[$n]}" ] || die "$n did not start: $(tail -n 5 "$TMP/$n.err")"
}
stop() {
  kill -TERM "${pid[$1]}" 2>/dev/null || true
  wait "${pid[$1]}" 2>/dev/null || true
  unset "pid[$1]"
}

# --- wrk scripts: each ends with report.lua's done(), which prints one line
#     `RESULT requests/s p50_us p99_us non-2xx socket-errors`.
cat > "$TMP/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.1f %.0f %.0f %d %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
LUA
token="bench-$RANDOM$RANDOM$RANDOM"
printf '%s\n' "$token" > "$TMP/token"
chmod 600 "$TMP/token"
lua() { { cat; cat "$TMP/report.lua"; } > "$TMP/$1.lua"; }
lua get <<'LUA'
LUA
lua post <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"name":"ann"}]]
LUA
lua same <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-strata-token"] = "$token"
wrk.body = [[{"name":"ann","override":{"greet":"fn greet(n: str) -> str { \"hi \" + n }"}}]]
LUA
# Every request a new override text: greet returns a different constant (run tag and
# request number), so no two requests share a compiled overlay.
lua fresh <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-strata-token"] = "$token"
local tag, n = "0", 0
init = function(args) tag = args[1] or "0" end
request = function()
  n = n + 1
  return wrk.format(nil, "/", nil,
    [[{"name":"ann","override":{"greet":"fn greet(n: str) -> str { \"hi \" + n + \" ]] .. tag .. "-" .. n .. [[\" }"}}]])
end
LUA
SPIN='{"name":"ann","override":{"greet":"fn greet(n: str) -> str { print(\"spinning\"); var i = 0; while true { i += 1; } n }"}}'

# bench CONNS SECS SCRIPT URL [SCRIPT-ARGS]: prints "rps p50_us p99_us"; a run with
# non-2xx answers or socket errors is reported on stderr.
bench() {
  local c=$1 s=$2 sc=$3 u=$4; shift 4
  local t=$THREADS; [ "$c" -lt "$t" ] && t=$c
  local line args=()
  [ $# -gt 0 ] && args=(-- "$@")
  line=$(wrk -t"$t" -c"$c" -d"${s}s" -s "$TMP/$sc.lua" "$u/" "${args[@]}" | grep '^RESULT') ||
    die "wrk failed against $u ($sc)"
  read -r _ rps p50 p99 bad errs <<<"$line"
  [ "$bad" = 0 ] && [ "$errs" = 0 ] || echo "  warning: $sc at $u: $bad non-2xx answers, $errs socket errors" >&2
  echo "$rps $p50 $p99"
}
declare -A R P50 P99
add() { # add KEY "rps p50 p99"
  local a b c; read -r a b c <<<"$2"
  R[$1]+="$a "; P50[$1]+="$b "; P99[$1]+="$c "
}
us() { # microseconds as "123 us" or "1.23 ms"
  python3 -c "v=float('$1'); print(f'{v:7.0f} us' if v < 1000 else f'{v/1000:7.2f} ms')"
}
verdict() { if python3 -c "import sys; sys.exit(0 if ($1) else 1)"; then echo met; else echo MISSED; fi; }
row() { # row LABEL KEY
  printf '  %-34s %10.0f req/s   p50 %s   p99 %s   [req/s per run: %s]\n' "$1" "$(med "${R[$2]}")" \
    "$(us "$(med "${P50[$2]}")")" "$(us "$(med "${P99[$2]}")")" "${R[$2]% }"
}
expect() { # expect NAME BODY-FILE-OR-"" EXPECTED-PREFIX [curl args]: one request, checks the answer
  local n=$1 data=$2 want=$3; shift 3
  local got
  if [ -n "$data" ]; then got=$(curl -sS --max-time 10 -H 'content-type: application/json' "$@" --data-binary "$data" "${url[$n]}/")
  else got=$(curl -sS --max-time 10 "$@" "${url[$n]}/"); fi
  [[ $got == "$want"* ]] || die "$n answered '$got', expected '$want...'"
}

echo "# strata serve benchmarks — $(date -u +%F) $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')," \
  "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), node $(node -v)"
echo

# =====================================================================================
cat > "$TMP/trivial.strata" <<'EOF'
fn handle(req: Request) -> Response { Response { body: "ok" } }
EOF
cat > "$TMP/json.strata" <<'EOF'
var hits: int = 0
fn handle(req: Request) -> Response {
    let name = match json_get(json_parse(req.body), "name") { Json::Str(s) => s, _ => "world" };
    hits += 1;
    Response { body: "hello " + name + " " + str(hits) }
}
EOF
if [[ " $PARTS " == *" 1 "* ]]; then
echo "## 1. throughput (wrk -t$THREADS -c$CONNS) and unloaded latency (1 connection), ${SECS} s per run, median of $RUNS runs"
for m in trivial json; do
  start "strata-$m" "$STRATA" serve "$TMP/$m.strata" --port 0
  start "hyper-$m" "$PEER" "$m"
  start "node-$m" node "$PEER_DIR/node.js" "$m"
done
for s in strata hyper node; do
  expect "$s-trivial" "" "ok"
  expect "$s-json" '{"name":"ann"}' "hello ann 1"
done
for m in trivial json; do
  sc=get; [ $m = json ] && sc=post
  for s in strata hyper node; do bench "$CONNS" "$WARM" $sc "${url[$s-$m]}" > /dev/null; done
  for ((r = 0; r < RUNS; r++)); do
    for s in strata hyper node; do add "$s-$m" "$(bench "$CONNS" "$SECS" $sc "${url[$s-$m]}")"; done
    for s in strata hyper node; do add "$s-$m-1" "$(bench 1 "$SECS" $sc "${url[$s-$m]}")"; done
  done
done
for s in strata hyper node; do for m in trivial json; do stop "$s-$m"; done; done
for m in trivial json; do
  echo "$m, $CONNS connections:"
  row "strata" "strata-$m"; row "hyper (plain Rust)" "hyper-$m"; row "node http" "node-$m"
  h=$(calc "$(med "${R[strata-$m]}") / $(med "${R[hyper-$m]}")")
  n=$(calc "$(med "${R[strata-$m]}") / $(med "${R[node-$m]}")")
  printf '  throughput strata/hyper %.2f (target >= 0.50: %s)   strata/node %.2f (target > 1: %s)\n' \
    "$h" "$(verdict "$h >= 0.5")" "$n" "$(verdict "$n > 1")"
  echo "$m, 1 connection:"
  row "strata" "strata-$m-1"; row "hyper (plain Rust)" "hyper-$m-1"; row "node http" "node-$m-1"
  printf '  p50 strata/hyper %.2fx, strata/node %.2fx   p99 strata/hyper %.2fx, strata/node %.2fx\n' \
    "$(calc "$(med "${P50[strata-$m-1]}") / $(med "${P50[hyper-$m-1]}")")" \
    "$(calc "$(med "${P50[strata-$m-1]}") / $(med "${P50[node-$m-1]}")")" \
    "$(calc "$(med "${P99[strata-$m-1]}") / $(med "${P99[hyper-$m-1]}")")" \
    "$(calc "$(med "${P99[strata-$m-1]}") / $(med "${P99[node-$m-1]}")")"
done
echo
fi

if [[ " $PARTS " == *" 2 "* ]]; then
# =====================================================================================
cat > "$TMP/app.strata" <<'EOF'
var hits: int = 0
overridable fn greet(name: str) -> str { "hello " + name }
fn handle(req: Request) -> Response {
    let name = match json_get(json_parse(req.body), "name") { Json::Str(s) => s, _ => "world" };
    hits += 1;
    Response { body: greet(name) + " " + str(hits) }
}
EOF
echo "## 2. request overrides (--allow-overrides, --request-timeout $SPIN_TIMEOUT); handle calls overridable greet"
start app "$STRATA" serve "$TMP/app.strata" --port 0 --allow-overrides "$TMP/token" --request-timeout "$SPIN_TIMEOUT"
expect app '{"name":"ann"}' "hello ann 1"
expect app '{"name":"ann","override":{"greet":"fn greet(n: str) -> str { \"hi \" + n }"}}' "hi ann 2" -H "x-strata-token: $token"
expect app '{"name":"ann","override":{"greet":"fn greet(n: str) -> str { \"hi \" + n + \" x\" }"}}' "hi ann x 2" -H "x-strata-token: $token"
expect app '{"name":"ann"}' "hello ann 2"
for sc in post same; do bench 1 "$WARM" $sc "${url[app]}" > /dev/null; done
for ((r = 0; r < RUNS; r++)); do
  add plain1 "$(bench 1 "$SECS" post "${url[app]}")"
  add same1 "$(bench 1 "$SECS" same "${url[app]}")"
  add fresh1 "$(bench 1 "$SECS" fresh "${url[app]}" "r$r")"
  add plainN "$(bench "$CONNS" "$SECS" post "${url[app]}")"
  add sameN "$(bench "$CONNS" "$SECS" same "${url[app]}")"
done
echo "(c) the same override repeated vs a plain request:"
row "plain request, 1 connection" plain1
row "same override, 1 connection" same1
row "plain request, $CONNS connections" plainN
row "same override, $CONNS connections" sameN
a=$(calc "$(med "${P50[same1]}") / $(med "${P50[plain1]}")")
b=$(calc "$(med "${P99[same1]}") / $(med "${P99[plain1]}")")
printf '  latency same-override/plain, 1 connection: p50 %.2fx (target <= 1.5x: %s), p99 %.2fx   throughput at %d connections: %.2fx\n' \
  "$a" "$(verdict "$a <= 1.5")" "$b" "$CONNS" "$(calc "$(med "${R[sameN]}") / $(med "${R[plainN]}")")"
echo "(d) every request a new override (check + compile each time), 1 connection:"
row "new override per request" fresh1
p=$(med "${P50[fresh1]}")
printf '  first request with a new override: p50 %s (target < 5 ms: %s), %.1fx a plain request'"'"'s p50\n' \
  "$(us "$p" | xargs)" "$(verdict "$p < 5000")" "$(calc "$p / $(med "${P50[plain1]}")")"

echo "(e) normal requests while a dead-loop override spins (${SECS} s of load inside its ${SPIN_TIMEOUT} ms):"
spins=0
for ((r = 0; r < RUNS; r++)); do
  for c in 1 "$CONNS"; do
    add "quiet$c" "$(bench "$c" "$SECS" post "${url[app]}")"
    curl -sS --max-time 30 -o "$TMP/spin.body" -w '%{http_code}' -H 'content-type: application/json' \
      -H "x-strata-token: $token" --data-binary "$SPIN" "${url[app]}/" > "$TMP/spin.code" &
    cpid=$!
    spins=$((spins + 1))
    for _ in $(seq 200); do [ "$(grep -cx spinning "$TMP/app.out")" -ge "$spins" ] && break; sleep 0.02; done
    [ "$(grep -cx spinning "$TMP/app.out")" -ge "$spins" ] || die "the dead loop did not start"
    add "spin$c" "$(bench "$c" "$SECS" post "${url[app]}")"
    [ -s "$TMP/spin.code" ] && echo "  warning: the dead loop ended before the load run did" >&2
    wait "$cpid" || true
    [ "$(cat "$TMP/spin.code")" = 503 ] || die "dead loop answered $(cat "$TMP/spin.code"): $(cat "$TMP/spin.body")"
  done
done
for c in 1 "$CONNS"; do
  row "quiet, $c connection(s)" "quiet$c"
  row "dead loop spinning, $c connection(s)" "spin$c"
  x=$(calc "$(med "${P99[spin$c]}") / $(med "${P99[quiet$c]}")")
  printf '  p99 spinning/quiet at %d connection(s): %.2fx (target <= 2x: %s); p50 %.2fx; throughput %.2fx\n' "$c" \
    "$x" "$(verdict "$x <= 2")" "$(calc "$(med "${P50[spin$c]}") / $(med "${P50[quiet$c]}")")" \
    "$(calc "$(med "${R[spin$c]}") / $(med "${R[quiet$c]}")")"
done
stop app
fi
