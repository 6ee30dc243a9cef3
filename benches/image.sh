#!/usr/bin/env bash
# benches/image.sh — the image benchmarks of issue 7 (durable images, SPEC section 10):
#
#   1. commit latency of a one-global-write transaction made durable (fsync'd), per
#      commit (median and p99), beside SQLite in WAL mode with synchronous=FULL doing
#      a one-row UPDATE per transaction;
#   2. group commit: commits per second of 1, 2 and 8 service loop tasks, each writing
#      its own global every step, under `strata run IMAGE` for SECS seconds;
#   3. image open time against history length: images of 10, 1,000 and 10,000 worlds
#      (one function redefined again and again), and of 10,000 small write commits;
#   4. open time of an image holding a global with 1,000,000 records, and the cost of
#      committing a one-element change to that global (and of opening afterwards).
#
#   bash benches/image.sh                  # RUNS=5: every figure is a median of RUNS runs
#                                          # (benchmark 3: of OPEN_RUNS = 4 x RUNS)
#   BUILD=0 bash benches/image.sh          # use target/release/strata as it is
#   RUNS=3 SECS=2 bash benches/image.sh    # quicker
#
# Needs python3 (the per-commit timing driver, and SQLite's stdlib module); uses the
# sqlite3 CLI (installed with apt-get when missing and run as root; without it only
# the in-process python sqlite3 figure is given), hyperfine (else a bash loop),
# strace (for fdatasync durations; skipped without it) and `perf stat` tracepoints
# (to count fdatasyncs under group commit; skipped where unsupported).
# Everything is written under a temporary directory on $TMPDIR's file system (fsync
# costs are that device's), removed at exit. The interactive REPL's history file
# goes there too (XDG_DATA_HOME), so the user's own history is left alone.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STRATA=${STRATA:-$ROOT/target/release/strata}
RUNS=${RUNS:-5}
COMMITS=${COMMITS:-1000}       # commits per run in benchmark 1
SECS=${SECS:-3}                # seconds of `strata run` per run in benchmark 2
TASKS=${TASKS:-1 2 8}          # loop-task counts in benchmark 2
HIST=${HIST:-10 1000 10000}    # history lengths (worlds) in benchmark 3
RECORDS=${RECORDS:-1000000}    # records in the global of benchmark 4
UPDATES=${UPDATES:-3}          # one-element updates of that global per run
OPEN_RUNS=${OPEN_RUNS:-$((RUNS * 4))}  # benchmark 3's opens take milliseconds: more runs, same median
BUILD=${BUILD:-1}
TMP=$(mktemp -d)
pids=()
cleanup() { # a `strata run` (or the perf stat around it) left running by an error
  for p in "${pids[@]}"; do kill -9 $(pgrep -P "$p") "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
export XDG_DATA_HOME=$TMP/xdg
cd "$ROOT"
if [ "$BUILD" = 1 ]; then cargo build --release --workspace --quiet; fi
[ -x "$STRATA" ] || { echo "error: no strata binary at $STRATA" >&2; exit 1; }

med() { tr ' ' '\n' <<<"${1% }" | median; } # median of a space-separated list
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
calc() { python3 -c "print($1)"; }
have() { command -v "$1" >/dev/null 2>&1; }
ns() { date +%s%N; }

if ! have sqlite3 && [ "$(id -u)" = 0 ] && have apt-get; then
  echo "installing sqlite3" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3; } >&2 || true
fi
have sqlite3 || echo "note: no sqlite3 CLI; SQLite is measured in-process with python's sqlite3 only" >&2

# lat.py — per-commit latency, measured from outside the process under test.
#   pipe: starts CMD with pipes, sends SETUP lines, then READY (if given) and waits for
#     its reply (so opening/filling is not timed), then N times: sends STMT and waits for
#     the reply line EXPECT. `{i}` in STMT/EXPECT is the 1-based commit number. Each
#     latency is input written -> reply read. The REPL prints a value only after the
#     transaction's record is appended and fdatasync'd (SPEC 10; seen with strace), and
#     the sqlite3 shell only after its COMMIT returned, so a reply means "durable".
#     Prints "median_us p99_us".
#   sqlite: python's sqlite3 module in-process: WAL, synchronous=FULL, autocommit; N
#     single-row UPDATEs, each timed around execute(). Prints "median_us p99_us".
#   strace FILE: the durations (strace -T) of the fdatasync calls in FILE: "median p99" us.
cat > "$TMP/lat.py" <<'PY'
import subprocess, sys, time, sqlite3, re

