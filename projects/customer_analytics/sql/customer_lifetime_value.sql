-- SPEC §4.1. Money stays exact: amounts are DECIMAL(12,2), sums are exact decimals, rounding
-- is integer arithmetic on cents, and doubles are made only at the end, from decimals.
WITH per_customer AS (
    SELECT
        customer_id,
        CAST(COUNT(*) AS BIGINT) AS order_count,
        SUM(amount) AS revenue,
        MIN(order_date) AS first_order_date,
        MAX(order_date) AS last_order_date
    FROM order_history
    GROUP BY customer_id
),
in_cents AS (
    SELECT
        *,
        CAST(revenue * 100 AS BIGINT) AS cents,
        CAST(last_order_date AS BIGINT) - CAST(first_order_date AS BIGINT) AS tenure_days
    FROM per_customer
)
SELECT
    customer_id,
    order_count,
    CAST(revenue AS DOUBLE) AS total_revenue,
    CAST(CAST(DIV(2 * cents + order_count, 2 * order_count) AS DECIMAL(38, 2)) / 100 AS DOUBLE) AS avg_order_value,
    first_order_date,
    last_order_date,
    tenure_days,
    CAST(CAST(DIV(2 * cents * (365 + tenure_days) + 365, 730) AS DECIMAL(38, 2)) / 100 AS DOUBLE) AS clv
FROM in_cents
ORDER BY customer_id
