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
-- Only the first acceptance is kept; a delivery report that came first
-- has set provider_id and a newer status already.
UPDATE messages SET provider_id = $2, status = 'sent', last_error = NULL, updated_at = now()
WHERE id = $1 AND provider_id IS NULL;

-- name: MessageMarkRetrying :exec
UPDATE messages SET status = 'queued', last_error = $2, updated_at = now()
WHERE id = $1 AND provider_id IS NULL;

-- name: MessageMarkFailed :exec
UPDATE messages SET status = 'failed', last_error = $2, updated_at = now()
WHERE id = $1 AND provider_id IS NULL;

-- name: MessageCreateInbound :one
-- Zero rows when MessageBird delivered this id before: it is handled once.
INSERT INTO messages (ride_id, direction, kind, originator, recipient, body, status, received_id, created_at)
VALUES (sqlc.narg(ride_id), 'inbound', 'inbound', $1, $2, $3, $4, $5, $6)
ON CONFLICT (received_id) DO NOTHING
RETURNING id;

-- name: MessageApplyReport :execrows
-- A delivery report moves an outbound message on, unless a newer one
-- already did. It also records MessageBird's id, should the report beat the
-- worker's own record of the acceptance.
UPDATE messages SET
    status = CASE @report_status::text
        WHEN 'delivered' THEN 'delivered'
        WHEN 'failed' THEN 'failed'
        ELSE 'sent' END,
    last_error = CASE WHEN @report_status::text = 'failed' THEN sqlc.narg(reason) ELSE last_error END,
    provider_id = coalesce(provider_id, sqlc.narg(provider_id)),
    reported_at = @reported_at::timestamptz,
    updated_at = now()
WHERE id = @id AND direction = 'outbound'
  AND (reported_at IS NULL OR reported_at <= @reported_at::timestamptz);