def stats(xs):
    xs = sorted(xs)
    return f"{xs[len(xs) // 2]:.1f} {xs[min(len(xs) - 1, int(len(xs) * 0.99))]:.1f}"

def wait_for(p, want):
    while True:
        line = p.stdout.readline()
        if not line:
            sys.exit(f"lat.py: EOF waiting for {want!r}; stderr: {p.stderr.read()[-2000:]}")
        line = line.strip()
        if line.startswith("error") or line.startswith("Error"):
            sys.exit(f"lat.py: {line}")
        if line == want:
            return

def pipe(n, setup, ready, stmt, expect, cmd):
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, bufsize=1)
    for s in setup:
        p.stdin.write(s + "\n")
    if ready:
        p.stdin.write(ready[0] + "\n"); p.stdin.flush(); wait_for(p, ready[1])
    lat = []
    for i in range(1, n + 1):
        s, e = stmt.replace("{i}", str(i)), expect.replace("{i}", str(i))
        t0 = time.perf_counter_ns()
        p.stdin.write(s + "\n"); p.stdin.flush()
        wait_for(p, e)
        lat.append((time.perf_counter_ns() - t0) / 1000)
    p.stdin.close(); p.wait()
    print(stats(lat))

mode = sys.argv[1]
if mode == "pipe":
    # pipe N READY_STMT READY_EXPECT STMT EXPECT SETUP_FILE -- CMD...
    n, rs, re_, stmt, expect, setup_file = sys.argv[2:8]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    setup = [l.rstrip("\n") for l in open(setup_file)] if setup_file != "-" else []
    pipe(int(n), setup, (rs, re_) if rs else None, stmt, expect, cmd)
elif mode == "sqlite":
    db, n = sys.argv[2], int(sys.argv[3])
    con = sqlite3.connect(db, isolation_level=None)
    assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE t(n INTEGER)"); con.execute("INSERT INTO t VALUES (0)")
    lat = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        con.execute("UPDATE t SET n = n + 1")
        lat.append((time.perf_counter_ns() - t0) / 1000)
    assert con.execute("SELECT n FROM t").fetchone()[0] == n
    print(stats(lat))
elif mode == "strace":
    d = [float(m) * 1e6 for m in re.findall(r"fdatasync\(.*<([0-9.]+)>", open(sys.argv[2]).read())]
    print(stats(d) if d else "nan nan")
PY
lat() { python3 "$TMP/lat.py" "$@"; }

