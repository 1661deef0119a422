# Shared by check.sh and run.sh (sourced, not run). Bash.
#
# The Python packages live in a throwaway virtual environment outside the repository, never a
# project dependency: COMPARE_VENV (default ${TMPDIR:-/tmp}/medallion-compare-venv), created on
# first use with these published versions (top-level packages pinned; pip resolves the rest).

COMPARE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$COMPARE_DIR/../.." && pwd)"
PINS="duckdb==2.0.1 polars==2.1.0 dagster==1.13.29 pandas==3.1.1 pyarrow==26.0.1 numpy==2.4.6"
VENV="${COMPARE_VENV:-${TMPDIR:-/tmp}/medallion-compare-venv}"
PY="$VENV/bin/python"

die() { echo "error: $*" >&2; exit 1; }

# Creates (or re-creates, when the pins changed) the throwaway venv.
ensure_venv() {
    local marker="$VENV/.medallion-compare-pins"
    if [[ -x "$PY" && -f "$marker" && "$(cat "$marker")" == "$PINS" ]]; then
        return
    fi
    echo "creating the throwaway venv $VENV with $PINS" >&2
    local python="${PYTHON:-python3}"
    "$python" -m venv --clear "$VENV" || die "could not create $VENV with $python"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check $PINS || die "pip install failed"
    echo "$PINS" >"$marker"
}

# The medallion binary: --bin, else $MEDALLION_BIN, else the repository's release build, else PATH.
find_medallion() {
    local given="$1"
    if [[ -n "$given" ]]; then echo "$given"; return; fi
    if [[ -n "${MEDALLION_BIN:-}" ]]; then echo "$MEDALLION_BIN"; return; fi
    if [[ -x "$REPO_DIR/target/release/medallion" ]]; then echo "$REPO_DIR/target/release/medallion"; return; fi
    command -v medallion || die "no medallion binary: build one (cargo build --release) or pass --bin"
}

# make_project DEFS INPUT WORK: the example project's definitions (medallion.toml, sql/, tests/)
# copied to WORK/customer_analytics with data/ a symlink to INPUT. Prints the project path.
make_project() {
    local defs="$1" input="$2" work="$3" p="$3/customer_analytics"
    [[ -f "$defs/medallion.toml" ]] || die "$defs has no medallion.toml"
    rm -rf "$p"
    mkdir -p "$p"
    cp "$defs/medallion.toml" "$p/"
    cp -r "$defs/sql" "$p/"
    [[ -d "$defs/tests" ]] && cp -r "$defs/tests" "$p/"
    ln -s "$(cd "$input" && pwd)" "$p/data"
    echo "$p"
}

# medallion_export BIN PROJECT OUT: the gold tables of the last materialization as Parquet and
# canonical CSV (up to date, so nothing is recomputed).
medallion_export() {
    local bin="$1" project="$2" out="$3"
    rm -rf "$out"
    "$bin" materialize "$project" --select customer_lifetime_value,daily_revenue \
        --export-dir "$out" --float-precision 2 >/dev/null ||
        die "medallion could not export the gold tables of $project"
}

# checksums OUT: "<table> <rows> <sha256>" lines, after canon.py has checked the Parquet schema
# and that the CSV is the canonical form of the Parquet values. Dies on any difference.
checksums() {
    "$PY" "$COMPARE_DIR/canon.py" "$1" || die "the outputs in $1 do not conform (see above)"
}

# Reference results for inputs made by the workload's generator (gen.py --seed 42, numpy 2.4.6,
# polars 2.1.0), from the workload SPEC v1.0 section 8, keyed by the inputs' SHA-256:
# customers.csv orders.csv | customer_lifetime_value rows sha256 | daily_revenue rows sha256.
REFERENCE="
ec73995f04ef92f672a18721d5780a9ab892c96ab45d5e6497ae6f893e5d474c 8e3fb48e70817e6a693953a6eebaa0cb61892852a47fa592a0f30fc9f609c095 992 c570c455363472f2fa7159acca9adb18f7ec2e065045d4cf29209653180f9760 1458 cbfeec8f97f2ce17638a7b58a110711630fc4767f48acf10ca67e9277ecf86d7
ca2be8d7f35ea864d2460f02a33c8cc32a7d71f5cff2b56aa66b37cd4979c0f1 baedc0dc459b95de8c81c58cdd6076323897ea872a294d8cc708f228327fbf45 98413 70e3f3d69657489ea961de4cd48a3bf8a3bf147cc1cca5b328072c1757685661 1461 a1829ca046c52fe9aaacbe017c386de340d39ecc350bc05d11f8b02afd97cb77
da77a6acee6cd8f6b110a545b146cfcec86beb3feb6843046c13979235dadb1f 8f4f4d7f98f863054fe5b21dba921d695e14420c86eb0360e380b98d6cfbb440 984820 f86c3193a7216133e98431b25ab5865f45f817c9dabeaebb6a215d41b4d166fd 1461 5753cc437060019b18595474de1ab6c78b750a93b418056cf8d4bb96fffac728
"

# reference_for INPUT: the expected checksums lines (as checksums prints them) when INPUT is one of
# the generator's reference inputs, else nothing.
reference_for() {
    local c o
    c=$(sha256sum "$1/customers.csv" | cut -d' ' -f1)
    o=$(sha256sum "$1/orders.csv" | cut -d' ' -f1)
    echo "$REFERENCE" | awk -v c="$c" -v o="$o" '$1 == c && $2 == o {
        print "customer_lifetime_value", $3, $4; print "daily_revenue", $5, $6 }'
}
