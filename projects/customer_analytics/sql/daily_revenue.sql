-- SPEC §4.2: one row per order date present in order_history, no gap filling.
SELECT
    order_date,
    SUM(CAST(amount * 100 AS BIGINT)) / 100.0 AS revenue,
    COUNT(*) AS order_count
FROM order_history
GROUP BY order_date
ORDER BY order_date