# =====================================================================================
echo "## 1. commit latency: one global write per transaction, fsync'd (us per commit)"
# Strata: `strata repl IMAGE` driven through a pipe; each input `n += 1; n` is one
# transaction (one global write) whose record is appended and fdatasync'd before the
# echoed value comes back. The same without an image is the REPL's own cost (parse,
# check, Cranelift compile and run of the input, pipe round trip); the difference is
# what durability adds. SQLite: the sqlite3 shell driven the same way, WAL,
# synchronous=FULL (one WAL fdatasync per commit, like Strata's one per record), input
# `UPDATE t SET n = n + 1; SELECT n FROM t;`; also python's sqlite3 in-process (no
# pipe, no parsing by a shell: the database alone). Cross-checks: the fdatasync calls'
# own durations (strace -T), and the transcript method: wall time of
# `strata repl IMAGE --script` with COMMITS inputs `n += 1;` minus the same without an
# image, divided by COMMITS (a mean, so no p99).
echo "var n: int = 0" > "$TMP/n.setup"
{ echo "PRAGMA journal_mode=WAL;"; echo "PRAGMA synchronous=FULL;"
  echo "CREATE TABLE t(n INTEGER);"; echo "INSERT INTO t VALUES (0);"; } > "$TMP/sql.setup"
{ echo "> var n: int = 0"; echo "world 2: n v1"
  for ((i = 0; i < COMMITS; i++)); do echo "> n += 1;"; done
  echo "> n"; echo "$COMMITS"; } > "$TMP/n.repl"
{ echo "PRAGMA synchronous=FULL;"; for ((i = 0; i < COMMITS; i++)); do echo "UPDATE t SET n = n + 1;"; done; } > "$TMP/n.sql"
declare -A m p
for ((r = 0; r < RUNS; r++)); do
  rm -f "$TMP"/n.simg "$TMP"/t.db*
  x=$(lat pipe "$COMMITS" "" "" 'n += 1; n' '{i}' "$TMP/n.setup" -- "$STRATA" repl "$TMP/n.simg"); read -r a b <<<"$x"
  m[img]+="$a "; p[img]+="$b "
  x=$(lat pipe "$COMMITS" "" "" 'n += 1; n' '{i}' "$TMP/n.setup" -- "$STRATA" repl); read -r a b <<<"$x"
  m[mem]+="$a "; p[mem]+="$b "
  if have sqlite3; then
    x=$(lat pipe "$COMMITS" "" "" 'UPDATE t SET n = n + 1; SELECT n FROM t;' '{i}' "$TMP/sql.setup" -- sqlite3 "$TMP/t.db"); read -r a b <<<"$x"
    m[cli]+="$a "; p[cli]+="$b "
  fi
  rm -f "$TMP"/t.db*
  x=$(lat sqlite "$TMP/t.db" "$COMMITS"); read -r a b <<<"$x"; m[py]+="$a "; p[py]+="$b "
  # transcript method (also checks the final value through the transcript's expectation)
  rm -f "$TMP/n.simg"
  t0=$(ns); "$STRATA" repl "$TMP/n.simg" --script "$TMP/n.repl" > /dev/null; t1=$(ns)
  "$STRATA" repl --script "$TMP/n.repl" > /dev/null; t2=$(ns)
  m[script]+="$(calc "(($t1 - $t0) - ($t2 - $t1)) / 1000 / $COMMITS") "
  if have strace; then
    rm -f "$TMP/n.simg" "$TMP"/t.db*
    strace -f -T -e trace=fdatasync -o "$TMP/st.strata" "$STRATA" repl "$TMP/n.simg" --script "$TMP/n.repl" > /dev/null
    x=$(lat strace "$TMP/st.strata"); read -r a b <<<"$x"; m[fs_strata]+="$a "; p[fs_strata]+="$b "
    if have sqlite3; then
      sqlite3 "$TMP/t.db" 'PRAGMA journal_mode=WAL; CREATE TABLE t(n INTEGER); INSERT INTO t VALUES (0);' > /dev/null
      strace -f -T -e trace=fdatasync,fsync -o "$TMP/st.sqlite" sqlite3 "$TMP/t.db" < "$TMP/n.sql" > /dev/null
      x=$(lat strace "$TMP/st.sqlite"); read -r a b <<<"$x"; m[fs_sqlite]+="$a "; p[fs_sqlite]+="$b "
    fi
  fi
done
row() { printf '  %-58s median %8.1f   p99 %8.1f\n' "$1" "$(med "${m[$2]}")" "$(med "${p[$2]}")"; }
echo "($COMMITS commits per run; median over $RUNS runs of each run's median and p99)"
row "strata repl IMAGE (pipe, \`n += 1; n\`)" img
row "strata repl, no image (same inputs, nothing written)" mem
[ -n "${m[cli]:-}" ] && row "sqlite3 shell (pipe, WAL, synchronous=FULL, UPDATE+SELECT)" cli
row "python sqlite3 in-process (WAL, synchronous=FULL, UPDATE)" py
[ -n "${m[fs_strata]:-}" ] && row "  fdatasync syscall alone, strata (strace -T)" fs_strata
[ -n "${m[fs_sqlite]:-}" ] && row "  fdatasync syscall alone, sqlite3 shell (strace -T)" fs_sqlite
printf '  %-58s %8.1f us (mean)\n' "durability cost, transcript method ((image - none) / N)" "$(med "${m[script]}")"
printf '  %-58s %8.1f us\n' "durability cost, pipe (median image - median no image)" \
  "$(calc "$(med "${m[img]}") - $(med "${m[mem]}")")"
echo "  [per-run medians: strata IMAGE ${m[img]% }; sqlite3 shell ${m[cli]:-n/a}; python sqlite3 ${m[py]% }]"
base=cli; [ -n "${m[cli]:-}" ] || base=py
printf '  ratio strata IMAGE / %s: median %.2fx, p99 %.2fx\n' "$([ $base = cli ] && echo 'sqlite3 shell' || echo 'python sqlite3')" \
  "$(calc "$(med "${m[img]}") / $(med "${m[$base]}")")" "$(calc "$(med "${p[img]}") / $(med "${p[$base]}")")"
