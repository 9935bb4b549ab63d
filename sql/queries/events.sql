-- name: EventMarkGet :one
SELECT last_at FROM event_marks WHERE name = @name;

-- name: EventMarkDue :one
-- True when the event named has not gone out since @since: it is marked
-- as going out at @now. Concurrent callers agree on one.
INSERT INTO event_marks (name, last_at) VALUES (@name, @now::timestamptz)
ON CONFLICT (name) DO UPDATE SET last_at = EXCLUDED.last_at WHERE event_marks.last_at <= @since::timestamptz
RETURNING true;

-- name: RoutePastParty :one
-- The ride whose route last connected caller through the number and
-- stopped between @since and @now: a past party writing or calling after
-- the grace period. The routing constraint's index finds it.
SELECT r.ride_id, ri.customer_id, ri.driver_id, r.proxy_number_id,
       (r.caller_phone = c.phone)::boolean AS is_customer
FROM routes r
JOIN rides ri ON ri.id = r.ride_id
JOIN customers c ON c.id = ri.customer_id
WHERE r.proxy_number_id = (SELECT p.id FROM proxy_numbers p WHERE p.number = @proxy_number)
  AND r.caller_phone = @caller_phone
  AND upper(r.valid) <= @now::timestamptz AND upper(r.valid) > @since::timestamptz
ORDER BY upper(r.valid) DESC
LIMIT 1;

-- name: OutOfSessionReplyDue :one
-- True when phone got no answer from the number since @since: it is
-- marked as answered at @now. Concurrent texts agree on one answer.
INSERT INTO out_of_session_replies (phone, proxy_number_id, last_at) VALUES (@phone, @proxy_number_id, @now::timestamptz)
ON CONFLICT (phone, proxy_number_id) DO UPDATE SET last_at = EXCLUDED.last_at
WHERE out_of_session_replies.last_at <= @since::timestamptz
RETURNING true;

-- name: OutOfSessionForget :exec
-- Forgets answers given before @before, or to any of phones.
DELETE FROM out_of_session_replies WHERE last_at < @before::timestamptz OR phone::text = ANY(@phones::text[]);
