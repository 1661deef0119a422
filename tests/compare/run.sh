#!/usr/bin/env bash
# Medallion's engine against DuckDB, Python polars and Dagster + pandas on the same inputs:
# paired, alternating whole-process runs, each under /usr/bin/time, and a table of medians.
#
#   tests/compare/run.sh [--customers N | --input DIR] [--rounds R] [--bin MEDALLION] [--project DIR]
#
#   --customers N   generate the inputs with `medallion sample-data --customers N --seed 42`
#                   into a temporary directory (default N = 1000000)
#   --input DIR     use DIR/customers.csv and DIR/orders.csv instead
#   --rounds R      timed runs of each side (default 3), after one untimed warm-up run each
#   --bin PATH      the medallion binary (default $MEDALLION_BIN, target/release/medallion, PATH)
#   --project DIR   the example project's definitions (default projects/customer_analytics)
#
# Sides: `medallion materialize --force` (six assets persisted, four checks, profiles), the same
# pipeline hand-written as one polars query inside the medallion binary (`bench engine-child
# --mode handwritten`: nothing written, skipped when the binary has no such command), and
# tests/compare/{duckdb,polars,dagster}_pipeline.py (the two gold tables written as Parquet and
# CSV). Each round runs every side once, in an order rotated from round to round. After every run
# its gold tables are checked against Medallion's (canonical CSV SHA-256); any difference ends
# the run with exit status 1. The Python packages live in a throwaway venv (see lib.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin="" defs="$REPO_DIR/projects/customer_analytics" customers="" input="" rounds=3
while [[ $# -gt 0 ]]; do
    case "$1" in
        --customers) customers="$2"; shift 2 ;;
        --input) input="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        --project) defs="$2"; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done
[[ -n "$customers" && -n "$input" ]] && die "give --customers or --input, not both"
[[ -z "$customers" && -z "$input" ]] && customers=1000000
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive integer"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is needed"
bin="$(find_medallion "$bin")"
ensure_venv

work="$(mktemp -d "${TMPDIR:-/tmp}/medallion-compare-run.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export MEDALLION_WORKSPACE="$work/ws.sqlite"  # never the user's workspace

if [[ -n "$customers" ]]; then
    input="$work/input"
    echo "generating $customers customers: $bin sample-data --customers $customers --seed 42" >&2
    "$bin" sample-data --customers "$customers" --seed 42 "$input" >/dev/null
fi
[[ -f "$input/customers.csv" && -f "$input/orders.csv" ]] || die "$input needs customers.csv and orders.csv"
input="$(cd "$input" && pwd)"
project="$(make_project "$defs" "$input" "$work")"

sides=(medallion duckdb polars dagster)
if "$bin" bench engine-child --help >/dev/null 2>&1; then
    sides+=(handwritten)
fi

# run_side SIDE OUT TIMEFILE: one whole process of SIDE under /usr/bin/time.
run_side() {
    local side="$1" out="$2" tf="$3" log="$work/$1.log" cmd
    rm -rf "$out"
    case "$side" in
        medallion) cmd=("$bin" materialize "$project" --force) ;;
        handwritten) cmd=("$bin" bench engine-child --mode handwritten --input "$input") ;;
        *) cmd=("$PY" "$COMPARE_DIR/${side}_pipeline.py" --input "$input" --output "$out") ;;
    esac
    /usr/bin/time -f '%e %U %S %M' -o "$tf" "${cmd[@]}" >"$log" 2>&1 ||
        { tail -20 "$log" >&2; die "$side failed (command: ${cmd[*]})"; }
    case "$side" in
        medallion) medallion_export "$bin" "$project" "$out" ;;
        handwritten) return ;;  # writes nothing; its query is the binary's own test subject
    esac
    local got
    got="$(checksums "$out")"
    if [[ -n "${expected:-}" && "$got" != "$expected" ]]; then
        echo "MISMATCH: $side's gold tables differ from medallion's:" >&2
        diff <(echo "$expected") <(echo "$got") >&2 || true
        exit 1
    fi
    if [[ -z "${expected:-}" ]]; then expected="$got"; fi
}

