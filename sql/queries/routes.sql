-- name: RouteCreate :exec
INSERT INTO routes (ride_id, proxy_number_id, caller_phone, callee_phone, valid)
VALUES ($1, $2, $3, $4, tstzrange(@valid_from::timestamptz, NULL));


-- name: RouteFind :one
-- The route valid at @now for a caller dialling or texting a proxy number.
-- The number is resolved first so the routing constraint's index is
-- searched on all three of its columns; joined, the planner may search it
-- by caller alone and read most of it.
SELECT r.ride_id, r.callee_phone, r.proxy_number_id
FROM routes r
WHERE r.proxy_number_id = (SELECT p.id FROM proxy_numbers p WHERE p.number = @proxy_number)
  AND r.caller_phone = @caller_phone AND r.valid @> @now::timestamptz;

-- name: RoutesOpen :many
-- The routes valid at @now or later: what the web processes keep in
-- memory. open: valid for ever (valid_until is then meaningless).
SELECT r.proxy_number_id, p.number AS proxy_number, r.ride_id, r.caller_phone, r.callee_phone,
       lower(r.valid)::timestamptz AS valid_from, upper_inf(r.valid) AS open,
       coalesce(upper(r.valid), lower(r.valid))::timestamptz AS valid_until
FROM routes r
JOIN proxy_numbers p ON p.id = r.proxy_number_id
WHERE coalesce(upper(r.valid), 'infinity') > @now::timestamptz AND NOT isempty(r.valid);

-- name: RoutesOpenOf :many
-- RoutesOpen for one number.
SELECT r.proxy_number_id, p.number AS proxy_number, r.ride_id, r.caller_phone, r.callee_phone,
       lower(r.valid)::timestamptz AS valid_from, upper_inf(r.valid) AS open,
       coalesce(upper(r.valid), lower(r.valid))::timestamptz AS valid_until
FROM routes r
JOIN proxy_numbers p ON p.id = r.proxy_number_id
WHERE r.proxy_number_id = @proxy_number_id
  AND coalesce(upper(r.valid), 'infinity') > @now::timestamptz AND NOT isempty(r.valid);
