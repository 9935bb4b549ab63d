-- Every SMS BirdCar receives or sends, with its delivery state.
CREATE TABLE messages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Null for an inbound message no valid route matched.
    ride_id     bigint REFERENCES rides (id) ON DELETE CASCADE,
    direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    kind        text NOT NULL CHECK (kind IN ('notification', 'forward', 'inbound')),
    originator  text NOT NULL,
    recipient   text NOT NULL,
    body        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('received', 'unmatched', 'queued', 'sending', 'sent', 'delivered', 'failed')),
    -- MessageBird's id of an inbound message.
    received_id text,
    -- MessageBird's id of an outbound message, once it accepted it.
    provider_id text,
    -- The inbound message an outbound forward relays.
    forward_of  bigint REFERENCES messages (id) ON DELETE CASCADE,
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  text,
    -- MessageBird's statusDatetime of the newest delivery report applied.
    reported_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((direction = 'inbound') = (kind = 'inbound')),
    CHECK ((direction = 'inbound') = (status IN ('received', 'unmatched'))),
    CHECK ((kind = 'forward') = (forward_of IS NOT NULL)),
    CHECK ((direction = 'inbound') = (received_id IS NOT NULL)),
    CHECK (direction = 'outbound' OR provider_id IS NULL)
-- Room on each page for the send's status updates to stay HOT (no new
-- index entries): no index may cover a column those updates change
-- (status, provider_id, attempts, last_error), predicates included.
) WITH (fillfactor = 80);

-- MessageBird may deliver a webhook more than once: one row per inbound id,
-- and one forward per inbound row.
CREATE UNIQUE INDEX messages_received_id ON messages (received_id);
CREATE UNIQUE INDEX messages_forward_of ON messages (forward_of) WHERE forward_of IS NOT NULL;
CREATE INDEX messages_ride ON messages (ride_id, created_at, id);

-- A retried POST /api/v1/rides with the same Idempotency-Key gets the first answer.
CREATE TABLE api_idempotency (
    key        text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    status     integer NOT NULL,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
