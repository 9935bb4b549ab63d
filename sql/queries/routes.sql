-- name: RouteCreate :exec
INSERT INTO routes (ride_id, proxy_number_id, caller_phone, callee_phone, valid)
VALUES ($1, $2, $3, $4, tstzrange(@valid_from::timestamptz, NULL));

