-- name: IdempotencyLock :one
-- False while another transaction holds the key: that request is in flight.
SELECT pg_try_advisory_xact_lock(hashtextextended(@scope::text || ' ' || @key::text, 0));

-- name: IdempotencyGet :one
-- The answer stored under a key that has not expired.
SELECT fingerprint, status, body FROM api_idempotency
WHERE scope = @scope AND key = @key AND created_at > @since;

-- name: IdempotencySave :exec
-- An expired key is used afresh.
INSERT INTO api_idempotency (scope, key, fingerprint, status, body, created_at)
VALUES (@scope, @key, @fingerprint, @status, @body, @created_at)
ON CONFLICT (scope, key) DO UPDATE
SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, body = EXCLUDED.body, created_at = EXCLUDED.created_at;

-- name: IdempotencyDeleteExpired :execrows
DELETE FROM api_idempotency WHERE created_at <= @since;
