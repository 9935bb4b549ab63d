-- name: AdminCredentialGet :one
SELECT password_hash FROM admin_credentials WHERE username = $1;

-- name: AdminCredentialCreate :execrows
-- Zero rows: another process stored a password first; read that one.
INSERT INTO admin_credentials (username, password_hash) VALUES ($1, $2)
ON CONFLICT (username) DO NOTHING;

-- name: AdminSessionCreate :exec
INSERT INTO admin_sessions (id_hash, username, csrf_token, expires_at) VALUES ($1, $2, $3, $4);

-- name: AdminSessionGet :one
SELECT username, csrf_token FROM admin_sessions
WHERE id_hash = @id_hash AND expires_at > @now;

-- name: AdminSessionDelete :exec
DELETE FROM admin_sessions WHERE id_hash = $1;

-- name: AdminSessionDeleteExpired :exec
DELETE FROM admin_sessions WHERE expires_at <= $1;
