#!/usr/bin/env bash
# The cascade benchmark with its peers, in one run, as one table (issue 14): the project's
# bench (`tests/benches/cascade.rs`: the ORM and the floor, hand-written sqlx) and this
# crate's Diesel and SeaORM doing the same ops on the same SQLite workload.
#
#   bench/peers/run.sh                      # every op on shapes S, M and L, 5 timed runs each
#   OPS=load,update SHAPES=S RUNS=3 bench/peers/run.sh
#   RAW_DIR=/tmp/peers-raw bench/peers/run.sh   # also keep the raw JSON lines and logs
#
# Builds both in release first (not timed), then runs the project's bench in its JSON-lines
# mode and the peers binary one after the other, sampling the load average meanwhile, and
# prints the table with the date, the machine and the command. Every ratio is against the
# floor's median of the same (op, shape) in this run. Needs cargo and python3.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
ops="${OPS:-insert,delete-cascade,delete-orphan,load,update}"
shapes="${SHAPES:-S,M,L}"
runs="${RUNS:-5}"

work="$(mktemp -d)"
sampler=""
cleanup() {
    if [[ -n "$sampler" ]]; then kill "$sampler" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Runs "$@" with stdout to $1's .jsonl and stderr to its .log; on failure shows the log's end.
run_logged() {
    local name="$1"
    shift
    if ! "$@" >"$work/$name.jsonl" 2>"$work/$name.log"; then
        echo "run.sh: $name failed; the end of its log:" >&2
        tail -n 30 "$work/$name.log" >&2
        exit 1
    fi
}

echo "run.sh: building the project's cascade bench and the peers (release) ..." >&2
(cd "$root" && cargo bench -p orm-tests --bench cascade --no-run) >&2
(cd "$here" && cargo build --release) >&2

orm_cmd=(cargo bench -p orm-tests --bench cascade -- --backend sqlite --op "$ops" --shape "$shapes" --runs "$runs" --json)
peers_cmd=(bench/peers/target/release/orm-bench-peers --op "$ops" --shape "$shapes" --runs "$runs" --json)

# Both commands run from the repository root. The 1-minute load average is sampled every
# 5 s while they run.
cd "$root"
(while :; do cut -d' ' -f1 /proc/loadavg; sleep 5; done) >"$work/load" &
sampler=$!
started=$(date +%s)

echo "run.sh: ${orm_cmd[*]}" >&2
run_logged orm "${orm_cmd[@]}"
echo "run.sh: ${peers_cmd[*]}" >&2
run_logged peers "${peers_cmd[@]}"

elapsed=$(($(date +%s) - started))
kill "$sampler" 2>/dev/null || true
sampler=""
# RAW_DIR=dir keeps both JSON-lines outputs, their progress logs and the load samples.
if [[ -n "${RAW_DIR:-}" ]]; then
    mkdir -p "$RAW_DIR"
    cp "$work"/orm.jsonl "$work"/orm.log "$work"/peers.jsonl "$work"/peers.log "$work"/load "$RAW_DIR"/
fi

python3 - "$work" "$elapsed" "$ops" "$shapes" "$runs" "${orm_cmd[*]}" "${peers_cmd[*]}" <<'PY'
import json, os, re, statistics, subprocess, sys

work, elapsed, ops, shapes, runs, orm_cmd, peers_cmd = sys.argv[1:8]

def lines(name):
    with open(os.path.join(work, name)) as f:
        return [json.loads(l) for l in f if l.startswith("{")]

orm = lines("orm.jsonl")
peers = lines("peers.jsonl")
with open(os.path.join(work, "orm.log")) as f:
    m = re.search(r"cascade bench on (SQLite [\w.]+)", f.read())
orm_sqlite = m.group(1) if m else "SQLite ?"
peer_sqlite = "SQLite " + (peers[0]["sqlite"] if peers else "?")
with open(os.path.join(work, "load")) as f:
    load = [float(x) for x in f.read().split()]
cpu = "?"
with open("/proc/cpuinfo") as f:
    for l in f:
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip()
            break

peer_ms = {(p["op"], p["shape"], p["peer"]): p for p in peers}

def cell_ms(x):
    return f"{x:.1f}" if x is not None else "-"

def cell_ratio(x, floor):
    return f"{x / floor:.2f}" if x is not None and floor > 0 else "-"

head = ["op", "shape", "orm ms", "x floor", "floor ms", "diesel ms", "x floor",
        "seaorm ms", "x floor", "statements orm/floor/diesel/seaorm"]
widths = [14, 5, 9, 7, 9, 9, 7, 9, 7, 0]
def row(cells):
    out = []
    for i, (c, w) in enumerate(zip(cells, widths)):
        out.append(c.ljust(w) if i < 2 else c.rjust(w))
    return "  ".join(out).rstrip()

print(f"date:    {subprocess.run(['date'], capture_output=True, text=True).stdout.strip()}")
rev = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
print(f"commit:  {rev or '?'}")
print(f"machine: nproc {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()}, {cpu}")
print(f"command: OPS={ops} SHAPES={shapes} RUNS={runs} bench/peers/run.sh")
print(f"  (1 warm-up + {runs} timed runs per side, medians; a new SQLite file per run)")
print(f"  orm, floor: {orm_cmd}   [{orm_sqlite}, sqlx 0.9]")
print(f"  peers:      {peers_cmd}   [{peer_sqlite}: Diesel 2.3, SeaORM 1.1 on sqlx 0.8]")
if load:
    print(f"load average (1 min, sampled every 5 s during the {elapsed} s run): "
          f"min {min(load):.2f}, median {statistics.median(load):.2f}, max {max(load):.2f}")
print()
print(row(head))
for o in orm:
    op, shape = o["op"], o["shape"]
    floor = o["floor_ms"]
    name = op if o.get("orm", "tracked") == "tracked" else f"{op} (owned)"
    d = peer_ms.get((op, shape, "diesel"))
    s = peer_ms.get((op, shape, "seaorm"))
    dm = d["ms"] if d else None
    sm = s["ms"] if s else None
    stmts = "/".join(str(x) if x is not None else "-" for x in [
        o["orm_statements"], o["floor_statements"],
        d["statements"] if d else None, s["statements"] if s else None])
    print(row([name, shape, cell_ms(o["orm_ms"]), cell_ratio(o["orm_ms"], floor), cell_ms(floor),
               cell_ms(dm), cell_ratio(dm, floor), cell_ms(sm), cell_ratio(sm, floor), stmts]))
print()
print("ms: median time of the op; x floor: that time / the floor's median for the same op and "
      "shape in this run (lower is faster).")
print("load (owned): the ORM's read-only values; the peers load flat structs as the floor does "
      "and are shown against both load lines.")
PY