printf '  ratio strata IMAGE / python sqlite3 in-process: median %.2fx, p99 %.2fx\n' \
  "$(calc "$(med "${m[img]}") / $(med "${m[py]}")")" "$(calc "$(med "${p[img]}") / $(med "${p[py]}")")"
echo

# =====================================================================================
echo "## 2. group commit: commits/s of loop tasks each writing its own global (no sleep)"
# Each image holds T globals c1..cT and T service loops `stepI(k) { cI += 1; k + 1 }`
# (spawned by the setup transcript, so they already ran a few steps there). A run is
# `strata run IMAGE` for SECS seconds, then SIGTERM (graceful: the current steps finish
# and commit). Every step is one transaction (its write and its new state: one record,
# fdatasync'd before the step counts), so the steps committed are the growth of
# c1 + ... + cT, read afterwards with --eval. Rate = steps / (SIGTERM time - launch time)
# (the image's open, a few ms, is inside that interval). Where `perf stat` can count the
# fdatasync tracepoint, commits per fdatasync shows how many commits each fsync carried.
fsync_count=0
if have perf && perf stat -e syscalls:sys_enter_fdatasync -x, -o /dev/null true 2>/dev/null; then fsync_count=1; fi
declare -A rate cpf
ratios=""; base_rate=1
for t in $TASKS; do
  sum=c1
  { for ((i = 1; i <= t; i++)); do
      echo "> var c$i: int = 0"; echo "> fn step$i(k: int) -> int { c$i += 1; k + 1 }"
      [ "$i" -gt 1 ] && sum="$sum + c$i"
    done
    for ((i = 1; i <= t; i++)); do echo "> spawn loop step$i(0);"; done; } > "$TMP/g$t.repl"
  "$STRATA" repl "$TMP/g$t.simg" --script "$TMP/g$t.repl" --record > /dev/null
  echo "$sum" > "$TMP/g$t.sum"
