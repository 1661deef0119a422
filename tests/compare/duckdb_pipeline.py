#!/usr/bin/env python3
"""The example pipeline (projects/customer_analytics, workload SPEC v1.0) in DuckDB SQL.

    python duckdb_pipeline.py --input DIR --output DIR

Reads DIR/customers.csv and DIR/orders.csv and writes only the two gold tables,
customer_lifetime_value and daily_revenue, as .parquet and canonical .csv (SPEC 5). The silver
tables live in this process's in-memory database only; nothing else is persisted. The four
checks of the example project are evaluated; exit status 1 when one fails.
"""
import argparse
import os
import sys

import duckdb

EMAIL_RE = r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$"
WS = "' ' || chr(9)"  # trim removes U+0020 and U+0009 only (SPEC 3.3)


def title(col: str) -> str:
    """SPEC 3.4: upper-case the first letter of every run of ASCII letters, lower-case the rest.
    DuckDB has no initcap: split into letter and non-letter runs and rejoin."""
    return (
        f"array_to_string(list_transform(regexp_extract_all({col}, '[A-Za-z]+|[^A-Za-z]+'), "
        "lambda r: CASE WHEN regexp_matches(r, '^[A-Za-z]') THEN upper(r[1]) || lower(r[2:]) ELSE r END), '')"
    )


def csv_source(path: str, columns: dict) -> str:
    cols = ", ".join(f"'{k}': '{v}'" for k, v in columns.items())
    # Only an empty field is null (SPEC 1.2); no type sniffing, no trimming.
    return (
        f"read_csv('{path}', header = true, delim = ',', quote = '\"', escape = '\"', "
        f"nullstr = '', auto_detect = false, columns = {{{cols}}}, "
        "timestampformat = '%Y-%m-%dT%H:%M:%S', dateformat = '%Y-%m-%d')"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    args = ap.parse_args()
    os.makedirs(args.output, exist_ok=True)
    inp = os.path.abspath(args.input)
    out = os.path.abspath(args.output)

    con = duckdb.connect()
    customers = csv_source(
        f"{inp}/customers.csv",
        {
            "customer_id": "BIGINT",
            "first_name": "VARCHAR",
            "last_name": "VARCHAR",
            "email": "VARCHAR",
            "created_at": "TIMESTAMP",
            "updated_at": "TIMESTAMP",
        },
    )
    orders = csv_source(
        f"{inp}/orders.csv",
        {
            "order_id": "BIGINT",
            "customer_id": "BIGINT",
            "order_date": "DATE",
            "amount": "DECIMAL(12,2)",
            "status": "VARCHAR",
        },
    )
    # Bronze: the files as parsed.
    con.execute(f"CREATE VIEW raw_customer_data AS SELECT * FROM {customers}")
    con.execute(f"CREATE VIEW raw_orders AS SELECT * FROM {orders}")
    # Silver (SPEC 3): exact duplicates out, latest row per customer, then clean and validate.
    con.execute(
        f"""
        CREATE TABLE cleaned_customer_data AS
        WITH distinct_rows AS (SELECT DISTINCT * FROM raw_customer_data),
        latest AS (
            SELECT * FROM distinct_rows
            QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC) = 1
        ),
        trimmed AS (
            SELECT customer_id,
                   trim(first_name, {WS}) AS first_name,
                   trim(last_name, {WS}) AS last_name,
                   lower(trim(email, {WS})) AS email,
                   created_at, updated_at
            FROM latest
        )
        SELECT customer_id, {title('first_name')} AS first_name, {title('last_name')} AS last_name,
               email, created_at, updated_at
        FROM trimmed
        WHERE regexp_full_match(email, '{EMAIL_RE}')
        """
    )
    # A table, not a view: both gold tables read it, and a view would parse orders.csv twice.
    con.execute(
        """
        CREATE TABLE order_history AS
        SELECT o.order_id, o.customer_id, o.order_date, o.amount, o.status
        FROM raw_orders AS o
        WHERE o.status = 'completed' AND o.amount > 0
          AND o.customer_id IN (SELECT customer_id FROM cleaned_customer_data)
        """
    )
    # Gold (SPEC 4): integer cents; a double is made only at the end, by IEEE division by 100.
    con.execute(
        """
        CREATE TABLE customer_lifetime_value AS
        WITH per_customer AS (
            SELECT customer_id, count(*) AS c, sum(CAST(amount * 100 AS BIGINT)) AS s,
                   min(order_date) AS first_order_date, max(order_date) AS last_order_date
            FROM order_history GROUP BY customer_id
        ),
        t AS (SELECT *, CAST(date_diff('day', first_order_date, last_order_date) AS BIGINT) AS tenure_days
              FROM per_customer)
        SELECT customer_id,
               CAST(c AS BIGINT) AS order_count,
               CAST(s AS DOUBLE) / 100.0 AS total_revenue,
               CAST((2 * s + c) // (2 * c) AS DOUBLE) / 100.0 AS avg_order_value,
               first_order_date, last_order_date, tenure_days,
               CAST((2 * s * (365 + tenure_days) + 365) // 730 AS DOUBLE) / 100.0 AS clv
        FROM t ORDER BY customer_id
        """
    )
    con.execute(
        """
        CREATE TABLE daily_revenue AS
        SELECT order_date, CAST(sum(CAST(amount * 100 AS BIGINT)) AS DOUBLE) / 100.0 AS revenue,
               CAST(count(*) AS BIGINT) AS order_count
        FROM order_history GROUP BY order_date ORDER BY order_date
        """
    )
    # The example project's four checks (all blocking errors).
    failed = []
    dup, null_email = con.execute(
        "SELECT count(*) - count(DISTINCT customer_id), count(*) - count(email) FROM cleaned_customer_data"
    ).fetchone()
    if dup:
        failed.append(f"cleaned_customer_data_unique_customer_id: {dup} duplicate customer_id")
    if null_email:
        failed.append(f"cleaned_customer_data_email_not_null: {null_email} null e-mails")
    if not con.execute("SELECT count(*) FROM order_history").fetchone()[0]:
        failed.append("order_history_not_empty: no rows")
    negative = con.execute("SELECT count(*) FROM customer_lifetime_value WHERE NOT clv >= 0").fetchone()[0]
    if negative:
        failed.append(f"customer_lifetime_value_clv_non_negative: {negative} rows")
    if failed:
        for f in failed:
            print(f"check failed: {f}", file=sys.stderr)
        return 1

    for name, money in (
        ("customer_lifetime_value", ["total_revenue", "avg_order_value", "clv"]),
        ("daily_revenue", ["revenue"]),
    ):
        con.execute(f"COPY {name} TO '{out}/{name}.parquet' (FORMAT parquet, COMPRESSION snappy)")
        cols = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]
        select = ", ".join(f"CAST({c} AS DECIMAL(18,2)) AS {c}" if c in money else c for c in cols)
        con.execute(f"COPY (SELECT {select} FROM {name} ORDER BY 1) TO '{out}/{name}.csv' (HEADER, DELIMITER ',')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
