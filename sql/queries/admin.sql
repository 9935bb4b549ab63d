-- name: AdminCredentialGet :one
SELECT password_hash FROM admin_credentials WHERE username = $1;

-- name: AdminCredentialCreate :execrows
-- Zero rows: another process stored a password first; read that one.
INSERT INTO admin_credentials (username, password_hash) VALUES ($1, $2)
ON CONFLICT (username) DO NOTHING;

-- name: AdminSessionCreate :exec
INSERT INTO admin_sessions (id_hash, username, operator_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4, $5);

-- name: AdminSessionGet :one
-- A session counts only while its operator is enabled: disabling one ends
-- their sessions at the next request, even one already past this check's
-- transaction (the disabling also deletes them).
SELECT o.id, o.username, o.name, o.role, s.csrf_token
FROM admin_sessions s JOIN operators o ON o.id = s.operator_id
WHERE s.id_hash = @id_hash AND s.expires_at > @now AND NOT o.disabled;

-- name: AdminSessionDelete :exec
DELETE FROM admin_sessions WHERE id_hash = $1;

-- name: AdminSessionDeleteExpired :exec
DELETE FROM admin_sessions WHERE expires_at <= $1;

-- name: AdminSessionDeleteByOperator :execrows
DELETE FROM admin_sessions WHERE operator_id = $1;
