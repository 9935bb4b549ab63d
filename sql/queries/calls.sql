-- name: CallListByRide :many
SELECT * FROM calls WHERE ride_id = $1 ORDER BY created_at, id;

-- name: CallCreateMany :copyfrom
INSERT INTO calls (ride_id, call_id, source, destination, transferred_to, outcome, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7);
