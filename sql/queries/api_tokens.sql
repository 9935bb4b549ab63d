-- name: APITokenCreate :one
INSERT INTO api_tokens (name, token_hash, created_by, created_at)
VALUES (@name, @token_hash, @created_by, @created_at)
RETURNING *;

-- name: APITokenByHash :one
SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL;

-- name: APITokenList :many
SELECT * FROM api_tokens ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC;

-- name: APITokenRevoke :one
UPDATE api_tokens SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL
RETURNING *;

-- name: APITokenAnyLive :one
SELECT EXISTS (SELECT 1 FROM api_tokens WHERE revoked_at IS NULL);
