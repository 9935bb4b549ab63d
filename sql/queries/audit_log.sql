-- name: AuditCreate :exec
INSERT INTO audit_log (at, actor_kind, actor_name, actor_login, action, ride_id, person_role, person_id, number, detail)
VALUES (@at, @actor_kind, @actor_name, @actor_login, @action, @ride_id, @person_role, @person_id, @number, @detail);

-- name: AuditList :many
-- A page of the log, newest first, after the cursor (at, id); each filter
-- is off when empty or null.
SELECT * FROM audit_log
WHERE (@actor::text = '' OR actor_name ILIKE '%' || @actor || '%' OR actor_login ILIKE '%' || @actor || '%')
  AND (@action::text = '' OR action = @action OR action LIKE @action || '.%')
  AND (sqlc.narg(ride_id)::bigint IS NULL OR ride_id = sqlc.narg(ride_id))
  AND (sqlc.narg(since)::timestamptz IS NULL OR at >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR at < sqlc.narg(until))
  AND (sqlc.narg(after_at)::timestamptz IS NULL OR (at, id) < (sqlc.narg(after_at), sqlc.narg(after_id)::bigint))
ORDER BY at DESC, id DESC
LIMIT @lim;

-- name: AuditListByRide :many
SELECT * FROM audit_log WHERE ride_id = $1 ORDER BY at, id;
