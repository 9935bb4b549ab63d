-- name: CustomerList :many
-- The first lim customers by name whose name or phone contains q ("" for all).
SELECT * FROM customers
WHERE @q::text = '' OR name ILIKE '%' || @q || '%' OR phone LIKE '%' || @q || '%'
ORDER BY name, id
LIMIT @lim;

-- name: CustomerGet :one
SELECT * FROM customers WHERE id = $1;

-- name: CustomerCreate :one
INSERT INTO customers (name, phone) VALUES ($1, $2) RETURNING *;

-- name: CustomerCreateIfMissing :exec
INSERT INTO customers (name, phone) VALUES ($1, $2) ON CONFLICT (phone) DO NOTHING;

-- name: CustomerUpdate :one
UPDATE customers SET name = $2, phone = $3 WHERE id = $1 RETURNING *;

-- name: CustomerDelete :execrows
DELETE FROM customers WHERE id = $1;

-- name: CustomerLastRide :one
-- The ride that keeps a customer from being deleted, the most binding
-- first: an active one (no expiry yet), else the one routing longest.
SELECT id, status, expires_at FROM rides WHERE customer_id = $1
ORDER BY expires_at DESC NULLS FIRST, id DESC
LIMIT 1;
