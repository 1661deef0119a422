-- SPEC §3: completed (exact, case-sensitive), strictly positive, known cleaned customer.
SELECT o.order_id, o.customer_id, o.order_date, o.amount, o.status
FROM raw_orders AS o
WHERE o.status = 'completed'
  AND o.amount > 0
  AND o.customer_id IN (SELECT customer_id FROM cleaned_customer_data)
