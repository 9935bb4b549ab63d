-- name: PersonList :many
-- The first lim people of a role by name whose name or phone contains q ("" for all).
-- Customers and drivers live in twin tables: their ids are public (the
-- platform stores them) and counted per role, so the tables stay apart.
-- These queries serve both through one code path: the role picks the
-- table, and the other branch is cut off by a one-time filter.
SELECT p.id, p.name, p.phone FROM (
    SELECT id, name, phone FROM customers WHERE @role::text = 'customer'
    UNION ALL
    SELECT id, name, phone FROM drivers WHERE @role::text = 'driver'
) p
WHERE @q::text = '' OR p.name ILIKE '%' || @q || '%' OR p.phone LIKE '%' || @q || '%'
ORDER BY p.name, p.id
LIMIT @lim;

-- name: PersonGet :one
SELECT c.id, c.name, c.phone FROM customers c WHERE @role::text = 'customer' AND c.id = @id
UNION ALL
SELECT d.id, d.name, d.phone FROM drivers d WHERE @role::text = 'driver' AND d.id = @id;

-- name: PersonCreate :one
WITH c AS (
    INSERT INTO customers (name, phone) SELECT @name::text, @phone::text WHERE @role::text = 'customer'
    RETURNING id, name, phone
), d AS (
    INSERT INTO drivers (name, phone) SELECT @name::text, @phone::text WHERE @role::text = 'driver'
    RETURNING id, name, phone
)
SELECT id, name, phone FROM c UNION ALL SELECT id, name, phone FROM d;

-- name: PersonCreateIfMissing :exec
WITH c AS (
    INSERT INTO customers (name, phone) SELECT @name::text, @phone::text WHERE @role::text = 'customer'
    ON CONFLICT (phone) DO NOTHING
), d AS (
    INSERT INTO drivers (name, phone) SELECT @name::text, @phone::text WHERE @role::text = 'driver'
    ON CONFLICT (phone) DO NOTHING
)
SELECT 1;

-- name: PersonUpdate :one
WITH c AS (
    UPDATE customers SET name = @name::text, phone = @phone::text WHERE @role::text = 'customer' AND customers.id = @id
    RETURNING id, name, phone
), d AS (
    UPDATE drivers SET name = @name::text, phone = @phone::text WHERE @role::text = 'driver' AND drivers.id = @id
    RETURNING id, name, phone
)
SELECT id, name, phone FROM c UNION ALL SELECT id, name, phone FROM d;

-- name: PersonDelete :one
-- How many people were deleted: 0 or 1.
WITH c AS (
    DELETE FROM customers WHERE @role::text = 'customer' AND customers.id = @id RETURNING id
), d AS (
    DELETE FROM drivers WHERE @role::text = 'driver' AND drivers.id = @id RETURNING id
)
SELECT count(*) FROM (SELECT id FROM c UNION ALL SELECT id FROM d) deleted;

-- name: PersonLastRide :one
-- The ride that keeps a person from being deleted, the most binding
-- first: an active one (no expiry yet), else the one routing longest.
SELECT r.id, r.status, r.expires_at FROM rides r WHERE @role::text = 'customer' AND r.customer_id = @id
UNION ALL
SELECT r.id, r.status, r.expires_at FROM rides r WHERE @role::text = 'driver' AND r.driver_id = @id
ORDER BY expires_at DESC NULLS FIRST, id DESC
LIMIT 1;

-- name: PersonPage :many
-- The API's page of people of a role, newest first, after the id after_id
-- (0 starts at the newest); phone ('' for all) matches exactly.
SELECT p.id, p.name, p.phone FROM (
    SELECT id, name, phone FROM customers WHERE @role::text = 'customer'
    UNION ALL
    SELECT id, name, phone FROM drivers WHERE @role::text = 'driver'
) p
WHERE (@phone::text = '' OR p.phone::text = @phone::text)
  AND (@after_id::bigint = 0 OR p.id < @after_id::bigint)
ORDER BY p.id DESC
LIMIT @lim;
