-- name: RouteCreate :exec
INSERT INTO routes (ride_id, proxy_number_id, caller_phone, callee_phone, valid)
VALUES ($1, $2, $3, $4, tstzrange(@valid_from::timestamptz, NULL));


-- name: RouteFind :one
-- The route valid at @now for a caller dialling or texting a proxy number.
SELECT r.ride_id, r.callee_phone, p.id AS proxy_number_id, p.number AS proxy_number
FROM routes r
JOIN proxy_numbers p ON p.id = r.proxy_number_id
WHERE p.number = @proxy_number AND r.caller_phone = @caller_phone AND r.valid @> @now::timestamptz;
