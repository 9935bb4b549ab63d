-- Idempotency keys belong to one API token, remember what they were used
-- for (a fingerprint of method, path and body) and expire after 24 hours.
-- The old keys had no owner, so no new lookup could match them: they go.
DROP TABLE api_idempotency;
CREATE TABLE api_idempotency (
    scope       text NOT NULL,
    key         text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    fingerprint bytea NOT NULL,
    status      integer NOT NULL,
    body        bytea NOT NULL, -- the answer byte for byte
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);
