-- name: MessageCreateOutbound :one
INSERT INTO messages (ride_id, direction, kind, originator, recipient, body, status, forward_of)
VALUES ($1, 'outbound', $2, $3, $4, $5, 'queued', sqlc.narg(forward_of))
RETURNING *;

-- name: MessageGet :one
SELECT * FROM messages WHERE id = $1;

-- name: MessageListByRide :many
SELECT * FROM messages WHERE ride_id = $1 ORDER BY created_at, id;

-- name: MessageToSend :one
-- A message due for a send attempt: read, not claimed, since a send job
-- runs in one worker at a time and the attempt's outcome is the one write
-- it costs. Nothing comes back when the message is finished or MessageBird
-- already has it, so a retry never sends twice.
SELECT * FROM messages WHERE id = $1 AND provider_id IS NULL AND status IN ('queued', 'sending');

-- name: MessageMarkSent :exec
-- Messages MessageBird accepted, each with its id (a group commit's: see
-- ride.Batcher). Only the first acceptance is kept; a delivery report that
-- came first has set provider_id and a newer status already. The attempts
-- of a send are counted with their outcomes.
-- Each message is found by its key (a join with the arrays was planned as
-- a scan of every message).
UPDATE messages SET provider_id = (sqlc.arg(provider_ids)::text[])[array_position(sqlc.arg(ids)::bigint[], id)],
    status = 'sent', attempts = attempts + 1, last_error = NULL, updated_at = now()
WHERE id = ANY (sqlc.arg(ids)::bigint[]) AND provider_id IS NULL;

-- name: MessageMarkRetrying :exec
UPDATE messages SET status = 'queued', attempts = attempts + 1, last_error = $2, failure = sqlc.narg(failure), updated_at = now()
WHERE id = $1 AND provider_id IS NULL;

-- name: MessageMarkFailed :exec
-- attempted: 1 when a send attempt failed, 0 when an operator cancelled.
UPDATE messages SET status = 'failed', attempts = attempts + @attempted::integer, last_error = $2, failure = sqlc.narg(failure), updated_at = now()
WHERE id = $1 AND provider_id IS NULL;

-- name: MessageCreateInbound :one
-- Zero rows when MessageBird delivered this id before: it is handled once.
INSERT INTO messages (ride_id, direction, kind, originator, recipient, body, status, received_id, created_at)
VALUES (sqlc.narg(ride_id), 'inbound', 'inbound', $1, $2, $3, $4, $5, $6)
ON CONFLICT (received_id) DO NOTHING
RETURNING id;

-- name: MessageApplyReport :one
-- A delivery report moves an outbound message on, unless a newer one
-- already did (no row then). It also records MessageBird's id, should the
-- report beat the worker's own record of the acceptance.
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
  AND (reported_at IS NULL OR reported_at <= @reported_at::timestamptz)
RETURNING ride_id;

-- name: MessageListUnmatchedFrom :many
-- Texts to a number from either phone that no route matched, in a window.
SELECT * FROM messages
WHERE ride_id IS NULL AND originator IN (@phone_a::text, @phone_b::text) AND recipient = @proxy_number::text
  AND created_at >= @since::timestamptz AND created_at <= @until::timestamptz
ORDER BY created_at, id;

-- name: MessageCountsSince :one
SELECT count(*) AS total, count(*) FILTER (WHERE status = 'failed') AS failed
FROM messages WHERE created_at >= @since::timestamptz;

-- name: MessagePerHour :many
SELECT date_trunc('hour', created_at)::timestamptz AS hour, count(*) AS n
FROM messages WHERE created_at >= @since::timestamptz
GROUP BY 1 ORDER BY 1;

-- name: MessageListTrouble :many
-- Outbound messages that failed or are waiting for a retry.
SELECT * FROM messages
WHERE last_error IS NOT NULL AND status IN ('queued', 'sending', 'failed')
ORDER BY id DESC
LIMIT 100;

-- name: MessageRequeue :one
-- An operator's retry of a failed send: queued again, its history kept.
UPDATE messages SET status = 'queued', updated_at = now()
WHERE id = $1 AND direction = 'outbound' AND status = 'failed' AND provider_id IS NULL
RETURNING *;

-- name: MessageListOutbox :many
SELECT * FROM messages WHERE direction = 'outbound' ORDER BY id DESC LIMIT 30;

-- name: MessageFindForward :one
-- The forward written for an inbound MessageBird message, if any.
SELECT f.* FROM messages i JOIN messages f ON f.forward_of = i.id WHERE i.received_id = $1;

-- name: MessageListUnmatched :many
-- The newest texts no route matched.
SELECT * FROM messages WHERE ride_id IS NULL ORDER BY created_at DESC LIMIT $1;

-- name: MessageCountByStatus :many
-- The metrics scrape: how many messages wait, fail or got through.
SELECT status, count(*) AS n FROM messages GROUP BY status;

-- name: MessageRequeueFailed :many
-- "Retry all failed": the newest failed sends retrying may help (not
-- those MessageBird refused for good, nor those an operator cancelled),
-- queued again with their history kept.
UPDATE messages SET status = 'queued', updated_at = now()
WHERE id IN (
    SELECT id FROM messages
    WHERE direction = 'outbound' AND status = 'failed' AND provider_id IS NULL
      AND failure IS DISTINCT FROM 'permanent' AND failure IS DISTINCT FROM 'cancelled'
    ORDER BY id DESC
    LIMIT @max::integer
)
RETURNING id;
