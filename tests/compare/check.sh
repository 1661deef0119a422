#!/usr/bin/env bash
# Checks that the DuckDB, Python polars and Dagster + pandas versions of the example pipeline
# write the same gold tables as `medallion materialize`, byte for byte (canonical CSV SHA-256,
# with the Parquet schema checked and the CSV recomputed from the Parquet values by canon.py).
#
#   tests/compare/check.sh [--customers N,N...] [--input DIR]... [--bin MEDALLION] [--project DIR]
#
# Inputs: the example project's shipped data (N = 1,000, made by the workload's generator) and
# `medallion sample-data --customers N` for each N of --customers (default 100000); --input adds
# a directory with customers.csv and orders.csv. When an input is one of the generator's reference
# inputs (N = 1,000, 100,000 or 1,000,000, seed 42), Medallion must also give the workload SPEC's
# reference checksums. Exit status 1 at the first difference.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin="" defs="$REPO_DIR/projects/customer_analytics" customers="100000"
inputs=("$REPO_DIR/projects/customer_analytics/data")
while [[ $# -gt 0 ]]; do
    case "$1" in
        --customers) customers="$2"; shift 2 ;;
        --input) inputs+=("$2"); shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        --project) defs="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done
bin="$(find_medallion "$bin")"
ensure_venv

work="$(mktemp -d "${TMPDIR:-/tmp}/medallion-compare-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export MEDALLION_WORKSPACE="$work/ws.sqlite"  # never the user's workspace

IFS=',' read -ra ns <<<"$customers"
for n in "${ns[@]}"; do
    [[ -z "$n" ]] && continue
    "$bin" sample-data --customers "$n" --seed 42 "$work/sample-$n" >/dev/null
    inputs+=("$work/sample-$n")
done

for input in "${inputs[@]}"; do
    echo "== $input"
    project="$(make_project "$defs" "$input" "$work")"
    "$bin" materialize "$project" --force >"$work/medallion.log" 2>&1 ||
        { cat "$work/medallion.log" >&2; die "medallion materialize failed on $input"; }
    medallion_export "$bin" "$project" "$work/out-medallion"
    expected="$(checksums "$work/out-medallion")"
    echo "medallion: $(echo "$expected" | tr '\n' ' ')"
    reference="$(reference_for "$input")"
    if [[ -n "$reference" ]]; then
        [[ "$expected" == "$reference" ]] ||
            die "medallion's gold tables differ from the SPEC reference on $input: expected $reference"
        echo "medallion: equal to the workload SPEC's reference checksums"
    fi
    for side in duckdb polars dagster; do
        out="$work/out-$side"
        rm -rf "$out"
        "$PY" "$COMPARE_DIR/${side}_pipeline.py" --input "$input" --output "$out" >"$work/$side.log" 2>&1 ||
            { tail -20 "$work/$side.log" >&2; die "$side failed on $input"; }
        got="$(checksums "$out")"
        if [[ "$got" != "$expected" ]]; then
            echo "MISMATCH $side on $input:" >&2
            diff <(echo "$expected") <(echo "$got") >&2 || true
            die "$side's gold tables differ from medallion's"
        fi
        echo "$side: equal"
    done
done
echo "ok: DuckDB, polars and Dagster + pandas write medallion's gold tables on ${#inputs[@]} input(s)"