done
# The task counts take turns within each run, so a slow spell of the (shared) disk
# hits them alike; the ratio is also given as the median of the per-run ratios.
first=${TASKS%% *}; last=${TASKS##* }
for ((r = 0; r < RUNS; r++)); do
  for t in $TASKS; do
    img=$TMP/g$t.simg; sum=$(cat "$TMP/g$t.sum")
    before=$("$STRATA" repl "$img" --eval "$sum")
    if [ "$fsync_count" = 1 ]; then
      t0=$(ns); perf stat -e syscalls:sys_enter_fdatasync -x, -o "$TMP/perf.$t" -- "$STRATA" run "$img" > /dev/null 2>&1 &
      ppid=$!; pids+=("$ppid")
      sleep "$SECS"; child=$(pgrep -P "$ppid" | head -1); t1=$(ns); kill -TERM "$child"
    else
      t0=$(ns); "$STRATA" run "$img" > /dev/null 2>&1 &
      ppid=$!; pids+=("$ppid")
      sleep "$SECS"; t1=$(ns); kill -TERM "$ppid"
    fi
    wait "$ppid" || { echo "error: strata run $img exited with $?" >&2; exit 1; }
    unset 'pids[-1]'
    after=$("$STRATA" repl "$img" --eval "$sum")
    this=$(( (after - before) * 1000000000 / (t1 - t0) ))
    rate[$t]+="$this "
    [ "$t" = "$first" ] && base_rate=$this
    [ "$t" = "$last" ] && ratios+="$(calc "round($this / max(1, $base_rate), 2)") "
    if [ "$fsync_count" = 1 ]; then
      f=$(grep fdatasync "$TMP/perf.$t" | cut -d, -f1)
      cpf[$t]+="$(calc "round(($after - $before) / max(1, $f), 2)") "
    fi
  done
done
for t in $TASKS; do
  printf '  %d task(s): %8.0f commits/s' "$t" "$(med "${rate[$t]}")"
  [ "$fsync_count" = 1 ] && printf '   (%.2f commits per fdatasync)' "$(med "${cpf[$t]}")"
  echo "   [runs: ${rate[$t]% }]"
done
printf '  ratio %s tasks / %s task: %.2fx of the medians; median per-run ratio %.2fx [%s]  (must be > 1)\n' "$last" "$first" \
  "$(calc "$(med "${rate[$last]}") / $(med "${rate[$first]}")")" "$(med "$ratios")" "${ratios% }"
echo

# =====================================================================================
echo "## 3. open time vs history length (ms, whole process: \`strata repl IMAGE --eval ...\`; median of $OPEN_RUNS)"
# (a) worlds: a transcript of H inputs `fn f() -> int { K }` (K = 1..H) gives an image
#     whose history is H worlds (worlds 2..H+1) and H versions of f, while the newest
#     world holds one small function. Timed: `--eval 'f()'` (checks the value is H).
# (b) writes: `var n: int = 0` then H inputs `n += 1;`: H small write records, one world.
#     Timed: `--eval 'n'`.
# SPEC 10: "startup time must not grow with the length of the history" (target < 2x).
# These opens take milliseconds on a shared machine, so each is the median of OPEN_RUNS
# (default 4 x RUNS) runs rather than RUNS, all images in one hyperfine call; beside the
# wall time, the CPU time (user + system, hyperfine's mean), which another process's
# load disturbs much less.
timeit() { # timeit RUNS CMD...: "wall_ms cpu_ms" (median wall, mean user+sys) of one command
  local n=$1; shift
  hfjson "$n" "$(printf '%q ' "$@")" | head -1
}
hfjson() { # hfjson RUNS 'CMD' ...: one "wall_ms cpu_ms" line per command (cpu "nan" without hyperfine)
  local n=$1; shift
  if have hyperfine; then
    hyperfine -N --warmup 1 --runs "$n" --export-json "$TMP/hf.json" "$@" > /dev/null 2>&1
    python3 -c "
import json
for r in json.load(open('$TMP/hf.json'))['results']:
    print(r['median'] * 1000, (r['user'] + r['system']) * 1000)"
  else
    local c
    for c in "$@"; do
      eval "$c" > /dev/null
      for ((i = 0; i < n; i++)); do a=$EPOCHREALTIME; eval "$c" > /dev/null; b=$EPOCHREALTIME; calc "($b - $a) * 1000"; done \
        | median | sed 's/$/ nan/'
    done
  fi
}
cmds=()
for h in $HIST; do
  for ((k = 1; k <= h; k++)); do echo "> fn f() -> int { $k }"; done > "$TMP/w$h.repl"
  "$STRATA" repl "$TMP/w$h.simg" --script "$TMP/w$h.repl" --record > /dev/null
  got=$("$STRATA" repl "$TMP/w$h.simg" --eval 'f()'); [ "$got" = "$h" ] || { echo "error: f() = $got, not $h" >&2; exit 1; }
  { echo "> var n: int = 0"; for ((k = 0; k < h; k++)); do echo "> n += 1;"; done; } > "$TMP/b$h.repl"
  "$STRATA" repl "$TMP/b$h.simg" --script "$TMP/b$h.repl" --record > /dev/null
  got=$("$STRATA" repl "$TMP/b$h.simg" --eval 'n'); [ "$got" = "$h" ] || { echo "error: n = $got, not $h" >&2; exit 1; }
  cmds+=("$(printf '%q ' "$STRATA" repl "$TMP/w$h.simg" --eval 'f()')" "$(printf '%q ' "$STRATA" repl "$TMP/b$h.simg" --eval 'n')")
done
x=$(hfjson "$OPEN_RUNS" "${cmds[@]}")
declare -A ow ob cw cb
i=0
while read -r wall cpu; do
  h=$(echo $HIST | cut -d' ' -f$((i / 2 + 1)))
  if (( i % 2 == 0 )); then ow[$h]=$wall; cw[$h]=$cpu; else ob[$h]=$wall; cb[$h]=$cpu; fi
  i=$((i + 1))
done <<<"$x"
for h in $HIST; do
  printf '  history %6d: (a) worlds: %6.1f ms wall, %6.1f ms cpu (%4d KiB)   (b) write commits: %6.1f ms wall, %6.1f ms cpu (%4d KiB)\n' \
    "$h" "${ow[$h]}" "${cw[$h]}" "$(( $(stat -c %s "$TMP/w$h.simg") / 1024 ))" \
    "${ob[$h]}" "${cb[$h]}" "$(( $(stat -c %s "$TMP/b$h.simg") / 1024 ))"
done
first=${HIST%% *}; last=${HIST##* }
printf '  ratio %s / %s: (a) worlds %.2fx wall, %.2fx cpu   (b) write commits %.2fx wall, %.2fx cpu   (target < 2x)\n' "$last" "$first" \
  "$(calc "${ow[$last]} / ${ow[$first]}")" "$(calc "${cw[$last]} / ${cw[$first]}")" \
  "$(calc "${ob[$last]} / ${ob[$first]}")" "$(calc "${cb[$last]} / ${cb[$first]}")"
echo

# =====================================================================================
echo "## 4. an image holding a global of $RECORDS records"
# `var ps: [P] = []` filled in one evaluation by fill(RECORDS) (a while loop pushing
# P { x: i, y: i }), committed as one write record. Timed: `--eval 'len(ps)'` (open:
# read, decode and rebuild the vector; then the evaluation). Then a one-element change,
# `ps = set(ps, 0, P { x: i, y: i }); len(ps)`, driven through a pipe as in benchmark 1
# (timed after the image is open), UPDATES times per run on a fresh copy of the image,
# beside the same change in a session with no image; and the open time of the image
# after those UPDATES commits.
{ echo "> type P { x: int, y: int }"; echo "> var ps: [P] = []"
  echo "> fn fill(n: int) { var i = 0; var acc: [P] = []; while i < n { acc = push(acc, P { x: i, y: i }); i += 1; } ps = acc; }"
  echo "> fill($RECORDS);"; } > "$TMP/p.repl"
t0=$(ns); "$STRATA" repl "$TMP/p.simg" --script "$TMP/p.repl" --record > /dev/null; t1=$(ns)
got=$("$STRATA" repl "$TMP/p.simg" --eval 'len(ps)'); [ "$got" = "$RECORDS" ] || { echo "error: len(ps) = $got" >&2; exit 1; }
printf '  building it (fill + commit, whole transcript): %.0f ms; image %d KiB\n' "$(calc "($t1 - $t0) / 1e6")" "$(( $(stat -c %s "$TMP/p.simg") / 1024 ))"
read -r open1 cpu1 <<<"$(timeit "$RUNS" "$STRATA" repl "$TMP/p.simg" --eval 'len(ps)')"
rss=""; if [ -x /usr/bin/time ]; then rss=$(/usr/bin/time -f %M "$STRATA" repl "$TMP/p.simg" --eval 'len(ps)' 2>&1 >/dev/null | tail -1); fi
printf '  open + len(ps): %.1f ms wall, %.1f ms cpu%s\n' "$open1" "$cpu1" "${rss:+ (peak RSS $((rss / 1024)) MiB)}"
head -3 "$TMP/p.repl" | sed 's/^> //' > "$TMP/p.setup"; echo "fill($RECORDS);" >> "$TMP/p.setup"
stmt='ps = set(ps, 0, P { x: {i}, y: {i} }); len(ps)'
for ((r = 0; r < RUNS; r++)); do
  cp "$TMP/p.simg" "$TMP/pu.simg"
  x=$(lat pipe "$UPDATES" 'len(ps)' "$RECORDS" "$stmt" "$RECORDS" - -- "$STRATA" repl "$TMP/pu.simg"); read -r a b <<<"$x"
  m[upd_img]+="$a "
  x=$(lat pipe "$UPDATES" 'len(ps)' "$RECORDS" "$stmt" "$RECORDS" "$TMP/p.setup" -- "$STRATA" repl); read -r a b <<<"$x"
  m[upd_mem]+="$a "
done
printf '  one-element change, committed to the image:  %9.1f ms per commit (median)\n' "$(calc "$(med "${m[upd_img]}") / 1000")"
printf '  the same change, no image:                   %9.3f ms per commit (median)\n' "$(calc "$(med "${m[upd_mem]}") / 1000")"
read -r open2 cpu2 <<<"$(timeit "$RUNS" "$STRATA" repl "$TMP/pu.simg" --eval 'len(ps)')"
printf '  open + len(ps) after %d such commits: %.1f ms wall, %.1f ms cpu (%.2fx the first; image %d KiB)\n' "$UPDATES" "$open2" "$cpu2" \
  "$(calc "$open2 / $open1")" "$(( $(stat -c %s "$TMP/pu.simg") / 1024 ))"
printf '  ratio open(%d records) / open(%s worlds): %.1fx\n' "$RECORDS" "$first" "$(calc "$open1 / ${ow[$first]}")"
