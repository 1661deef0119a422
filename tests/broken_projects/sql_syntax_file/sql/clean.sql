-- a comment
SELECT id
FROM raw WHERE (
