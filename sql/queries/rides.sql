-- name: RideCreate :one
INSERT INTO rides (customer_id, driver_id, proxy_number_id, start_address, destination, pickup_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING *;

-- name: RideGet :one
SELECT r.*, c.name AS customer_name, c.phone AS customer_phone,
       d.name AS driver_name, d.phone AS driver_phone, p.number AS proxy_number
FROM rides r
JOIN customers c ON c.id = r.customer_id
JOIN drivers d ON d.id = r.driver_id
JOIN proxy_numbers p ON p.id = r.proxy_number_id
WHERE r.id = $1;

-- name: RideEnd :one
-- Ends an active ride and cuts its routes off at expires_at (the grace
-- period); ending it again changes nothing and returns no row.
WITH ended AS (
    UPDATE rides SET status = @status, ended_at = @now::timestamptz, expires_at = @expires_at::timestamptz
    WHERE rides.id = @id AND rides.status = 'active'
    RETURNING *
), cut AS (
    UPDATE routes SET valid = tstzrange(lower(valid), greatest(lower(valid), ended.expires_at))
    FROM ended WHERE routes.ride_id = ended.id
)
SELECT * FROM ended;

-- name: RideCutGrace :one
-- Ends an ended ride's grace period at @now (disconnect now); a ride that
-- is active or no longer routing changes nothing and returns no row.
WITH cut_ride AS (
    UPDATE rides SET expires_at = @now::timestamptz
    WHERE rides.id = @id AND rides.status <> 'active' AND rides.expires_at > @now::timestamptz
    RETURNING *
), cut AS (
    UPDATE routes SET valid = tstzrange(lower(valid), greatest(lower(valid), cut_ride.expires_at))
    FROM cut_ride WHERE routes.ride_id = cut_ride.id
)
SELECT * FROM cut_ride;

-- name: RideEndStale :many
-- Completes active rides whose pickup is long past (the platform forgot to
-- end them), so their numbers return to the pool after the grace period.
WITH ended AS (
    UPDATE rides SET status = 'completed', ended_at = @now::timestamptz, expires_at = @expires_at::timestamptz
    WHERE id IN (SELECT id FROM rides WHERE status = 'active' AND pickup_at < @pickup_before::timestamptz ORDER BY id LIMIT 1000)
    RETURNING id, expires_at
), cut AS (
    UPDATE routes SET valid = tstzrange(lower(valid), greatest(lower(valid), ended.expires_at))
    FROM ended WHERE routes.ride_id = ended.id
)
SELECT id FROM ended;

-- name: RideList :many
-- A page of rides, newest first. filter: active, grace (ended, still
-- routing), routable (either), ended (no longer routing) or anything else
-- for all; pickup_from and pickup_to (exclusive) bound the pickup when set.
SELECT r.*, c.name AS customer_name, c.phone AS customer_phone,
       d.name AS driver_name, d.phone AS driver_phone, p.number AS proxy_number
FROM rides r
JOIN customers c ON c.id = r.customer_id
JOIN drivers d ON d.id = r.driver_id
JOIN proxy_numbers p ON p.id = r.proxy_number_id
WHERE CASE @filter::text
        WHEN 'active' THEN r.status = 'active'
        WHEN 'grace' THEN r.status <> 'active' AND r.expires_at > @now::timestamptz
        WHEN 'routable' THEN r.status = 'active' OR r.expires_at > @now::timestamptz
        WHEN 'ended' THEN r.status <> 'active' AND r.expires_at <= @now::timestamptz
        ELSE true END
  AND (sqlc.narg(pickup_from)::timestamptz IS NULL OR r.pickup_at >= sqlc.narg(pickup_from)::timestamptz)
  AND (sqlc.narg(pickup_to)::timestamptz IS NULL OR r.pickup_at < sqlc.narg(pickup_to)::timestamptz)
ORDER BY r.created_at DESC, r.id DESC
LIMIT @lim OFFSET @off;

-- name: RideSearch :many
-- RideList for a search: the rides whose customer, driver or proxy number
-- matches, or whose id is ride_id. A name matches name (an ILIKE pattern);
-- a phone or number matches when it is exact, starts with head, or ends
-- with tail or tail_alt and then matches whole (a regular expression; ''
-- for any): each '' when unused. Numbers are found through their head and
-- tail indexes (migration 012), their rides through the foreign keys'
-- (a ride found twice is one row of the union).
WITH m AS (
    SELECT * FROM rides WHERE customer_id IN (
        SELECT id FROM customers
        WHERE (@name::text <> '' AND name ILIKE @name::text)
           OR phone = @exact::text
           OR (@head::text <> '' AND phone LIKE @head::text || '%')
           OR (@tail::text <> '' AND reverse(phone::text) LIKE reverse(@tail::text) || '%' AND phone ~ @whole::text)
           OR (@tail_alt::text <> '' AND reverse(phone::text) LIKE reverse(@tail_alt::text) || '%' AND phone ~ @whole::text))
    UNION
    SELECT * FROM rides WHERE driver_id IN (
        SELECT id FROM drivers
        WHERE (@name::text <> '' AND name ILIKE @name::text)
           OR phone = @exact::text
           OR (@head::text <> '' AND phone LIKE @head::text || '%')
           OR (@tail::text <> '' AND reverse(phone::text) LIKE reverse(@tail::text) || '%' AND phone ~ @whole::text)
           OR (@tail_alt::text <> '' AND reverse(phone::text) LIKE reverse(@tail_alt::text) || '%' AND phone ~ @whole::text))
    UNION
    SELECT * FROM rides WHERE proxy_number_id IN (
        SELECT id FROM proxy_numbers
        WHERE number = @exact::text
           OR (@head::text <> '' AND number LIKE @head::text || '%')
           OR (@tail::text <> '' AND reverse(number::text) LIKE reverse(@tail::text) || '%' AND number ~ @whole::text)
           OR (@tail_alt::text <> '' AND reverse(number::text) LIKE reverse(@tail_alt::text) || '%' AND number ~ @whole::text))
    UNION
    SELECT * FROM rides WHERE id = @ride_id::bigint
), page AS (
    -- The page is cut before the parties are joined, so only its rows are.
    SELECT * FROM m r
    WHERE CASE @filter::text
            WHEN 'active' THEN r.status = 'active'
            WHEN 'grace' THEN r.status <> 'active' AND r.expires_at > @now::timestamptz
            WHEN 'routable' THEN r.status = 'active' OR r.expires_at > @now::timestamptz
            WHEN 'ended' THEN r.status <> 'active' AND r.expires_at <= @now::timestamptz
            ELSE true END
      AND (sqlc.narg(pickup_from)::timestamptz IS NULL OR r.pickup_at >= sqlc.narg(pickup_from)::timestamptz)
      AND (sqlc.narg(pickup_to)::timestamptz IS NULL OR r.pickup_at < sqlc.narg(pickup_to)::timestamptz)
    ORDER BY r.created_at DESC, r.id DESC
    LIMIT @lim OFFSET @off
)
SELECT r.*, c.name AS customer_name, c.phone AS customer_phone,
       d.name AS driver_name, d.phone AS driver_phone, p.number AS proxy_number
FROM page r
JOIN customers c ON c.id = r.customer_id
JOIN drivers d ON d.id = r.driver_id
JOIN proxy_numbers p ON p.id = r.proxy_number_id
ORDER BY r.created_at DESC, r.id DESC;

-- name: RideExtendGrace :one
-- Moves an ended ride's expiry; its routes follow. The routing constraint
-- refuses it when the number already serves one of the parties again.
WITH ext AS (
    UPDATE rides SET expires_at = @expires_at::timestamptz
    WHERE rides.id = @id AND rides.status <> 'active'
    RETURNING *
), cut AS (
    UPDATE routes SET valid = tstzrange(lower(valid), greatest(lower(valid), ext.expires_at))
    FROM ext WHERE routes.ride_id = ext.id
)
SELECT * FROM ext;

-- name: RideCountActive :one
SELECT count(*) FROM rides WHERE status = 'active';

-- name: RidePage :many
-- The API's page of rides, newest first, after the cursor (after_at,
-- after_id; 0 starts at the newest). status: active, ended (anything but
-- active) or '' for all; phone matches either party exactly.
SELECT r.*, c.name AS customer_name, c.phone AS customer_phone,
       d.name AS driver_name, d.phone AS driver_phone, p.number AS proxy_number
FROM rides r
JOIN customers c ON c.id = r.customer_id
JOIN drivers d ON d.id = r.driver_id
JOIN proxy_numbers p ON p.id = r.proxy_number_id
WHERE (@status::text = '' OR (@status::text = 'active') = (r.status = 'active'))
  AND (@phone::text = '' OR c.phone::text = @phone::text OR d.phone::text = @phone::text)
  AND (@customer_id::bigint = 0 OR r.customer_id = @customer_id::bigint)
  AND (@driver_id::bigint = 0 OR r.driver_id = @driver_id::bigint)
  AND (@after_id::bigint = 0 OR (r.created_at, r.id) < (@after_at::timestamptz, @after_id::bigint))
ORDER BY r.created_at DESC, r.id DESC
LIMIT @lim;
