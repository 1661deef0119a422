-- SPEC §4.1. Money is summed in exact integer cents and turned into a double only at the end.
WITH per_customer AS (
    SELECT
        customer_id,
        COUNT(*) AS order_count,
        SUM(CAST(amount * 100 AS BIGINT)) AS cents,
        MIN(order_date) AS first_order_date,
        MAX(order_date) AS last_order_date
    FROM order_history
    GROUP BY customer_id
),
with_tenure AS (
    SELECT
        *,
        DATEDIFF('day', first_order_date, last_order_date) AS tenure_days
    FROM per_customer
)
SELECT
    customer_id,
    order_count,
    cents / 100.0 AS total_revenue,
    FLOOR((2 * cents + order_count) / (2 * order_count)) / 100.0 AS avg_order_value,
    first_order_date,
    last_order_date,
    tenure_days,
    FLOOR((2 * cents * (365 + tenure_days) + 365) / 730) / 100.0 AS clv
FROM with_tenure
ORDER BY customer_id
