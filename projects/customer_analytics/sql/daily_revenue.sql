-- SPEC §4.2: one row per order date present in order_history, no gap filling. The decimal sum
-- is exact; the double is made from it at the end.
SELECT
    order_date,
    CAST(SUM(amount) AS DOUBLE) AS revenue,
    CAST(COUNT(*) AS BIGINT) AS order_count
FROM order_history
GROUP BY order_date
ORDER BY order_date
