-- name: CallListByRide :many
SELECT * FROM calls WHERE ride_id = $1 ORDER BY created_at, id;

-- name: CallCreateMany :copyfrom
INSERT INTO calls (ride_id, call_id, source, destination, transferred_to, outcome, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: CallListUnmatchedFrom :many
-- Calls to a number from either phone (as MessageBird's digits) that no route matched, in a window.
SELECT * FROM calls
WHERE ride_id IS NULL AND source IN (@source_a::text, @source_b::text) AND destination = @destination::text
  AND created_at >= @since::timestamptz AND created_at <= @until::timestamptz
ORDER BY created_at, id;

-- name: CallListUnmatched :many
-- The newest calls no route matched.
SELECT * FROM calls WHERE ride_id IS NULL ORDER BY created_at DESC LIMIT $1;
