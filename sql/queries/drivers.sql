-- name: DriverList :many
-- The first lim drivers by name whose name or phone contains q ("" for all).
SELECT * FROM drivers
WHERE @q::text = '' OR name ILIKE '%' || @q || '%' OR phone LIKE '%' || @q || '%'
ORDER BY name, id
LIMIT @lim;

-- name: DriverGet :one
SELECT * FROM drivers WHERE id = $1;

-- name: DriverCreate :one
INSERT INTO drivers (name, phone) VALUES ($1, $2) RETURNING *;

-- name: DriverCreateIfMissing :exec
INSERT INTO drivers (name, phone) VALUES ($1, $2) ON CONFLICT (phone) DO NOTHING;

-- name: DriverUpdate :one
UPDATE drivers SET name = $2, phone = $3 WHERE id = $1 RETURNING *;

-- name: DriverDelete :execrows
DELETE FROM drivers WHERE id = $1;

-- name: DriverLastRide :one
-- As CustomerLastRide, for a driver.
SELECT id, status, expires_at FROM rides WHERE driver_id = $1
ORDER BY expires_at DESC NULLS FIRST, id DESC
LIMIT 1;
