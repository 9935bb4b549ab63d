-- name: CallListByRide :many
SELECT * FROM calls WHERE ride_id = $1 ORDER BY created_at, id;

-- name: CallCreateBatch :exec
-- Writes a batch of answered calls at once; 0 and '' stand for null. The
-- unnests in one select list advance together, row by row.
INSERT INTO calls (ride_id, call_id, source, destination, transferred_to, outcome, created_at)
SELECT nullif(unnest(@ride_ids::bigint[]), 0), unnest(@call_ids::text[]), unnest(@sources::text[]),
       unnest(@destinations::text[]), nullif(unnest(@transferred_to::text[]), ''),
       unnest(@outcomes::text[]), unnest(@created_at::timestamptz[]);
