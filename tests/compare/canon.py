#!/usr/bin/env python3
"""Conformance of one output directory of the example pipeline (workload SPEC v1.0, section 5).

    python canon.py DIR            # prints "<table> <rows> <sha256>" for both gold tables

For each gold table it reads DIR/<table>.parquet, requires exactly the Arrow schema of SPEC 5.1
(names, order, types), formats the canonical CSV of SPEC 5.2 from the Parquet values with its own
formatter and requires DIR/<table>.csv to be byte-identical to it. The checksum printed is the
SHA-256 of those CSV bytes (SPEC 5.3), so it certifies the Parquet values too. Exit status 1 on
any difference, with the reason on stderr.
"""
import hashlib
import sys

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMAS = {
    "customer_lifetime_value": [
        ("customer_id", pa.int64()),
        ("order_count", pa.int64()),
        ("total_revenue", pa.float64()),
        ("avg_order_value", pa.float64()),
        ("first_order_date", pa.date32()),
        ("last_order_date", pa.date32()),
        ("tenure_days", pa.int64()),
        ("clv", pa.float64()),
    ],
    "daily_revenue": [
        ("order_date", pa.date32()),
        ("revenue", pa.float64()),
        ("order_count", pa.int64()),
    ],
}


def money(x: float) -> str:
    """A double that must be the one nearest to k/100 for an integer k: as `-?[0-9]+.[0-9]{2}`."""
    k = round(x * 100)
    if k / 100 != x:  # IEEE division: the double nearest to k/100
        raise ValueError(f"{x!r} is not the double nearest to a whole number of cents")
    sign = "-" if k < 0 else ""
    k = abs(k)
    return f"{sign}{k // 100}.{k % 100:02d}"


def canonical_csv(table: pa.Table, schema) -> bytes:
    cols = [table.column(name).to_pylist() for name, _ in schema]
    lines = [",".join(name for name, _ in schema)]
    for row in zip(*cols):
        cells = []
        for (name, typ), v in zip(schema, row):
            if v is None:
                raise ValueError(f"null in {name}")
            if typ == pa.float64():
                cells.append(money(v))
            elif typ == pa.date32():
                cells.append(v.isoformat())
            else:
                cells.append(str(v))
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode("ascii")


def check(out_dir: str) -> list:
    results = []
    for name, schema in SCHEMAS.items():
        table = pq.read_table(f"{out_dir}/{name}.parquet")
        got = [(f.name, f.type) for f in table.schema]
        if got != schema:
            raise SystemExit(f"{out_dir}/{name}.parquet: schema {got} is not SPEC 5.1's {schema}")
        key = schema[0][0]
        keys = table.column(key).to_pylist()
        if any(a >= b for a, b in zip(keys, keys[1:])):
            raise SystemExit(f"{out_dir}/{name}.parquet: rows are not in ascending, unique {key} order")
        expected = canonical_csv(table, schema)
        with open(f"{out_dir}/{name}.csv", "rb") as f:
            written = f.read()
        if written != expected:
            line = next(
                (i for i, (a, b) in enumerate(zip(written.split(b"\n"), expected.split(b"\n"))) if a != b),
                None,
            )
            raise SystemExit(
                f"{out_dir}/{name}.csv is not the canonical CSV of its Parquet file "
                f"(first difference at line {line})"
            )
        results.append((name, table.num_rows, hashlib.sha256(written).hexdigest()))
    return results


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: canon.py DIR")
    for name, rows, digest in check(sys.argv[1]):
        print(name, rows, digest)


if __name__ == "__main__":
    main()
