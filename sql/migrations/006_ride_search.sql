-- The console's ride list: filter by state, search parties by name or phone.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX customers_search ON customers USING gin (name gin_trgm_ops, phone gin_trgm_ops);
CREATE INDEX drivers_search ON drivers USING gin (name gin_trgm_ops, phone gin_trgm_ops);
CREATE INDEX rides_active ON rides (created_at DESC, id DESC) WHERE status = 'active';
CREATE INDEX rides_ended ON rides (expires_at) WHERE status <> 'active';

-- The overview's messages per hour, and the sends that need an operator.
-- Keyed on columns a send never changes, so its updates stay HOT.
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_trouble ON messages (id) WHERE last_error IS NOT NULL;
