-- name: ProxyNumberList :many
SELECT * FROM proxy_numbers ORDER BY number;

-- name: ProxyNumberCreate :one
INSERT INTO proxy_numbers (number, country) VALUES ($1, $2) RETURNING *;

-- name: ProxyNumberCreateIfMissing :exec
INSERT INTO proxy_numbers (number, country) VALUES ($1, $2) ON CONFLICT (number) DO NOTHING;

-- name: ProxyNumberPickInCountry :one
-- The least recently assigned enabled number of a country with no route
-- valid now or later for either party. The busy numbers are found once,
-- from the parties' side, so the cost does not grow with history. SKIP
-- LOCKED spreads concurrent creations over the pool instead of queueing
-- them on one row.
SELECT p.* FROM proxy_numbers p
WHERE p.enabled AND p.country = @country
  AND p.id <> ALL (ARRAY(
      SELECT r.proxy_number_id FROM routes r
      WHERE r.caller_phone IN (@customer_phone::text, @driver_phone::text)
        AND coalesce(upper(r.valid), 'infinity') > @now::timestamptz
        AND NOT isempty(r.valid)))
ORDER BY p.last_assigned_at NULLS FIRST, p.id
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: ProxyNumberPickAny :one
-- As ProxyNumberPickInCountry, in any country.
SELECT p.* FROM proxy_numbers p
WHERE p.enabled
  AND p.id <> ALL (ARRAY(
      SELECT r.proxy_number_id FROM routes r
      WHERE r.caller_phone IN (@customer_phone::text, @driver_phone::text)
        AND coalesce(upper(r.valid), 'infinity') > @now::timestamptz
        AND NOT isempty(r.valid)))
ORDER BY p.last_assigned_at NULLS FIRST, p.id
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: ProxyNumberPickWaiting :one
-- The fallback when every free number was locked by a concurrent creation:
-- wait for one instead of skipping it. Its outcome is rechecked by the
-- routing constraint.
SELECT p.* FROM proxy_numbers p
WHERE p.enabled
  AND p.id <> ALL (ARRAY(
      SELECT r.proxy_number_id FROM routes r
      WHERE r.caller_phone IN (@customer_phone::text, @driver_phone::text)
        AND coalesce(upper(r.valid), 'infinity') > @now::timestamptz
        AND NOT isempty(r.valid)))
ORDER BY p.country = @country DESC, p.last_assigned_at NULLS FIRST, p.id
LIMIT 1
FOR UPDATE;

-- name: ProxyNumberMarkAssigned :exec
UPDATE proxy_numbers SET last_assigned_at = $2 WHERE id = $1;

-- name: ProxyNumberGetByNumber :one
SELECT * FROM proxy_numbers WHERE number = $1;

-- name: ProxyNumberListWithLoad :many
-- The pool with each number's rides routed at @now, counted through the
-- routing constraint's index (number first, then the range).
SELECT p.*, (SELECT count(DISTINCT r.ride_id) FROM routes r
             WHERE r.proxy_number_id = p.id AND r.valid @> @now::timestamptz) AS rides_now
FROM proxy_numbers p
ORDER BY p.number;

-- name: ProxyNumberSetEnabled :one
UPDATE proxy_numbers SET enabled = @enabled WHERE proxy_numbers.id = @id
RETURNING *, (SELECT count(DISTINCT r.ride_id) FROM routes r
              WHERE r.proxy_number_id = proxy_numbers.id AND r.valid @> @now::timestamptz) AS rides_now;

-- name: ProxyNumberCountFree :one
-- Enabled numbers no ride holds now or later: each can take a ride for
-- anyone. A route overlapping [@now, ∞) is one valid now or later; an
-- empty one overlaps nothing.
SELECT count(*) FROM proxy_numbers p
WHERE p.enabled AND NOT EXISTS (
    SELECT 1 FROM routes r
    WHERE r.proxy_number_id = p.id AND r.valid && tstzrange(@now::timestamptz, NULL));

-- name: ProxyNumberCapacity :one
-- What the pool can still give, by the rule assignment follows: a ride
-- takes an enabled number that routes neither party now or later.
-- enabled: numbers that take new rides (a new pair can have one ride on
-- each); free: enabled numbers no ride holds now or later; busiest: the
-- most enabled numbers one caller holds now or later (0 when none), read
-- from the routes valid now or later only (routes_until).
SELECT (SELECT count(*) FROM proxy_numbers WHERE enabled) AS enabled,
       (SELECT count(*) FROM proxy_numbers p
        WHERE p.enabled AND NOT EXISTS (
            SELECT 1 FROM routes r
            WHERE r.proxy_number_id = p.id AND r.valid && tstzrange(@now::timestamptz, NULL))) AS free,
       coalesce((SELECT max(held.n) FROM (
            SELECT count(DISTINCT r.proxy_number_id) AS n
            FROM routes r JOIN proxy_numbers p ON p.id = r.proxy_number_id AND p.enabled
            WHERE coalesce(upper(r.valid), 'infinity') > @now::timestamptz AND NOT isempty(r.valid)
            GROUP BY r.caller_phone) held), 0)::bigint AS busiest;

-- name: ProxyNumberPage :many
-- The API's page of the pool, newest first, after the id after_id (0
-- starts at the newest).
SELECT * FROM proxy_numbers
WHERE @after_id::bigint = 0 OR id < @after_id::bigint
ORDER BY id DESC
LIMIT @lim;
