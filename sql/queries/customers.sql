-- name: CustomerList :many
SELECT * FROM customers ORDER BY name, id;

-- name: CustomerGet :one
SELECT * FROM customers WHERE id = $1;

-- name: CustomerCreate :one
INSERT INTO customers (name, phone) VALUES ($1, $2) RETURNING *;

-- name: CustomerCreateIfMissing :exec
INSERT INTO customers (name, phone) VALUES ($1, $2) ON CONFLICT (phone) DO NOTHING;
