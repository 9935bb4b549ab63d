-- name: OperatorByUsername :one
SELECT * FROM operators WHERE lower(username) = lower(@username::text);

-- name: OperatorGet :one
SELECT * FROM operators WHERE id = $1;

-- name: OperatorGetForUpdate :one
SELECT * FROM operators WHERE id = $1 FOR UPDATE;

-- name: OperatorList :many
SELECT * FROM operators ORDER BY disabled, lower(name), id;

-- name: OperatorCreate :one
INSERT INTO operators (name, username, password_hash, role, created_at)
VALUES (@name, @username, @password_hash, @role, @created_at)
RETURNING *;

-- name: OperatorEnsureFirstAdmin :one
-- The first admin, from ADMIN_USER: created if missing. With ADMIN_PASSWORD
-- (fixed) it is made an enabled admin again and keeps no password here (the
-- configured one is checked, from memory); without, it keeps the password
-- it has, or is given the generated one.
INSERT INTO operators (name, username, password_hash, role, created_at)
VALUES (@username, @username, @password_hash, 'admin', @created_at)
ON CONFLICT (lower(username)) DO UPDATE
SET password_hash = CASE WHEN @fixed::boolean THEN ''::bytea
                         WHEN operators.password_hash = ''::bytea THEN EXCLUDED.password_hash
                         ELSE operators.password_hash END,
    role = CASE WHEN @fixed::boolean THEN 'admin' ELSE operators.role END,
    disabled = CASE WHEN @fixed::boolean THEN false ELSE operators.disabled END
RETURNING *;

-- name: OperatorSetRole :exec
UPDATE operators SET role = $2 WHERE id = $1;

-- name: OperatorSetDisabled :exec
UPDATE operators SET disabled = $2 WHERE id = $1;

-- name: OperatorSetPassword :exec
UPDATE operators SET password_hash = $2 WHERE id = $1;

-- name: OperatorLockAdmins :exec
-- Held until the transaction ends: changes that may take away an admin
-- run one at a time.
SELECT pg_advisory_xact_lock(hashtext('birdcar.operators.admins'));

-- name: OperatorCountAdmins :one
-- Enabled admins other than the one given: the last one cannot go.
SELECT count(*) FROM operators WHERE role = 'admin' AND NOT disabled AND id <> $1;