expected=""
reference="$(reference_for "$input")"
echo "input: $input ($(du -sh --apparent-size "$input"/customers.csv "$input"/orders.csv | awk '{print $1}' | paste -sd+ -) of CSV)"
echo "medallion: $bin ($("$bin" --version))"
echo "python: $("$PY" -c 'import sys, duckdb, polars, dagster, pandas; print(sys.version.split()[0], "duckdb", duckdb.__version__, "polars", polars.__version__, "dagster", dagster.__version__, "pandas", pandas.__version__)')"
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB; load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC')"

# Warm-up: every side once, untimed (page cache, workspace import), outputs checked.
for side in "${sides[@]}"; do
    run_side "$side" "$work/out-$side" "$work/warmup-$side.time"
done
if [[ -n "$reference" ]]; then
    [[ "$expected" == "$reference" ]] || die "medallion's gold tables differ from the SPEC reference for this input"
    echo "gold checksums: equal to the workload SPEC's reference for this input"
fi
echo "gold checksums (every side, every run): $(echo "$expected" | awk '{printf "%s %s rows %s…  ", $1, $2, substr($3, 1, 16)}')"

for ((r = 0; r < rounds; r++)); do
    order=()
    for ((i = 0; i < ${#sides[@]}; i++)); do order+=("${sides[(i + r) % ${#sides[@]}]}"); done
    echo "round $((r + 1))/$rounds: ${order[*]}" >&2
    for side in "${order[@]}"; do
        run_side "$side" "$work/out-$side" "$work/$side.$r.time"
        echo "  $side: $(cat "$work/$side.$r.time") (wall s, user s, sys s, peak KiB)" >&2
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%H:%M UTC')"

# Medians over the rounds: wall, CPU (user + sys) and peak RSS.
"$PY" - "$work" "$rounds" "${sides[@]}" <<'EOF'
import statistics, sys
work, rounds, sides = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
label = {
    "medallion": "Medallion `materialize --force` (6 assets persisted, 4 checks, profiles)",
    "handwritten": "hand-written polars query in the medallion binary (nothing written)",
    "duckdb": "DuckDB SQL, gold outputs only",
    "polars": "Python polars lazy, gold outputs only",
    "dagster": "Dagster + pandas, in-memory IO, gold outputs written",
}
med = {}
for s in sides:
    runs = []
    for r in range(rounds):
        wall, user, sys_, kib = open(f"{work}/{s}.{r}.time").read().split()[-4:]
        runs.append((float(wall), float(user) + float(sys_), int(kib) / 1024 / 1024))
    med[s] = tuple(statistics.median(x[i] for x in runs) for i in range(3))
print(f"\nmedians of {rounds} paired, alternating run(s):\n")
print("| side | wall | CPU (user+sys) | peak RSS |")
print("|---|---|---|---|")
for s in sides:
    w, c, p = med[s]
    print(f"| {label[s]} | {w:.2f} s | {c:.2f} s | {p:.2f} GiB |")
m = med["medallion"]
print()
print(f"Medallion / DuckDB:   wall {m[0] / med['duckdb'][0]:.2f}×, CPU {m[1] / med['duckdb'][1]:.2f}×, peak {m[2] / med['duckdb'][2]:.2f}×")
print(f"Medallion / polars:   wall {m[0] / med['polars'][0]:.2f}×, CPU {m[1] / med['polars'][1]:.2f}×, peak {m[2] / med['polars'][2]:.2f}×")
if "handwritten" in med:
    h = med["handwritten"]
    print(f"Medallion / hand-written in the binary: wall {m[0] / h[0]:.2f}×, CPU {m[1] / h[1]:.2f}×, peak {m[2] / h[2]:.2f}×")
d = med["dagster"]
print(f"Dagster / Medallion:  wall {d[0] / m[0]:.2f}×, CPU {d[1] / m[1]:.2f}×, peak {d[2] / m[2]:.2f}×")
EOF
