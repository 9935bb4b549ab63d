-- Retention and erasure: a ride whose texts, calls and routes have been
-- redacted is marked, so the periodic job passes it by.
ALTER TABLE rides ADD COLUMN redacted_at timestamptz;
CREATE INDEX rides_unredacted ON rides (expires_at) WHERE redacted_at IS NULL AND status <> 'active';
