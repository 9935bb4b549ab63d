-- name: DriverList :many
SELECT * FROM drivers ORDER BY name, id;

-- name: DriverGet :one
SELECT * FROM drivers WHERE id = $1;

-- name: DriverCreate :one
INSERT INTO drivers (name, phone) VALUES ($1, $2) RETURNING *;

-- name: DriverCreateIfMissing :exec
INSERT INTO drivers (name, phone) VALUES ($1, $2) ON CONFLICT (phone) DO NOTHING;
