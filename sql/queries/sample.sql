-- name: SampleDatabaseEmpty :one
-- True when nothing an operator entered exists yet, so sample data may go in.
SELECT (NOT EXISTS (SELECT 1 FROM customers)
   AND NOT EXISTS (SELECT 1 FROM drivers)
   AND NOT EXISTS (SELECT 1 FROM proxy_numbers))::boolean AS empty;
