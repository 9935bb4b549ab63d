-- name: MessageCreateOutbound :one
INSERT INTO messages (ride_id, direction, kind, originator, recipient, body, status, forward_of)
VALUES ($1, 'outbound', $2, $3, $4, $5, 'queued', sqlc.narg(forward_of))
RETURNING *;

-- name: MessageGet :one
SELECT * FROM messages WHERE id = $1;

-- name: MessageListByRide :many
SELECT * FROM messages WHERE ride_id = $1 ORDER BY created_at, id;

-- name: MessageStartSending :one
-- Claims a queued message for one send attempt. Nothing comes back when the
-- message is finished or MessageBird already has it, so a retry never sends twice.
UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = now()
WHERE id = $1 AND provider_id IS NULL AND status IN ('queued', 'sending')
RETURNING *;

-- name: MessageMarkSent :exec
-- Only the first acceptance is kept: a delivery report may already have moved the status on.
UPDATE messages SET provider_id = $2, status = 'sent', last_error = NULL, updated_at = now()
WHERE id = $1 AND provider_id IS NULL;

-- name: MessageMarkRetrying :exec
UPDATE messages SET status = 'queued', last_error = $2, updated_at = now()
WHERE id = $1 AND provider_id IS NULL;

-- name: MessageMarkFailed :exec
UPDATE messages SET status = 'failed', last_error = $2, updated_at = now()
WHERE id = $1 AND provider_id IS NULL;
