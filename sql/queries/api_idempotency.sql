-- name: APIIdempotencyClaim :execrows
-- Zero rows: the key was used before (or is being used right now; this waits for it).
INSERT INTO api_idempotency (key, status, body) VALUES ($1, 0, 'null') ON CONFLICT (key) DO NOTHING;

-- name: APIIdempotencyGet :one
SELECT status, body FROM api_idempotency WHERE key = $1;

-- name: APIIdempotencySave :exec
UPDATE api_idempotency SET status = $2, body = $3 WHERE key = $1;
