-- name: RideRedact :exec
-- Forgets the rides' addresses, what their texts said and every phone in
-- their texts and calls (counts, times and statuses stay), and deletes
-- their routes.
WITH m AS (
    UPDATE messages SET originator = '', recipient = '', body = '',
        last_error = CASE WHEN last_error IS NULL THEN NULL ELSE 'redacted' END
    WHERE ride_id = ANY(@ride_ids::bigint[])
), c AS (
    UPDATE calls SET source = '', destination = '',
        transferred_to = CASE WHEN transferred_to IS NULL THEN NULL ELSE '' END
    WHERE ride_id = ANY(@ride_ids::bigint[])
), r AS (
    DELETE FROM routes WHERE ride_id = ANY(@ride_ids::bigint[])
)
UPDATE rides SET redacted_at = @now::timestamptz, start_address = 'redacted', destination = 'redacted'
WHERE id = ANY(@ride_ids::bigint[]);

-- name: UnmatchedRedact :exec
-- Does the same for the texts and calls no ride took: those from phones
-- (in E.164 or MessageBird's digits), and those older than before.
WITH m AS (
    UPDATE messages SET originator = '', recipient = '', body = ''
    WHERE ride_id IS NULL AND body || originator <> ''
      AND (originator = ANY(@phones::text[]) OR created_at < @before::timestamptz)
)
UPDATE calls SET source = '', destination = ''
WHERE ride_id IS NULL AND source || destination <> ''
  AND (source = ANY(@phones::text[]) OR created_at < @before::timestamptz);

-- name: RidesToRedact :many
-- Ended rides whose number stopped routing before cutoff, not yet redacted.
SELECT id FROM rides
WHERE redacted_at IS NULL AND status <> 'active' AND expires_at < @cutoff::timestamptz
ORDER BY expires_at
LIMIT @lim;

-- name: PersonRides :many
-- A person's rides, with whether any still routes at now.
SELECT r.id, (r.status = 'active' OR r.expires_at > @now::timestamptz)::boolean AS routing
FROM rides r
WHERE (@role::text = 'customer' AND r.customer_id = @id) OR (@role::text = 'driver' AND r.driver_id = @id);

-- name: PersonPastPhones :many
-- The phones a person's rides routed for them: their routes' phones that
-- are not the other party's.
SELECT DISTINCT x.phone::text FROM rides r
JOIN LATERAL (SELECT caller_phone AS phone FROM routes WHERE ride_id = r.id
              UNION SELECT callee_phone FROM routes WHERE ride_id = r.id) x ON true
WHERE (@role::text = 'customer' AND r.customer_id = @id AND x.phone <> (SELECT phone FROM drivers WHERE id = r.driver_id))
   OR (@role::text = 'driver' AND r.driver_id = @id AND x.phone <> (SELECT phone FROM customers WHERE id = r.customer_id));

-- name: PersonErase :one
-- Replaces a person's name and phone: the phone becomes +999 and the id,
-- unique and in no country's numbering plan (999 is unassigned).
WITH c AS (
    UPDATE customers SET name = 'Erased', phone = '+999' || lpad(id::text, 11, '0')
    WHERE @role::text = 'customer' AND customers.id = @id RETURNING 1
), d AS (
    UPDATE drivers SET name = 'Erased', phone = '+999' || lpad(id::text, 11, '0')
    WHERE @role::text = 'driver' AND drivers.id = @id RETURNING 1
)
SELECT count(*) FROM (SELECT 1 FROM c UNION ALL SELECT 1 FROM d) erased;

-- name: IdempotencyForget :exec
-- Forgets stored answers that mention any of texts (a person's name or phone).
DELETE FROM api_idempotency a
WHERE EXISTS (SELECT 1 FROM unnest(@texts::text[]) t WHERE position(convert_to(t, 'UTF8') IN a.body) > 0);

-- name: PersonLock :one
-- Reads a person and locks their row: FOR KEY SHARE (strength 'share',
-- the lock the rides' foreign key takes anyway) while a ride is created
-- for them or a past party is answered, FOR UPDATE ('update', which
-- conflicts with it) while they are erased, so the two never interleave.
WITH c AS (
    SELECT id, name, phone FROM customers WHERE @role::text = 'customer' AND customers.id = @id AND @strength::text = 'share' FOR KEY SHARE
), cu AS (
    SELECT id, name, phone FROM customers WHERE @role::text = 'customer' AND customers.id = @id AND @strength::text = 'update' FOR UPDATE
), d AS (
    SELECT id, name, phone FROM drivers WHERE @role::text = 'driver' AND drivers.id = @id AND @strength::text = 'share' FOR KEY SHARE
), du AS (
    SELECT id, name, phone FROM drivers WHERE @role::text = 'driver' AND drivers.id = @id AND @strength::text = 'update' FOR UPDATE
)
SELECT id, name, phone FROM c UNION ALL SELECT id, name, phone FROM cu
UNION ALL SELECT id, name, phone FROM d UNION ALL SELECT id, name, phone FROM du;

-- name: RidePartyPhones :one
-- The phones a ride's parties have now, read again once the ride's
-- foreign keys hold their rows.
SELECT (SELECT c.phone::text FROM customers c WHERE c.id = @customer_id::bigint)::text AS customer_phone,
       (SELECT d.phone::text FROM drivers d WHERE d.id = @driver_id::bigint)::text AS driver_phone;

-- name: CallRedactLate :exec
-- Blanks, as RideRedact does, the calls among call_ids whose ride was
-- redacted (or its party erased) before they were written: calls kept
-- while the database was away, or spooled, are written late. ride_ids are
-- those calls' rides: the calls are found through their rides' index,
-- not by comparing every call's id with the batch's (a backlog's batches
-- each scanned the whole table).
UPDATE calls c SET source = '', destination = '',
    transferred_to = CASE WHEN c.transferred_to IS NULL THEN NULL ELSE '' END
FROM rides r
WHERE r.id = ANY(@ride_ids::bigint[]) AND r.redacted_at IS NOT NULL AND c.ride_id = r.id
  AND c.call_id = ANY(@call_ids::text[]) AND c.source || c.destination <> '';
